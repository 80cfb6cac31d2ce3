package org.vireo.cli;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import org.vireo.api.vm.VmInfo;

import picocli.CommandLine.Command;

@Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true,
        description = "Lists the VMs of the library and their states.")
final class ListCommand extends VireoCommand.SubCommand {

    @Override
    public Integer call() {
        List<VmInfo> vms = manager().list();
        if (vms.isEmpty()) {
            out().println("no VMs in " + manager().library() + " (create one with `vireo create`)");
            return ExitCodes.OK;
        }
        String format = "%-20s %-9s %-7s %5s %8s  %s%n";
        out().printf(format, "NAME", "STATE", "BACKEND", "VCPUS", "MEMORY", "SINCE");
        for (VmInfo vm : vms) {
            out().printf(format, vm.name(), vm.state().name().toLowerCase(java.util.Locale.ROOT),
                    vm.backend() == null ? "-" : vm.backend(),
                    vm.config() == null ? "?" : Integer.toString(vm.config().vcpus()),
                    vm.config() == null ? "?" : ShowCommand.size(vm.config().memoryBytes()), ago(vm.since()));
        }
        return ExitCodes.OK;
    }

    static String ago(Instant since) {
        if (since == null) {
            return "-";
        }
        Duration d = Duration.between(since, Instant.now());
        if (d.toDays() > 0) {
            return d.toDays() + "d ago";
        }
        if (d.toHours() > 0) {
            return d.toHours() + "h ago";
        }
        if (d.toMinutes() > 0) {
            return d.toMinutes() + "m ago";
        }
        return Math.max(0, d.toSeconds()) + "s ago";
    }
}
