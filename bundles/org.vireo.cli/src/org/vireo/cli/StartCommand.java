package org.vireo.cli;

import org.vireo.api.vm.VmConsole;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "start", mixinStandardHelpOptions = true,
        description = "Starts a VM of the library in this process, with its serial console on this terminal. "
                + "Other vireo commands (list, stop, pause) reach it while it runs.",
        footer = {"", "Ctrl-A x powers the VM off, Ctrl-A s asks the guest to shut down.", "", ExitCodes.HELP})
final class StartCommand extends VireoCommand.SubCommand {

    @Parameters(paramLabel = "NAME")
    String name;

    @Option(names = "--no-console", description = "do not attach the keyboard; only print the console output")
    boolean noConsole;

    @Option(names = "--console", paramLabel = "CHANNEL", defaultValue = VmConsole.SERIAL0,
            description = "the console channel to attach: serial0 (the serial port), or the channel of a "
                    + "virtio-console device, e.g. hvc0 (default: ${DEFAULT-VALUE})")
    String console;

    @Override
    public Integer call() throws Exception {
        var info = manager().start(name);
        err().println("vireo: " + name + " running on the " + info.backend() + " backend"
                + (noConsole ? "" : "; Ctrl-A x to power off"));
        return new ConsoleSession(manager(), name, console, err()).run(!noConsole);
    }
}
