package org.vireo.api;

/**
 * The guest did something the machine cannot honour: an access outside guest memory, a
 * malformed descriptor, a register write with a reserved value. A guest's mistake is never a
 * host failure: the device that catches it reacts the way its specification says (for
 * example virtio's DEVICE_NEEDS_RESET) and the VM keeps running.
 */
public class GuestException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public GuestException(String message) {
        super(message);
    }

    public GuestException(String message, Throwable cause) {
        super(message, cause);
    }
}
