package org.vireo.api.cpu;

import org.vireo.api.VireoException;

/**
 * A vCPU cannot go on: the hypervisor refused to enter the guest, or the emulator hit an
 * internal error. Carries the vCPU's state for the user's report.
 */
public class VcpuException extends VireoException {
    private static final long serialVersionUID = 1L;

    private final transient X86CpuState state;

    public VcpuException(String message, X86CpuState state) {
        super(message);
        this.state = state;
    }

    public VcpuException(String message, X86CpuState state, Throwable cause) {
        super(message, cause);
        this.state = state;
    }

    /** The vCPU's registers when it stopped, or {@code null} if they could not be read. */
    public X86CpuState state() {
        return state;
    }
}
