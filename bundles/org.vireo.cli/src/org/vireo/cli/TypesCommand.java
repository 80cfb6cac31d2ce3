package org.vireo.cli;

import java.util.Map;

import picocli.CommandLine.Command;

@Command(name = "types", mixinStandardHelpOptions = true,
        description = "Lists the installed CPU backends and device types.")
final class TypesCommand extends VireoCommand.SubCommand {

    @Override
    public Integer call() {
        print("CPU backends", manager().cpuBackends());
        print("Device types", manager().deviceTypes());
        return ExitCodes.OK;
    }

    private void print(String title, Map<String, String> types) {
        out().println(title + ":");
        if (types.isEmpty()) {
            out().println("  (none installed)");
        }
        types.forEach((type, description) -> out().printf("  %-14s %s%n", type, description));
    }
}
