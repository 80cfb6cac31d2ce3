package org.vireo.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.vireo.api.VireoException;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.VmConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Boots the demo guest (Debian's stock kernel with a busybox initramfs, built by "
                + "tests/guest/build-guest.sh) to a shell on this terminal.",
        footer = {"", ExitCodes.HELP})
final class DemoCommand extends VireoCommand.SubCommand {

    @Option(names = "--guest", paramLabel = "DIR",
            description = "directory holding vmlinuz and initramfs.cpio.gz (default: $VIREO_GUEST_DIR or "
                    + "~/.cache/vireo/guest/current)")
    Path guest;

    @Option(names = {"-b", "--backend"}, defaultValue = "auto", description = "kvm, emu or auto (default: ${DEFAULT-VALUE})")
    String backend;

    @Option(names = {"-m", "--memory"}, defaultValue = "256M", description = "guest RAM (default: ${DEFAULT-VALUE})")
    String memory;

    @Option(names = "--cmd", paramLabel = "COMMAND",
            description = "run COMMAND in the guest instead of a shell, then power off")
    String command;

    @Override
    public Integer call() throws Exception {
        Path dir = guest != null ? guest : defaultGuest();
        Path kernel = dir.resolve("vmlinuz");
        Path initrd = dir.resolve("initramfs.cpio.gz");
        if (!Files.isRegularFile(kernel) || !Files.isRegularFile(initrd)) {
            throw new VireoException("the demo guest is not in " + dir + " (vmlinuz and initramfs.cpio.gz); "
                    + "build it with tests/guest/build-guest.sh");
        }
        Long bytes = VmOptions.parseSize(memory);
        if (bytes == null) {
            throw new VireoException("--memory " + memory + ": expected a size like 256M or 2G");
        }
        String cmdline = "console=ttyS0 reboot=k panic=-1 quiet tsc_early_khz=2000000";
        if (command != null) {
            cmdline += " vireo.cmd=\"" + command.replace("\"", "'") + "\"";
        }
        String name = "demo-" + ProcessHandle.current().pid();
        VmConfig config = new VmConfig(name, backend, 1, bytes,
                new BootConfig(kernel.toAbsolutePath().toString(), initrd.toAbsolutePath().toString(), cmdline),
                java.util.List.of());
        var info = manager().launch(config);
        err().println("vireo: demo guest booting on the " + info.backend() + " backend; Ctrl-A x to power off");
        return new ConsoleSession(manager(), name, err()).run(command == null);
    }

    static Path defaultGuest() {
        String env = System.getenv("VIREO_GUEST_DIR");
        if (env != null && !env.isBlank()) {
            return Paths.get(env);
        }
        return Paths.get(System.getProperty("user.home"), ".cache", "vireo", "guest", "current");
    }
}
