package org.vireo.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.board.Board;
import org.vireo.api.board.BoardInstance;
import org.vireo.api.cpu.CpuBackend;
import org.vireo.api.cpu.CpuEngine;
import org.vireo.api.cpu.Vcpu;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.device.ConsoleChannel;
import org.vireo.api.device.Device;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.memory.RamRange;
import org.vireo.api.pci.PciBus;
import org.vireo.api.vm.BalloonControl;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmConsole;
import org.vireo.api.vm.VmManager;
import org.vireo.core.VmManagerImpl;

/**
 * Named console channels and published device controls, through the manager: each name a
 * device asks for is its own channel, "serial0" stays the main console, a channel nobody asked
 * for is an error that names those there are, and a published balloon is found through
 * {@link VmManager#balloon} and the control socket. A stand-in board plays the devices.
 */
class ConsoleChannelsTest {

    @TempDir
    Path tmp;

    private final Map<String, ConsoleChannel> channels = new ConcurrentHashMap<>();
    private final FakeBalloon balloon = new FakeBalloon();
    private VmManagerImpl manager;

    @AfterEach
    void stopEverything() throws Exception {
        for (var info : manager.list()) {
            if (info.state().isActive()) {
                manager.stop(info.name(), true);
            }
        }
    }

    private VmConfig start(boolean library) throws Exception {
        manager = new VmManagerImpl(tmp.resolve("lib"));
        manager.addCpuBackend(new WaitingBackend());
        manager.addBoard(new ChannelBoard());
        Files.write(tmp.resolve("vmlinuz"), new byte[] {1});
        VmConfig config = new VmConfig("vm", "auto", 1, 32L << 20,
                new BootConfig(tmp.resolve("vmlinuz").toString(), null, ""), List.of());
        if (library) {
            manager.create(config);
            manager.start("vm");
        } else {
            manager.launch(config);
        }
        return config;
    }

    @Test
    void everyChannelNameIsItsOwnConsole() throws Exception {
        start(false);
        assertEquals(List.of(VmConsole.SERIAL0, "hvc0"), manager.consoleChannels("vm"));
        VmConsole serial = manager.console("vm");
        VmConsole hvc = manager.console("vm", "hvc0");
        assertSame(serial, manager.console("vm", VmConsole.SERIAL0), "serial0 is the main console");
        assertNotSame(serial, hvc);

        channels.get("hvc0").output("to hvc0\n".getBytes(StandardCharsets.US_ASCII), 0, 8);
        channels.get(VmConsole.SERIAL0).output("to serial0\n".getBytes(StandardCharsets.US_ASCII), 0, 11);
        assertEquals("to hvc0\n", new String(hvc.history(), StandardCharsets.US_ASCII));
        assertEquals("to serial0\n", new String(serial.history(), StandardCharsets.US_ASCII));

        hvc.input(new byte[] {'k'});
        assertEquals(-1, channels.get(VmConsole.SERIAL0).readInput(), "input typed into hvc0 is not serial0's");
        assertEquals('k', channels.get("hvc0").readInput());

        VireoException e = assertThrows(VireoException.class, () -> manager.console("vm", "hvc7"));
        assertTrue(e.getMessage().contains("no console channel 'hvc7'") && e.getMessage().contains("[serial0, hvc0]"),
                e.getMessage());
        assertSame(balloon, manager.balloon("vm").orElseThrow(), "the control the device published");

        manager.stop("vm", true);
        assertThrows(VireoException.class, () -> manager.console("vm", "hvc0"), "not running any more");
    }

    @Test
    void theControlSocketSetsAndShowsTheBalloon() throws Exception {
        start(true);
        Path dir = tmp.resolve("lib/vms/vm");
        ControlSocket.command(dir, "balloon 64");
        assertEquals(64 * 256, balloon.target);
        String status = exchange(dir, "balloon");
        assertEquals("{\"targetPages\":16384,\"actualPages\":512,\"targetMiB\":64,\"actualMiB\":2,"
                + "\"statsReceived\":\"1970-01-01T00:00:00Z\",\"stats\":{\"free-memory\":1048576}}", status);
        VireoException e = assertThrows(VireoException.class, () -> ControlSocket.command(dir, "balloon lots"));
        assertTrue(e.getMessage().contains("expected MiB"), e.getMessage());
        e = assertThrows(VireoException.class, () -> ControlSocket.command(dir, "balloon pages -1"));
        assertTrue(e.getMessage().contains("expected pages") && e.getMessage().contains("negative"), e.getMessage());
        ControlSocket.command(dir, "balloon stats");
        assertEquals(1, balloon.statsRequests);
    }

    @Test
    void anotherProcessReachesTheBalloonThroughTheControlSocket() throws Exception {
        start(true);
        BalloonControl remote = RemoteBalloon.connect(tmp.resolve("lib/vms/vm")).orElseThrow();
        remote.setTargetPages(1000);
        assertEquals(1000, balloon.target);
        assertEquals(1000, remote.targetPages());
        assertEquals(512, remote.actualPages());
        assertEquals(balloon.latestStats(), remote.latestStats());
        remote.requestStats();
        assertEquals(1, balloon.statsRequests);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> remote.setTargetPages(-5));
        assertTrue(e.getMessage().contains("negative"), e.getMessage());
    }

    private static String exchange(Path dir, String request) throws Exception {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("control.sock")))) {
            OutputStream out = Channels.newOutputStream(channel);
            out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            return new String(Channels.newInputStream(channel).readAllBytes(), StandardCharsets.UTF_8).trim();
        }
    }

    static final class FakeBalloon implements BalloonControl {
        volatile int target;
        volatile int statsRequests;

        @Override
        public int targetPages() {
            return target;
        }

        @Override
        public void setTargetPages(int pages) {
            if (pages < 0) {
                throw new IllegalArgumentException("negative");
            }
            target = pages;
        }

        @Override
        public int actualPages() {
            return 512;
        }

        @Override
        public Optional<Stats> latestStats() {
            return Optional.of(new Stats(java.time.Instant.EPOCH, Map.of(FREE_MEMORY, 1L << 20)));
        }

        @Override
        public void requestStats() {
            statsRequests++;
        }
    }

    /** A board whose "devices" ask for two console channels and publish a balloon. */
    final class ChannelBoard implements Board {
        @Override
        public String type() {
            return "pc";
        }

        @Override
        public List<RamRange> ramRanges(long bytes) {
            return List.of(new RamRange(0, bytes));
        }

        @Override
        public BoardInstance build(Machine m, DeviceContext context) {
            channels.put(VmConsole.SERIAL0, context.console(VmConsole.SERIAL0));
            channels.put("hvc0", context.console("hvc0"));
            context.publish(BalloonControl.class, balloon);
            return new BoardInstance() {
                @Override
                public List<Device> devices() {
                    return List.of();
                }

                @Override
                public PciBus pciBus() {
                    return null;
                }

                @Override
                public List<X86CpuState> boot(Path kernel, Path initrd, String cmdline, int n) {
                    return List.of(new X86CpuState());
                }

                @Override
                public void requestShutdown() {
                }
            };
        }
    }

    /** vCPUs that wait until kicked. */
    static final class WaitingBackend implements CpuBackend {
        @Override
        public String type() {
            return "waiting";
        }

        @Override
        public String description() {
            return "test vCPUs that wait";
        }

        @Override
        public Availability availability() {
            return Availability.usable("always");
        }

        @Override
        public int maxVcpus() {
            return 1;
        }

        @Override
        public CpuEngine create(Machine m, int count) {
            Vcpu vcpu = new Vcpu() {
                private boolean kicked;

                @Override
                public int index() {
                    return 0;
                }

                @Override
                public X86CpuState getState() {
                    return new X86CpuState();
                }

                @Override
                public void setState(X86CpuState s) {
                }

                @Override
                public synchronized Exit run() {
                    while (!kicked) {
                        try {
                            wait();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            break;
                        }
                    }
                    kicked = false;
                    return Exit.KICKED;
                }

                @Override
                public synchronized void kick() {
                    kicked = true;
                    notifyAll();
                }
            };
            return new StandInEngine(List.of(vcpu));
        }
    }
}
