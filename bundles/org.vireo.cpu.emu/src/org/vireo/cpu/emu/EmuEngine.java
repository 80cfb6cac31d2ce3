package org.vireo.cpu.emu;

import java.util.ArrayList;
import java.util.List;

import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.cpu.CpuEngine;
import org.vireo.api.cpu.Vcpu;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;
import org.vireo.x86.irq.PcInterruptController;
import org.vireo.x86.irq.VirtualClock;

/** One VM's software CPUs, their virtual clock and the Java interrupt controllers they share. */
final class EmuEngine implements CpuEngine {

    /** The software CPU's part of a saved VM: guest time and the Java interrupt controllers. */
    private static final String STATE_SECTION = "emu";
    private static final int STATE_VERSION = 1;

    private final VirtualClock clock;
    private final PcInterruptController irqs;
    private final List<Vcpu> vcpus = new ArrayList<>();

    EmuEngine(Machine machine, int vcpuCount, boolean deterministic) throws VireoException {
        this.clock = deterministic ? VirtualClock.deterministic() : VirtualClock.hostTime();
        this.irqs = new PcInterruptController(machine, clock, vcpuCount);
        for (int n = 0; n < vcpuCount; n++) {
            vcpus.add(new EmuVcpu(n, machine, irqs.lapic(n), clock));
        }
    }

    VirtualClock clock() {
        return clock;
    }

    PcInterruptController interruptController() {
        return irqs;
    }

    @Override
    public IrqChip irqChip() {
        return irqs;
    }

    @Override
    public List<Vcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    @Override
    public void paused() {
        clock.pause();
    }

    @Override
    public void resumed() {
        clock.resume();
    }

    @Override
    public void saveState(StateWriter out) {
        StateWriter s = out.section(STATE_SECTION, STATE_VERSION);
        s.putLong("clockNanos", clock.nanos());
        irqs.saveState(s);
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        StateReader s = in.section(STATE_SECTION).expect(STATE_SECTION, 1, STATE_VERSION);
        long nanos = s.getLong("clockNanos");
        if (nanos < 0) {
            throw new StateException("state of '" + STATE_SECTION + "': guest time " + nanos + " ns is negative");
        }
        clock.set(nanos);
        irqs.restoreState(s);
    }

    @Override
    public void close() {
        clock.pause();
        irqs.close();
        if (Boolean.getBoolean("vireo.emu.stats")) {
            // For releng/scripts/bench-emu.sh: the guest instructions this VM retired.
            long retired = 0;
            for (Vcpu v : vcpus) {
                retired += ((EmuVcpu) v).executor.retired;
            }
            System.err.println("emu: " + retired + " instructions retired");
        }
    }
}
