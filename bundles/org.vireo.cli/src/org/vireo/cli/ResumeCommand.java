package org.vireo.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "resume", mixinStandardHelpOptions = true, description = "Resumes a paused VM.",
        footer = {"", ExitCodes.HELP})
final class ResumeCommand extends VireoCommand.SubCommand {

    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() throws Exception {
        manager().resume(name);
        out().println("resumed " + name);
        return ExitCodes.OK;
    }
}
