package org.vireo.api.cpu;

import java.util.List;

import org.vireo.api.irq.IrqChip;

/** A CPU backend's part of one running VM. Closing it releases the vCPUs and the VM's hypervisor state. */
public interface CpuEngine extends AutoCloseable {

    /** The interrupt controllers devices raise interrupts through. */
    IrqChip irqChip();

    /** The vCPUs, index 0 being the boot processor. */
    List<Vcpu> vcpus();

    @Override
    void close();
}
