package org.vireo.cli;

import java.nio.file.Path;

import org.vireo.api.vm.VmConsole;
import org.vireo.api.vm.VmInfo;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "restore", mixinStandardHelpOptions = true,
        description = {"Starts a VM from a snapshot file written by `vireo save`, in this process, with its console on "
                + "this terminal: the guest goes on where it was saved.",
            "A library VM of that name (it must be stopped) is started from the snapshot; another name runs "
                + "outside the library. The file is checked whole before anything starts."},
        footer = {"", "Ctrl-A x powers the VM off, Ctrl-A s asks the guest to shut down.", "", ExitCodes.HELP})
final class RestoreCommand extends VireoCommand.SubCommand {

    @Parameters(paramLabel = "FILE")
    Path file;

    @Option(names = "--name", paramLabel = "NAME", description = "the VM's name (default: the saved one)")
    String name;

    @Option(names = "--paused", description = "restore and leave the vCPUs paused (`vireo resume NAME` lets them go)")
    boolean paused;

    @Option(names = "--no-console", description = "do not attach the keyboard; only print the console output")
    boolean noConsole;

    @Option(names = "--console", paramLabel = "CHANNEL", defaultValue = VmConsole.SERIAL0,
            description = "the console channel to attach (default: ${DEFAULT-VALUE})")
    String console;

    @Override
    public Integer call() throws Exception {
        VmInfo info = manager().restore(file, name, paused);
        err().println("vireo: " + info.name() + " restored from " + file + " on the " + info.backend() + " backend"
                + (paused ? ", paused" : "") + (noConsole ? "" : "; Ctrl-A x to power off"));
        return new ConsoleSession(manager(), info.name(), console, err()).run(!noConsole);
    }
}
