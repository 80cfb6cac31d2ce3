package org.vireo.api.cpu;

/**
 * One virtual CPU. The runtime gives each vCPU its own thread, which calls {@link #run()}
 * in a loop; port and MMIO accesses are dispatched to the machine's buses on that thread.
 */
public interface Vcpu {

    int index();

    /** Reads the architectural state. Only while the vCPU is not inside {@link #run()}. */
    X86CpuState getState();

    /** Replaces the architectural state. Only while the vCPU is not inside {@link #run()}. */
    void setState(X86CpuState state);

    /**
     * Runs guest code until something the runtime must handle: a {@link #kick()}, a triple
     * fault. HLT is handled inside (the vCPU sleeps until an interrupt).
     *
     * @throws VcpuException if the backend cannot go on; the VM stops with its message
     */
    Exit run() throws VcpuException;

    /** Makes a concurrent or the next {@link #run()} return {@link Exit#KICKED} promptly. Any thread. */
    void kick();

    /** Why {@link #run()} returned. */
    enum Exit {
        /** {@link #kick()} was called: the runtime wants the vCPU out (pause, stop, snapshot). */
        KICKED,
        /** The guest took a triple fault (or KVM_EXIT_SHUTDOWN): the machine resets. */
        SHUTDOWN
    }
}
