package org.vireo.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true,
        description = "Removes a stopped VM from the library (its directory and config). Disk images it uses "
                + "from elsewhere are left alone.",
        footer = {"", ExitCodes.HELP})
final class DeleteCommand extends VireoCommand.SubCommand {

    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() throws Exception {
        manager().delete(name);
        out().println("deleted " + name);
        return ExitCodes.OK;
    }
}
