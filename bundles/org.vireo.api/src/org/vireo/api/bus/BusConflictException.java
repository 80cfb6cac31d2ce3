package org.vireo.api.bus;

/** A device asked for an I/O range that another device already holds. */
public class BusConflictException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public BusConflictException(String message) {
        super(message);
    }
}
