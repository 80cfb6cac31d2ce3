package org.vireo.virtio;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The device-type half of a virtio device (virtio 1.2 §5): what it offers and how it serves
 * its queues. The transport ({@link VirtioPciFunction}) does the rest: feature negotiation,
 * status, queue set-up, notifications and interrupts. One class per device type implements
 * this; it never sees PCI.
 *
 * <p>Threads: {@link #queueNotified} and the config accessors run on the vCPU thread that
 * touched the register; a device that does real work (disk or network I/O) hands it to its
 * own thread and returns. {@link #reset} runs on a vCPU thread too, and must wait for that
 * work to stop touching guest memory.
 */
public interface VirtioDevice {

    /** Feature bits every device here offers (§6): indirect descriptors, EVENT_IDX, VERSION_1. */
    long F_INDIRECT_DESC = 1L << 28, F_EVENT_IDX = 1L << 29, F_VERSION_1 = 1L << 32;

    /** The virtio device id (§5): 1 net, 2 block, 3 console, 4 entropy, 5 balloon. */
    int deviceType();

    /** The PCI class code (class, subclass, prog-if) the function reports. */
    int pciClass();

    /** The device-specific feature bits offered, without the transport's ring features. */
    long deviceFeatures();

    /** Number of virtqueues. */
    int queueCount();

    /** The largest size the driver may give queue {@code queue} (a power of two). */
    int queueMaxSize(int queue);

    /** Bytes of the device-specific configuration space (§4.1.4.6); 0 if none. */
    int configSize();

    /**
     * Reads {@code size} bytes (1, 2, 4 or 8) of the device configuration at {@code offset}
     * (inside {@link #configSize}). The default lays the fields out with {@link #putConfig}
     * and reads them from there.
     */
    default long readConfig(int offset, int size) {
        ByteBuffer config = ByteBuffer.allocate(configSize() + Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        putConfig(config);
        long value = config.getLong(offset);
        return size == Long.BYTES ? value : value & ((1L << (8 * size)) - 1);
    }

    /**
     * Puts the current configuration fields at their offsets into {@code config}: zeroed,
     * little-endian, {@link #configSize} bytes and a little more (fields not put read as 0).
     */
    default void putConfig(ByteBuffer config) {
    }

    /** The driver wrote device configuration bytes (most fields are read-only and ignore it). */
    default void writeConfig(int offset, int size, long value) {
    }

    /**
     * The driver set DRIVER_OK: the negotiated features are final and the enabled queues are
     * ready. {@code transport} is how the device reaches its queues and raises interrupts.
     */
    void activate(VirtioTransport transport);

    /** The driver notified queue {@code queue}: new buffers are available. */
    void queueNotified(int queue);

    /** Back to the state before {@link #activate}: stop using guest memory, drop in-flight work. */
    void reset();

    /** Releases host resources (files, threads). */
    default void close() {
    }

    /** Device-type state for snapshots (the transport saves the queues and registers). */
    default void saveState(StateWriter out) {
    }

    default void restoreState(StateReader in) throws StateException {
    }
}
