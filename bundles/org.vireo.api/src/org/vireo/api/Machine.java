package org.vireo.api;

import org.vireo.api.bus.IoBus;
import org.vireo.api.memory.GuestMemory;

/**
 * One VM's machine as CPU backends and devices see it: its memory, its two I/O address
 * spaces, and the way to ask the runtime to stop it. Built by the runtime before any CPU
 * backend or device is created.
 */
public interface Machine {

    /** The VM's name, for messages and logs. */
    String name();

    GuestMemory memory();

    /** The port I/O space (IN/OUT). */
    IoBus portIo();

    /** The MMIO space. */
    IoBus mmio();

    /**
     * Asks the runtime to stop the VM: the vCPUs are kicked out of the guest and the VM goes to
     * STOPPED (or FAILED for {@link StopReason#ERROR}). Callable from any thread, including a
     * vCPU thread inside an I/O handler; returns at once.
     */
    void requestStop(StopReason reason, String detail);

    /** Why a machine stopped. */
    enum StopReason {
        /** The guest powered off, or a user forced the VM off. */
        POWER_OFF,
        /** The guest pulled the reset line (i8042 command 0xFE). */
        RESET,
        /** A vCPU took a triple fault. */
        TRIPLE_FAULT,
        /** The VMM could not go on: an emulator or hypervisor error. */
        ERROR
    }
}
