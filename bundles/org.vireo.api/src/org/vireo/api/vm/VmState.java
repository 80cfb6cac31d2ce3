package org.vireo.api.vm;

/**
 * Where a VM is in its life. Transitions:
 * STOPPED -> STARTING -> RUNNING <-> PAUSED; RUNNING/PAUSED -> STOPPING -> STOPPED;
 * any state but STOPPED -> FAILED (with a message); FAILED -> STARTING.
 */
public enum VmState {
    STOPPED, STARTING, RUNNING, PAUSED, STOPPING, FAILED;

    /** Whether the VM holds host resources (memory, threads). */
    public boolean isActive() {
        return this == STARTING || this == RUNNING || this == PAUSED || this == STOPPING;
    }
}
