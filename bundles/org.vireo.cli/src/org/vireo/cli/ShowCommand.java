package org.vireo.cli;

import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.NoSuchVmException;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmInfo;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "show", mixinStandardHelpOptions = true, description = "Shows a VM's config and state.",
        footer = {"", ExitCodes.HELP})
final class ShowCommand extends VireoCommand.SubCommand {

    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() throws Exception {
        VmInfo info = manager().find(name).orElseThrow(() -> new NoSuchVmException("no VM named '" + name
                + "' in " + manager().library()));
        out().println("name:      " + info.name());
        out().println("state:     " + info.state().name().toLowerCase(java.util.Locale.ROOT) + " (since "
                + info.since() + ", " + ListCommand.ago(info.since()) + ")");
        if (info.message() != null) {
            out().println("message:   " + info.message());
        }
        if (info.backend() != null) {
            out().println("backend:   " + info.backend() + " (process " + info.pid() + ")");
        }
        if (info.directory() != null) {
            out().println("directory: " + info.directory());
        }
        VmConfig c = info.config();
        if (c != null) {
            out().println("cpu:       " + c.cpu() + ", " + c.vcpus() + " vCPU" + (c.vcpus() == 1 ? "" : "s"));
            out().println("memory:    " + size(c.memoryBytes()));
            out().println("kernel:    " + c.boot().kernel());
            out().println("initrd:    " + (c.boot().initrd() == null ? "-" : c.boot().initrd()));
            out().println("cmdline:   " + c.boot().cmdline());
            for (DeviceConfig d : c.devices()) {
                out().println("device:    " + d.id() + " (" + d.type() + ") " + d.options());
            }
        }
        return ExitCodes.OK;
    }

    static String size(long bytes) {
        if (bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        return (bytes >> 20) + " MiB";
    }
}
