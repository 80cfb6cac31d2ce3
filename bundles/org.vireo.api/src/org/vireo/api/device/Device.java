package org.vireo.api.device;

import org.vireo.api.state.Stateful;

/**
 * One device instance in one VM. It claims its registers on the machine's buses when it is
 * created, saves and restores its whole state, and releases what it holds on close.
 */
public interface Device extends Stateful, AutoCloseable {

    /** The instance id, unique in the VM ("com1", "disk0"); also its state section's name. */
    String id();

    /** Returns to the power-on state (machine reset). */
    default void reset() {
    }

    /** Releases host resources (files, threads, sockets). */
    @Override
    default void close() {
    }
}
