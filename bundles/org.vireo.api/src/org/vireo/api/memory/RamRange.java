package org.vireo.api.memory;

/** A contiguous range of guest-physical addresses backed by RAM. */
public record RamRange(long start, long size) {

    public RamRange {
        if (start < 0 || size <= 0 || start + size < start) {
            throw new IllegalArgumentException("bad RAM range start=0x" + Long.toHexString(start)
                    + " size=0x" + Long.toHexString(size));
        }
    }

    /** The first address after the range. */
    public long end() {
        return start + size;
    }

    public boolean contains(long address, long length) {
        return address >= start && length >= 0 && address + length <= end() && address + length >= address;
    }
}
