package org.vireo.api.bus;

/**
 * A device's registers on an {@link IoBus}. Called on the vCPU thread that made the access,
 * so both methods must be short: a device with slow work hands it to its own executor.
 *
 * <p>{@code offset} is relative to the base the handler was registered at; {@code size} is
 * 1, 2, 4 or 8 bytes. Values are zero-extended into the {@code long}.
 */
public interface IoHandler {

    long read(long offset, int size);

    void write(long offset, int size, long value);
}
