package org.vireo.virtio;

import org.vireo.api.memory.GuestMemory;

/** What an active {@link VirtioDevice} gets from its transport. All methods are thread-safe. */
public interface VirtioTransport {

    /** The guest's memory, where the queues' buffers live. */
    GuestMemory memory();

    /** The features the driver accepted (device and ring features). */
    long negotiatedFeatures();

    /** Queue {@code index}; {@link Virtqueue#ready()} says whether the driver enabled it. */
    Virtqueue queue(int index);

    /**
     * Tells the driver that queue {@code index} has new used buffers: an MSI-X message, or the
     * ISR bit and INTx, unless the driver suppressed the interrupt ({@link Virtqueue#needsInterrupt}).
     */
    void usedBuffers(int index);

    /** Tells the driver that the device configuration changed (§4.1.4.5). */
    void configChanged();

    /**
     * The driver broke the protocol (a malformed queue): sets DEVICE_NEEDS_RESET, tells the
     * driver with a configuration interrupt, and logs {@code why}. The device stops using the
     * queue until the driver resets it.
     */
    void needsReset(String why);
}
