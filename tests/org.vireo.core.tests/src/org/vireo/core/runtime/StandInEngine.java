package org.vireo.core.runtime;

import java.util.List;

import org.vireo.api.cpu.CpuEngine;
import org.vireo.api.cpu.Vcpu;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.irq.IrqLine;
import org.vireo.api.irq.MsiMessage;

/**
 * A CPU engine for runtime tests: the stand-in vCPUs it is given, and an interrupt chip with
 * no lines (the tests' boards have no devices that raise interrupts).
 */
final class StandInEngine implements CpuEngine {

    private final List<Vcpu> vcpus;

    StandInEngine(List<? extends Vcpu> vcpus) {
        this.vcpus = List.copyOf(vcpus);
    }

    @Override
    public IrqChip irqChip() {
        return new IrqChip() {
            @Override
            public int gsiCount() {
                return 24;
            }

            @Override
            public IrqLine line(int gsi) {
                throw new IllegalArgumentException("no interrupt lines in this test");
            }

            @Override
            public void signalMsi(MsiMessage message) {
            }
        };
    }

    @Override
    public List<Vcpu> vcpus() {
        return vcpus;
    }

    @Override
    public void close() {
    }
}
