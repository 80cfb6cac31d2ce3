package org.vireo.virtio;

/**
 * A guest error in a virtqueue: a descriptor chain, ring index or layout the driver was not
 * allowed to write (virtio 1.2 §2.7). The device must set DEVICE_NEEDS_RESET and stop using the
 * queue; the {@link Virtqueue} that threw stays broken until it is reset.
 *
 * <p>Checked, unlike {@link org.vireo.api.GuestException}, so that every device that pulls
 * chains from a queue decides in one place what a misbehaving driver costs it.
 */
public final class VirtqueueException extends Exception {
    private static final long serialVersionUID = 1L;

    public VirtqueueException(String message) {
        super(message);
    }
}
