package org.vireo.cpu.emu;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import org.vireo.api.Machine;
import org.vireo.api.board.BoardInstance;
import org.vireo.api.bus.IoBus;
import org.vireo.api.cpu.Vcpu;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.device.ConsoleChannel;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.pci.PciBus;
import org.vireo.core.BasicMachine;
import org.vireo.core.bus.AddressSpace;
import org.vireo.core.memory.MappedGuestMemory;
import org.vireo.x86.PcBoard;

/**
 * The test guest (Debian's kernel and the busybox initramfs) on the PC board and the
 * software CPU, assembled as the runtime assembles a VM, with the serial console captured.
 */
final class GuestRun implements AutoCloseable {

    static final String MARKER = "VIREO-GUEST-READY";

    final GuestMemory memory;
    final AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "guest");
    final AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "guest");
    final EmuEngine engine;
    final EmuVcpu vcpu;
    final BoardInstance board;
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    final List<String> stops = new ArrayList<>();
    private volatile boolean stopRequested;

    GuestRun(String cmdline, long memoryBytes, boolean deterministic) throws Exception {
        Path guest = guestDirectory();
        PcBoard pc = new PcBoard();
        memory = new MappedGuestMemory(pc.ramRanges(memoryBytes));
        Machine machine = new BasicMachine("guest", memory, pio, mmio, (reason, detail) -> {
            synchronized (stops) {
                stops.add(reason + ": " + detail);
            }
            stopRequested = true;
            vcpuKick();
        });
        engine = new EmuEngine(machine, 1, deterministic);
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
                return null;
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
        board = pc.build(machine, context);
        List<X86CpuState> states = board.boot(guest.resolve("vmlinuz"), guest.resolve("initramfs.cpio.gz"),
                cmdline, 1);
        vcpu.setState(states.get(0));
    }

    private void vcpuKick() {
        if (vcpu != null) {
            vcpu.kick();
        }
    }

    static Path guestDirectory() {
        String cache = System.getProperty("vireo.guest.cache",
                Paths.get(System.getProperty("user.home"), ".cache", "vireo", "guest").toString());
        Path dir = Paths.get(cache, "current");
        if (!Files.isRegularFile(dir.resolve("vmlinuz")) || !Files.isRegularFile(dir.resolve("initramfs.cpio.gz"))) {
            throw new IllegalStateException("the test guest is missing in " + dir
                    + ": build it with tests/guest/build-guest.sh (or set -Dvireo.guest.cache)");
        }
        return dir;
    }

    String console() {
        synchronized (console) {
            return console.toString(StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * Runs the vCPU on this thread until {@code until} appears on the console, the machine
     * stops, or {@code timeoutMillis} pass (a guard against hangs, not a speed check).
     *
     * @return how the run ended: "found", "stopped: ...", "shutdown", "timeout"
     */
    String runUntil(String until, long timeoutMillis) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        Thread watchdog = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    Thread.sleep(50);
                    if ((until != null && console().contains(until)) || System.currentTimeMillis() > deadline) {
                        vcpu.kick();
                        return;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "guest-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        try {
            while (true) {
                Vcpu.Exit exit = vcpu.run();
                if (exit == Vcpu.Exit.SHUTDOWN) {
                    return "shutdown";
                }
                if (stopRequested) {
                    synchronized (stops) {
                        return "stopped: " + stops;
                    }
                }
                if (until != null && console().contains(until)) {
                    return "found";
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
