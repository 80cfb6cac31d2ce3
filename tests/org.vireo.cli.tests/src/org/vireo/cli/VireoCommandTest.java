package org.vireo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vireo.core.VmManagerImpl;

/** The vireo command against a real VM manager over a temporary library. */
class VireoCommandTest {

    @TempDir
    Path tmp;

    private String out;
    private String err;

    private int vireo(String... args) {
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        VmManagerImpl manager = new VmManagerImpl(tmp.resolve("lib"));
        int code = VireoCommand.execute(args, () -> manager, new PrintWriter(o, true), new PrintWriter(e, true));
        out = o.toString();
        err = e.toString();
        return code;
    }

    @Test
    void helpListsTheSubcommandsAndExitCodes() {
        assertEquals(0, vireo("--help"));
        for (String command : new String[] {"run", "demo", "create", "list", "show", "start", "stop", "delete"}) {
            assertTrue(out.contains("  " + command), command + " missing from:\n" + out);
        }
        assertTrue(out.contains("69 no usable CPU backend"), out);
        assertEquals(0, vireo("run", "--help"));
        assertTrue(out.contains("--kernel") && out.contains("--initrd") && out.contains("--append")
                && out.contains("--memory") && out.contains("--cpus") && out.contains("--backend"), out);
    }

    @Test
    void runAndStartAttachAConsoleChannelOfChoice() {
        for (String command : new String[] {"run", "start"}) {
            assertEquals(0, vireo(command, "--help"));
            assertTrue(out.contains("--console=CHANNEL") && out.contains("hvc0") && out.contains("default: serial0"),
                    command + ":\n" + out);
        }
    }

    @Test
    void balloonSaysWhatItDoesAndRefusesAVmThatIsNotRunning() {
        assertEquals(0, vireo("balloon", "--help"));
        assertTrue(out.contains("virtio-balloon") && out.contains("SIZE") && out.contains("--wait"), out);
        assertEquals(4, vireo("balloon", "no-such-vm", "64M"));
    }

    @Test
    void aWrongCommandLineExitsWithTwo() {
        assertEquals(2, vireo("frobnicate"));
        assertEquals(2, vireo("run", "--cpus", "many"));
        assertEquals(2, vireo());
    }

    @Test
    void createListShowDeleteThroughTheCommand() throws Exception {
        Path kernel = Files.write(tmp.resolve("vmlinuz"), new byte[] {1});
        assertEquals(0, vireo("create", "web", "--kernel", kernel.toString(), "--memory", "512M", "--cpus", "2"));
        assertTrue(out.startsWith("created web in "), out);
        assertEquals(0, vireo("list"));
        assertTrue(out.contains("web") && out.contains("stopped") && out.contains("512 MiB"), out);
        assertEquals(0, vireo("show", "web"));
        assertTrue(out.contains("cpu:       auto, 2 vCPUs") && out.contains("kernel:    " + kernel), out);
        assertEquals(1, vireo("create", "web", "--kernel", kernel.toString()));
        assertTrue(err.contains("already exists"), err);
        assertEquals(0, vireo("delete", "web"));
        assertEquals(4, vireo("show", "web"));
        assertTrue(err.contains("no VM named 'web'"), err);
    }

    @Test
    void anInvalidConfigExitsWithThreeAndNamesTheField() throws Exception {
        Path file = tmp.resolve("vm.json");
        Files.writeString(file, "{\"name\": \"x\", \"vcpus\": 0, \"boot\": {\"kernel\": \"k\"}}");
        assertEquals(3, vireo("create", "--config", file.toString()));
        assertTrue(err.contains("vcpus: 0; expected a whole number from 1 to 255"), err);
        assertEquals(3, vireo("create", "y", "--kernel", tmp.resolve("nope").toString()));
        assertTrue(err.contains("boot.kernel") && err.contains("no such file"), err);
    }

    @Test
    void runWithoutACpuBackendSaysSoAndExitsWith69() throws Exception {
        Path kernel = Files.write(tmp.resolve("vmlinuz"), new byte[] {1});
        assertEquals(69, vireo("run", "--kernel", kernel.toString()));
        assertTrue(err.contains("no CPU backend is installed"), err);
    }

    @Test
    void stoppingAVmThatIsNotRunningIsAnError() throws Exception {
        Path kernel = Files.write(tmp.resolve("vmlinuz"), new byte[] {1});
        vireo("create", "idle", "--kernel", kernel.toString());
        assertEquals(1, vireo("stop", "idle"));
        assertTrue(err.contains("'idle' is stopped, not running"), err);
    }
}
