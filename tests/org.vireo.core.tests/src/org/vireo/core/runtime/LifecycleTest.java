package org.vireo.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

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
import org.vireo.api.cpu.VcpuException;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.device.Device;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.memory.RamRange;
import org.vireo.api.pci.PciBus;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmEvent;
import org.vireo.api.vm.VmInfo;
import org.vireo.api.vm.VmState;
import org.vireo.core.VmManagerImpl;

/**
 * The lifecycle state machine, with a stand-in CPU backend whose vCPUs idle until kicked (the
 * real backends come with their own bundles and tests) and a board with no devices. What is
 * real here: threads, pause/resume handshakes, stop paths, events, the control socket.
 */
class LifecycleTest {

    @TempDir
    Path tmp;

    private final List<VmEvent> events = new CopyOnWriteArrayList<>();
    private final AtomicReference<String> failure = new AtomicReference<>();
    private final AtomicReference<Machine> machine = new AtomicReference<>();
    private final List<IdleVcpu> vcpus = Collections.synchronizedList(new ArrayList<>());
    private VmManagerImpl manager;

    /** A vCPU that waits for a kick, or fails or triple-faults when the test says so. */
    final class IdleVcpu implements Vcpu {
        final int index;
        X86CpuState state;
        boolean kicked;
        volatile boolean tripleFault;
        volatile int runs;

        IdleVcpu(int index) {
            this.index = index;
        }

        @Override
        public int index() {
            return index;
        }

        @Override
        public X86CpuState getState() {
            return state.copy();
        }

        @Override
        public void setState(X86CpuState s) {
            state = s.copy();
        }

        @Override
        public synchronized Exit run() throws VcpuException {
            runs++;
            while (!kicked && !tripleFault && failure.get() == null) {
                try {
                    wait(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return Exit.KICKED;
                }
            }
            if (failure.get() != null) {
                throw new VcpuException(failure.get(), state);
            }
            if (tripleFault) {
                return Exit.SHUTDOWN;
            }
            kicked = false;
            return Exit.KICKED;
        }

        @Override
        public synchronized void kick() {
            kicked = true;
            notifyAll();
        }
    }

    final class IdleBackend implements CpuBackend {
        @Override
        public String type() {
            return "idle";
        }

        @Override
        public String description() {
            return "test vCPUs that only wait";
        }

        @Override
        public Availability availability() {
            return Availability.usable("always");
        }

        @Override
        public int maxVcpus() {
            return 4;
        }

        @Override
        public CpuEngine create(Machine m, int count) {
            machine.set(m);
            List<Vcpu> list = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                IdleVcpu v = new IdleVcpu(i);
                vcpus.add(v);
                list.add(v);
            }
            return new StandInEngine(list);
        }
    }

    /** A board whose guest "shuts down" (resets) shortly after Ctrl-Alt-Del, like Linux does. */
    final class QuietBoard implements Board {
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
                    List<X86CpuState> states = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        X86CpuState s = new X86CpuState();
                        s.rip = 0x1000000;
                        s.waitingForSipi = i > 0;
                        states.add(s);
                    }
                    return states;
                }

                @Override
                public void requestShutdown() {
                    new Thread(() -> m.requestStop(Machine.StopReason.RESET, "the guest reset the machine")).start();
                }
            };
        }
    }

    private VmManagerImpl manager() throws Exception {
        manager = new VmManagerImpl(tmp.resolve("lib"));
        manager.addCpuBackend(new IdleBackend());
        manager.addBoard(new QuietBoard());
        manager.addListener(events::add);
        Files.write(tmp.resolve("vmlinuz"), new byte[] {1});
        return manager;
    }

    private VmConfig config(String name, int vcpuCount) {
        return new VmConfig(name, "auto", vcpuCount, 32L << 20,
                new BootConfig(tmp.resolve("vmlinuz").toString(), null, ""), List.of());
    }

    @AfterEach
    void stopEverything() throws Exception {
        if (manager != null) {
            for (VmInfo info : manager.list()) {
                if (info.state().isActive()) {
                    manager.stop(info.name(), true);
                }
            }
        }
    }

    private List<String> transitions(String vm) {
        return events.stream().filter(e -> e.vmName().equals(vm)).map(e -> e.from() + ">" + e.to()).toList();
    }

    @Test
    void startPauseResumeAndGracefulStop() throws Exception {
        VmManagerImpl m = manager();
        m.create(config("vm1", 2));
        VmInfo started = m.start("vm1");
        assertEquals(VmState.RUNNING, started.state());
        assertEquals("idle", started.backend(), "auto picks the one usable backend");
        assertEquals(0x1000000, vcpus.get(0).state.rip, "the board's boot state reached the vCPU");
        assertTrue(vcpus.get(1).state.waitingForSipi);

        m.pause("vm1");
        assertEquals(VmState.PAUSED, m.find("vm1").orElseThrow().state());
        int runsWhilePaused = vcpus.get(0).runs;
        Thread.sleep(100);
        assertEquals(runsWhilePaused, vcpus.get(0).runs, "a paused vCPU does not enter the guest");
        assertThrows(VireoException.class, () -> m.pause("vm1"));
        m.resume("vm1");
        assertEquals(VmState.RUNNING, m.find("vm1").orElseThrow().state());

        org.vireo.api.memory.GuestMemory memory = machine.get().memory();
        m.stop("vm1", false);
        VmInfo stopped = m.find("vm1").orElseThrow();
        assertEquals(VmState.STOPPED, stopped.state());
        assertEquals("the guest reset the machine", stopped.message());
        assertEquals(List.of("STOPPED>STARTING", "STARTING>RUNNING", "RUNNING>PAUSED", "PAUSED>RUNNING",
                "RUNNING>STOPPING", "STOPPING>STOPPED"), transitions("vm1"));
        assertThrows(IllegalStateException.class, () -> memory.readByte(0),
                "guest memory is released when the VM stops");
    }

    @Test
    void aTripleFaultStopsTheVm() throws Exception {
        VmManagerImpl m = manager();
        m.launch(config("tf", 1));
        vcpus.get(0).tripleFault = true;
        assertEquals(VmState.STOPPED, m.awaitStop("tf", 5000));
        assertTrue(events.get(events.size() - 1).message().contains("triple fault"));
        assertTrue(m.find("tf").isEmpty(), "a transient VM is forgotten when it stops");
    }

    @Test
    void aBackendErrorFailsTheVmWithTheMessageAndRegisters() throws Exception {
        VmManagerImpl m = manager();
        m.create(config("bad", 1));
        m.start("bad");
        failure.set("KVM_RUN failed: EFAULT");
        assertEquals(VmState.FAILED, m.awaitStop("bad", 5000));
        String message = m.find("bad").orElseThrow().message();
        assertTrue(message.contains("vCPU 0: KVM_RUN failed: EFAULT") && message.contains("rip=0000000001000000"),
                message);
    }

    @Test
    void anotherProcessSeesAndStopsARunningVmThroughItsControlSocket() throws Exception {
        VmManagerImpl m = manager();
        m.create(config("shared", 1));
        m.start("shared");
        VmManagerImpl other = new VmManagerImpl(tmp.resolve("lib"));
        VmInfo seen = other.find("shared").orElseThrow();
        assertEquals(VmState.RUNNING, seen.state());
        assertEquals("idle", seen.backend());
        assertEquals(ProcessHandle.current().pid(), seen.pid());
        other.pause("shared");
        assertEquals(VmState.PAUSED, m.find("shared").orElseThrow().state());
        other.resume("shared");
        other.stop("shared", true);
        assertEquals(VmState.STOPPED, m.find("shared").orElseThrow().state());
        assertEquals(VmState.STOPPED, other.find("shared").orElseThrow().state());
        assertTrue(Files.notExists(tmp.resolve("lib/vms/shared/control.sock")));
    }

    @Test
    void tooManyVcpusForTheBackendIsRefused() throws Exception {
        VmManagerImpl m = manager();
        VmConfig c = new VmConfig("wide", "idle", 8, 32L << 20,
                new BootConfig(tmp.resolve("vmlinuz").toString(), null, ""), List.of());
        var e = assertThrows(org.vireo.api.vm.ConfigException.class, () -> m.launch(c));
        assertTrue(e.getMessage().contains("vcpus: 8; expected at most 4 with the idle backend"), e.getMessage());
    }
}
