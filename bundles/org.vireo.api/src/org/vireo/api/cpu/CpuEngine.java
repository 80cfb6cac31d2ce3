package org.vireo.api.cpu;

import java.util.List;

import org.vireo.api.irq.IrqChip;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/** A CPU backend's part of one running VM. Closing it releases the vCPUs and the VM's hypervisor state. */
public interface CpuEngine extends AutoCloseable {

    /** The interrupt controllers devices raise interrupts through. */
    IrqChip irqChip();

    /** The vCPUs, index 0 being the boot processor. */
    List<Vcpu> vcpus();

    /**
     * Every vCPU is out of the guest for a while (the VM is paused or being saved): guest time
     * stands still until {@link #resumed()}.
     */
    default void paused() {
    }

    /** Guest time goes on again after {@link #paused()}. */
    default void resumed() {
    }

    /**
     * Writes the engine's state beyond the vCPUs' registers (which the runtime saves through
     * {@link Vcpu#getState()}): interrupt controllers, guest time. Only while paused.
     *
     * @throws StateException if this backend cannot save the state (the message says why);
     *         the default, for backends that cannot
     */
    default void saveState(StateWriter out) throws StateException {
        throw new StateException("this CPU backend (" + getClass().getName() + ") cannot save a VM's state");
    }

    /**
     * Restores what {@link #saveState} wrote, into an engine made for the same machine and
     * vCPU count that has not run yet. Guest time continues from the saved time: it never
     * goes back for the guest.
     */
    default void restoreState(StateReader in) throws StateException {
        throw new StateException("this CPU backend (" + getClass().getName() + ") cannot restore a VM's state");
    }

    @Override
    void close();
}
