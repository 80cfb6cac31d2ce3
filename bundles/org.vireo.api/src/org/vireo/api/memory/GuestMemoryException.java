package org.vireo.api.memory;

import org.vireo.api.GuestException;

/** The guest named a physical address range that is not RAM. */
public class GuestMemoryException extends GuestException {
    private static final long serialVersionUID = 1L;

    private final long address;
    private final long length;

    public GuestMemoryException(long address, long length) {
        super(String.format("guest physical range 0x%x+0x%x is outside guest RAM", address, length));
        this.address = address;
        this.length = length;
    }

    public long address() {
        return address;
    }

    public long length() {
        return length;
    }
}
