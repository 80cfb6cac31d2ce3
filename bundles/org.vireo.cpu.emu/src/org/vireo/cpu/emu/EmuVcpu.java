package org.vireo.cpu.emu;

import org.vireo.api.Machine;
import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;
import org.vireo.api.cpu.Vcpu;
import org.vireo.api.cpu.VcpuException;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.x86.irq.LocalApic;
import org.vireo.x86.irq.VirtualClock;

/**
 * One software vCPU: runs the interpreter in slices, lets due timers fire between slices,
 * and sleeps on HLT until an interrupt, a timer or a kick.
 */
final class EmuVcpu implements Vcpu, Cpu.Platform {

    /** Instructions between looks at the clock: ~0.1 ms of guest time at interpreter speed. */
    private static final int SLICE = 2_000;
    /** Guest nanoseconds per instruction in deterministic mode. */
    static final long NANOS_PER_INSTRUCTION = 1;
    private static final long APIC_ENABLE = 1L << 11;

    private final int index;
    private final LocalApic lapic;
    private final VirtualClock clock;
    final Cpu cpu;
    final Executor executor;
    private final Object sleep = new Object();
    private volatile boolean kicked;
    /** Deterministic mode: the instruction count up to which the clock has been advanced. */
    private long clockedUpTo;

    EmuVcpu(int index, Machine machine, LocalApic lapic, VirtualClock clock) {
        this.index = index;
        this.lapic = lapic;
        this.clock = clock;
        this.cpu = new Cpu(machine.memory(), new ClockedBus(machine.portIo()), machine.mmio(), this);
        this.executor = new Executor(cpu, lapic.apicId());
        lapic.setInterruptListener(this::wake);
        clock.setWakeup(this::wake);
    }

    private void wake() {
        cpu.attention = true;
        synchronized (sleep) {
            sleep.notifyAll();
        }
    }

    @Override
    public int index() {
        return index;
    }

    @Override
    public X86CpuState getState() {
        return cpu.getState();
    }

    @Override
    public void setState(X86CpuState state) {
        cpu.setState(state);
        cpu.attention = true;
    }

    @Override
    public void kick() {
        kicked = true;
        executor.kicked = true;
        wake();
    }

    @Override
    public Exit run() throws VcpuException {
        clock.resume();
        try {
            while (true) {
                if (kicked) {
                    kicked = false;
                    executor.kicked = false;
                    return Exit.KICKED;
                }
                Executor.Stop stop;
                try {
                    stop = executor.run(SLICE);
                } catch (Cpu.UnsupportedModeException e) {
                    throw new VcpuException("the software CPU cannot go on: " + e.getMessage() + at(), cpu.getState());
                } catch (RuntimeException e) {
                    throw new VcpuException("internal error in the software CPU: " + e + at(), cpu.getState(), e);
                }
                syncClock();
                clock.runDue();
                switch (stop) {
                    case TRIPLE_FAULT -> {
                        return Exit.SHUTDOWN;
                    }
                    case HALTED -> idle();
                    default -> { }
                }
            }
        } finally {
            clock.pause();
        }
    }

    /** HLT: wait for an interrupt. Deterministic time jumps straight to the next timer. */
    private void idle() {
        while (cpu.halted && !kicked) {
            if (cpu.attention) {
                return;
            }
            long deadline = clock.nextDeadline();
            if (clock.isDeterministic() && deadline != Long.MAX_VALUE) {
                long now = clock.nanos();
                if (deadline > now) {
                    clock.advance(deadline - now);
                }
                clock.runDue();
                continue;
            }
            long waitNanos = deadline == Long.MAX_VALUE ? 100_000_000L : deadline - clock.nanos();
            if (waitNanos <= 0) {
                clock.runDue();
                continue;
            }
            synchronized (sleep) {
                if (cpu.attention || kicked) {
                    return;
                }
                try {
                    sleep.wait(waitNanos / 1_000_000, (int) (waitNanos % 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            clock.runDue();
        }
    }

    private void syncClock() {
        if (clock.isDeterministic()) {
            long retired = executor.retired;
            if (retired > clockedUpTo) {
                clock.advance((retired - clockedUpTo) * NANOS_PER_INSTRUCTION);
                clockedUpTo = retired;
            }
        }
    }

    /**
     * The port I/O bus as this vCPU sees it: in deterministic mode the clock is brought up to
     * the current instruction before each access, so that a guest polling the PIT sees time
     * move between two reads.
     */
    private final class ClockedBus implements IoBus {
        private final IoBus bus;

        ClockedBus(IoBus bus) {
            this.bus = bus;
        }

        @Override
        public Kind kind() {
            return bus.kind();
        }

        @Override
        public Registration register(long base, long length, String owner, IoHandler handler) {
            return bus.register(base, length, owner, handler);
        }

        @Override
        public long read(long address, int size) {
            syncClock();
            return bus.read(address, size);
        }

        @Override
        public void write(long address, int size, long value) {
            syncClock();
            bus.write(address, size, value);
        }

        @Override
        public String ownerOf(long address) {
            return bus.ownerOf(address);
        }
    }

    /** The instruction bytes at RIP, for error messages. */
    private String at() {
        StringBuilder b = new StringBuilder(" (at RIP ").append(Long.toHexString(cpu.rip)).append(":");
        for (int k = 0; k < 16; k++) {
            try {
                b.append(String.format(" %02x", cpu.fetchByte(cpu.rip + k)));
            } catch (RuntimeException e) {
                b.append(" ??");
                break;
            }
        }
        return b.append(')').toString();
    }

    // ---- Cpu.Platform ----

    @Override
    public long nanos() {
        if (clock.isDeterministic()) {
            return clock.nanos() + (executor.retired - clockedUpTo) * NANOS_PER_INSTRUCTION;
        }
        return clock.nanos();
    }

    @Override
    public int pendingInterrupt() {
        return lapic.pendingInterrupt();
    }

    @Override
    public int acknowledgeInterrupt() {
        return lapic.acknowledgeInterrupt();
    }

    @Override
    public boolean takeNmi() {
        return lapic.takeNmi();
    }

    @Override
    public boolean isApicPage(long physPage) {
        long base = lapic.baseMsr();
        return (base & APIC_ENABLE) != 0 && physPage == (base & 0xf_ffff_f000L);
    }

    @Override
    public long apicRead(int offset, int size) {
        syncClock();
        return lapic.read(offset, size);
    }

    @Override
    public void apicWrite(int offset, int size, long value) {
        syncClock();
        lapic.write(offset, size, value);
        cpu.attention = true;
    }

    @Override
    public long apicBaseMsr() {
        return lapic.baseMsr();
    }

    @Override
    public void setApicBaseMsr(long value) {
        lapic.setBaseMsr(value);
        cpu.mmu.flushAll();
    }

    @Override
    public int tpr() {
        return lapic.tpr();
    }

    @Override
    public void setTpr(int tpr) {
        lapic.setTpr(tpr);
    }
}
