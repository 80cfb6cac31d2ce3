package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.board.BoardInstance;
import org.vireo.api.bus.IoBus;
import org.vireo.api.cpu.Vcpu;
import org.vireo.api.device.ConsoleChannel;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.pci.PciBus;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmConsole;
import org.vireo.api.vm.VmState;
import org.vireo.core.BasicMachine;
import org.vireo.core.VmManagerImpl;
import org.vireo.core.bus.AddressSpace;
import org.vireo.core.memory.MappedGuestMemory;
import org.vireo.x86.PcBoard;
import org.vireo.x86.dev.TestDevice;
import org.vireo.x86.dev.TestDeviceFactory;

/**
 * tests/kvm-guest's bare-metal test guest on the software CPU with one vCPU and the test
 * device: MMIO, an interrupt through the IOAPIC and the local APIC, the MP table, a port I/O
 * loop, and a reset through the i8042. The guest checks each step itself and prints a line;
 * here the lines, the reset and the verdict it posts in the device's RESULT register are
 * checked. The guest is built by the Maven build (tests/kvm-guest/build.sh).
 */
class TestGuestTest {

    /** A guard against a hung guest, not a speed check. */
    private static final long TIMEOUT_MILLIS = 120_000;
    private static final long MEMORY = 64L << 20;

    /** The guest's lines with one vCPU, in order; a pattern where the line carries a measurement. */
    private static final List<String> EXPECTED_LINES = List.of(
            Pattern.quote("testguest: start"),
            Pattern.quote("testguest: mmio ok id=VTST"),
            Pattern.quote("testguest: irq ok vector=0x30"),
            Pattern.quote("testguest: mp table cpus=1"),
            Pattern.quote("testguest: smp ok cpus=1"),
            Pattern.quote("testguest: pio loop writes=100000 tsc=") + "\\d+",
            Pattern.quote("testguest: done"));

    @Test
    void passesEveryCheckAndResetsTheMachine() throws Exception {
        try (Run run = new Run(testGuest())) {
            String end = run.run(TIMEOUT_MILLIS);
            String out = run.console();
            assertEquals("stopped: [RESET: the guest reset the machine]", end,
                    "the guest should end by resetting through the i8042; console:\n" + out);
            assertLines(out);
            assertEquals(0, run.device.result(), "RESULT the guest posted; console:\n" + out);
            assertEquals(100_000, run.device.portWrites(), "writes to the test device's port");
        }
    }

    /** The same guest through the runtime: config validation, the device factory, vCPU threads. */
    @Test
    void runsThroughTheVmManagerWithTheTestDevice(@TempDir Path tmp) throws Exception {
        VmManagerImpl manager = new VmManagerImpl(tmp.resolve("lib"));
        manager.addCpuBackend(new EmuBackend());
        manager.addBoard(new PcBoard());
        manager.addDeviceFactory(new TestDeviceFactory());
        VmConfig config = new VmConfig("testguest", EmuBackend.TYPE, 1, MEMORY,
                new BootConfig(testGuest().toString(), null, ""),
                List.of(new DeviceConfig(TestDevice.TYPE, "testdev0", Map.of())));
        assertEquals(List.of(), manager.validate(config));

        // The console is taken when the VM turns RUNNING, before its vCPU threads start, so no
        // output is missed; its history still holds every line after the VM has stopped.
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
        assertLines(out);
        assertEquals(List.of("STARTING", "RUNNING", "STOPPING: the guest reset the machine",
                "STOPPED: the guest reset the machine"), transitions);
    }

    private static void assertLines(String out) {
        List<String> lines = out.lines().filter(l -> l.startsWith("testguest:")).toList();
        assertEquals(EXPECTED_LINES.size(), lines.size(), "the guest's lines:\n" + out);
        for (int i = 0; i < lines.size(); i++) {
            assertTrue(lines.get(i).matches(EXPECTED_LINES.get(i)),
                    "line " + (i + 1) + " should match " + EXPECTED_LINES.get(i) + "; the guest printed:\n" + out);
        }
    }

    /**
     * testguest.elf as the build made it: the directory in {@code vireo.testguest.dir} (set by
     * this bundle's pom), else the build's output under the checkout.
     */
    static Path testGuest() {
        String dir = System.getProperty("vireo.testguest.dir");
        Path elf = dir != null && !dir.isBlank() ? Paths.get(dir, "testguest.elf")
                : Paths.get(System.getProperty("vireo.repo.root", "."), "tests", "org.vireo.cpu.emu.tests", "target",
                        "kvm-guest", "testguest.elf");
        if (!Files.isRegularFile(elf)) {
            throw new IllegalStateException("the test guest " + elf + " is missing: build it with"
                    + " tests/kvm-guest/build.sh DIR (the Maven build of this bundle does)");
        }
        return elf;
    }

    /**
     * The PC board, the software CPU and a test device, assembled by hand as the runtime
     * assembles a VM, so that the test can read the device afterwards.
     */
    private static final class Run implements AutoCloseable {
        final GuestMemory memory;
        final AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "testguest");
        final AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "testguest");
        final EmuEngine engine;
        final EmuVcpu vcpu;
        final TestDevice device;
        private final ByteArrayOutputStream console = new ByteArrayOutputStream();
        private final List<String> stops = new ArrayList<>();
        private volatile boolean stopRequested;

        Run(Path kernel) throws Exception {
            PcBoard pc = new PcBoard();
            memory = new MappedGuestMemory(pc.ramRanges(MEMORY));
            Machine machine = new BasicMachine("testguest", memory, pio, mmio, (reason, detail) -> {
                synchronized (stops) {
                    stops.add(reason + ": " + detail);
                }
                stopRequested = true;
                kick();
            });
            engine = new EmuEngine(machine, 1, true);
            vcpu = (EmuVcpu) engine.vcpus().get(0);
            DeviceContext context = new DeviceContext() {
                @Override
                public Machine machine() {
                    return machine;
                }

                @Override
                public IrqChip irqChip() {
                    return engine.irqChip();
                }

                @Override
                public PciBus pciBus() {
                    throw new IllegalStateException("no PCI in this test");
                }

                @Override
                public Path resolve(String path) {
                    return Paths.get(path);
                }

                @Override
                public ConsoleChannel console(String name) {
                    return new ConsoleChannel() {
                        @Override
                        public void output(byte[] data, int offset, int length) {
                            synchronized (console) {
                                console.write(data, offset, length);
                            }
                        }

                        @Override
                        public int readInput() {
                            return -1;
                        }

                        @Override
                        public void onInput(Runnable listener) {
                        }
                    };
                }
            };
            BoardInstance board = pc.build(machine, context);
            device = (TestDevice) new TestDeviceFactory().create(context,
                    new DeviceConfig(TestDevice.TYPE, "testdev0", Map.of()));
            vcpu.setState(board.boot(kernel, null, "", 1).get(0));
        }

        private void kick() {
            if (vcpu != null) {
                vcpu.kick();
            }
        }

        String console() {
            synchronized (console) {
                return console.toString(StandardCharsets.ISO_8859_1).replace("\r\n", "\n");
            }
        }

        /** Runs the vCPU until the machine stops or {@code timeoutMillis} pass; says how it ended. */
        String run(long timeoutMillis) throws Exception {
            long deadline = System.currentTimeMillis() + timeoutMillis;
            Thread watchdog = new Thread(() -> {
                try {
                    Thread.sleep(timeoutMillis);
                    vcpu.kick();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "testguest-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
            try {
                while (true) {
                    Vcpu.Exit exit = vcpu.run();
                    if (exit == Vcpu.Exit.SHUTDOWN) {
                        return "triple fault";
                    }
                    if (stopRequested) {
                        synchronized (stops) {
                            return "stopped: " + stops;
                        }
                    }
                    if (System.currentTimeMillis() > deadline) {
                        return "timeout";
                    }
                }
            } finally {
                watchdog.interrupt();
            }
        }

        @Override
        public void close() {
            engine.close();
            memory.close();
        }
    }
}
