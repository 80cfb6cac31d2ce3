package org.vireo.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "stop", mixinStandardHelpOptions = true,
        description = "Stops a running VM: asks the guest to shut down (Ctrl-Alt-Del) and powers it off if it "
                + "has not stopped after 30 s, or at once with --force.",
        footer = {"", ExitCodes.HELP})
final class StopCommand extends VireoCommand.SubCommand {

    @Parameters(paramLabel = "NAME")
    String name;

    @Option(names = {"-f", "--force"}, description = "power off at once")
    boolean force;

    @Override
    public Integer call() throws Exception {
        manager().stop(name, force);
        out().println("stopped " + name);
        return ExitCodes.OK;
    }
}
