package org.vireo.cli;

import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmConsole;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Boots a one-off VM from a kernel and initrd with its serial console on this terminal. "
                + "The VM is not added to the library.",
        footer = {"", "Ctrl-A x powers the VM off, Ctrl-A s asks the guest to shut down.", "", ExitCodes.HELP})
final class RunCommand extends VireoCommand.SubCommand {

    @Mixin
    VmOptions vm;

    @Option(names = "--name", description = "name of the VM (default: run-<pid>)")
    String name;

    @Option(names = "--console", paramLabel = "CHANNEL", defaultValue = VmConsole.SERIAL0,
            description = "the console channel to attach: serial0 (the serial port), or the channel of a "
                    + "virtio-console device, e.g. hvc0 (default: ${DEFAULT-VALUE})")
    String console;

    @Override
    public Integer call() throws Exception {
        String vmName = name != null ? name : "run-" + ProcessHandle.current().pid();
        VmConfig config = vm.toConfig(vmName);
        var info = manager().launch(config);
        err().println("vireo: " + vmName + " running on the " + info.backend() + " backend; Ctrl-A x to power off");
        return new ConsoleSession(manager(), vmName, console, err()).run(true);
    }
}
