package org.vireo.cpu.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vireo.api.VireoException;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmConsole;
import org.vireo.api.vm.VmState;
import org.vireo.core.VmManagerImpl;
import org.vireo.x86.PcBoard;
import org.vireo.x86.dev.TestDeviceFactory;

/**
 * Whole VMs on KVM through the runtime (VmManagerImpl: config, board, devices, one thread per
 * vCPU): tests/kvm-guest's bare-metal guest on 2 vCPUs, and pause, resume and power-off of a
 * guest that never stops by itself. Skipped where /dev/kvm is missing or unusable.
 */
class KvmGuestTest {

    private static final long MEMORY = 64L << 20;
    private static final long TIMEOUT_MILLIS = 60_000;

    @TempDir
    Path tmp;
    private VmManagerImpl manager;

    @BeforeEach
    void setUp() {
        KvmMachine.assumeKvm();
        manager = new VmManagerImpl(tmp.resolve("lib"));
        manager.addCpuBackend(new KvmBackend());
        manager.addBoard(new PcBoard());
        manager.addDeviceFactory(new TestDeviceFactory());
    }

    @Test
    void theTestGuestPassesOnTwoVcpus() throws Exception {
        VmConfig config = new VmConfig("testguest", KvmBackend.TYPE, 2, MEMORY,
                new BootConfig(testGuest().toString(), null, ""), List.of(new DeviceConfig("testdev", "t0", Map.of())));
        assertEquals(List.of(), manager.validate(config));
        AtomicReference<VmConsole> console = new AtomicReference<>();
        List<String> transitions = new CopyOnWriteArrayList<>();
        try (AutoCloseable listener = manager.addListener(e -> {
            transitions.add(e.to() + (e.message() == null ? "" : ": " + e.message()));
            if (e.to() == VmState.RUNNING) {
                try {
                    console.set(manager.console(e.vmName()));
                } catch (VireoException notRunning) {
                    throw new IllegalStateException(notRunning);
                }
            }
        })) {
            manager.launch(config);
            assertEquals(VmState.STOPPED, manager.awaitStop("testguest", TIMEOUT_MILLIS));
        }
        String out = new String(console.get().history(), StandardCharsets.ISO_8859_1).replace("\r\n", "\n");
        List<String> lines = out.lines().filter(l -> l.startsWith("testguest:")).toList();
        assertEquals(List.of("testguest: start", "testguest: mmio ok id=VTST", "testguest: irq ok vector=0x30",
                "testguest: mp table cpus=2", "testguest: ap up apic=1", "testguest: smp ok cpus=2"),
                lines.subList(0, Math.min(6, lines.size())), out);
        assertTrue(lines.size() == 8 && lines.get(6).matches("testguest: pio loop writes=100000 tsc=\\d+")
                && lines.get(7).equals("testguest: done"), out);
        assertEquals(List.of("STARTING", "RUNNING", "STOPPING: the guest reset the machine",
                "STOPPED: the guest reset the machine"), transitions);
    }

    @Test
    void pauseResumeAndPowerOffKickBothVcpusOutOfTheGuest() throws Exception {
        Path spin = tmp.resolve("spin.elf");
        Files.write(spin, spinningElf());
        VmConfig config = new VmConfig("spinner", KvmBackend.TYPE, 2, MEMORY, new BootConfig(spin.toString(), null, ""),
                List.of());
        List<String> transitions = new CopyOnWriteArrayList<>();
        try (AutoCloseable listener = manager.addListener(e -> transitions.add(e.to().toString()))) {
            manager.launch(config);
            assertEquals(VmState.RUNNING, manager.find("spinner").orElseThrow().state());
            for (int round = 0; round < 3; round++) {
                manager.pause("spinner");
                assertEquals(VmState.PAUSED, manager.find("spinner").orElseThrow().state());
                manager.resume("spinner");
                assertEquals(VmState.RUNNING, manager.find("spinner").orElseThrow().state());
            }
            manager.stop("spinner", true); // returns when the VM has stopped
        }
        assertEquals(List.of("STARTING", "RUNNING", "PAUSED", "RUNNING", "PAUSED", "RUNNING", "PAUSED", "RUNNING",
                "STOPPING", "STOPPED"), transitions);
    }

    /** A minimal ELF64 executable: one PT_LOAD at 1 MiB holding {@code jmp $} at its entry. */
    private static byte[] spinningElf() {
        int code = 64 + 56;
        ByteBuffer b = ByteBuffer.allocate(code + 2).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}).position(16);
        b.putShort((short) 2).putShort((short) 62).putInt(1); // ET_EXEC, EM_X86_64, EV_CURRENT
        b.putLong(0x100000 + code).putLong(64).putLong(0); // e_entry, e_phoff, e_shoff
        b.putInt(0).putShort((short) 64).putShort((short) 56).putShort((short) 1); // flags, ehsize, phentsize, phnum
        b.putShort((short) 0).putShort((short) 0).putShort((short) 0);
        b.putInt(1).putInt(5); // PT_LOAD, R+X
        b.putLong(0).putLong(0x100000).putLong(0x100000).putLong(code + 2).putLong(code + 2).putLong(0x1000);
        b.put((byte) 0xeb).put((byte) 0xfe);
        return b.array();
    }

    static Path testGuest() {
        String dir = System.getProperty("vireo.testguest.dir");
        Path elf = dir != null && !dir.isBlank() ? Paths.get(dir, "testguest.elf")
                : Paths.get(System.getProperty("vireo.repo.root", "."), "tests", "org.vireo.cpu.kvm.tests", "target",
                        "kvm-guest", "testguest.elf");
        if (!Files.isRegularFile(elf)) {
            throw new IllegalStateException("the test guest " + elf + " is missing: build it with"
                    + " tests/kvm-guest/build.sh DIR (the Maven build of this bundle does)");
        }
        return elf;
    }
}
