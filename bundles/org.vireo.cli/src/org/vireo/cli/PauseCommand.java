package org.vireo.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "pause", mixinStandardHelpOptions = true, description = "Pauses a running VM's vCPUs.",
        footer = {"", ExitCodes.HELP})
final class PauseCommand extends VireoCommand.SubCommand {

    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() throws Exception {
        manager().pause(name);
        out().println("paused " + name);
        return ExitCodes.OK;
    }
}
