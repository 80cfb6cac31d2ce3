package org.vireo.x86.dev;

import java.util.Map;
import java.util.TreeMap;

import org.vireo.api.bus.BusConflictException;
import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;

/** A test double of the machine's bus: ranges in a sorted map, the IoBus contract, nothing more. */
public final class MapIoBus implements IoBus {

    private final Kind kind;
    private final TreeMap<Long, Range> ranges = new TreeMap<>();

    public MapIoBus(Kind kind) {
        this.kind = kind;
    }

    public static MapIoBus ports() {
        return new MapIoBus(Kind.PIO);
    }

    public static MapIoBus memory() {
        return new MapIoBus(Kind.MMIO);
    }

    @Override
    public Kind kind() {
        return kind;
    }

    @Override
    public synchronized Registration register(long base, long length, String owner, IoHandler handler) {
        if (length <= 0 || base < 0 || (kind == Kind.PIO && base + length > 0x10000)) {
            throw new IllegalArgumentException(owner + ": bad range " + Long.toHexString(base) + "+" + length);
        }
        Map.Entry<Long, Range> below = ranges.floorEntry(base + length - 1);
        if (below != null && below.getValue().end > base) {
            throw new BusConflictException(owner + " overlaps " + below.getValue().owner);
        }
        Range range = new Range(base, base + length, owner, handler);
        ranges.put(base, range);
        return range;
    }

    private synchronized Range find(long address) {
        Map.Entry<Long, Range> e = ranges.floorEntry(address);
        return e != null && address < e.getValue().end ? e.getValue() : null;
    }

    @Override
    public long read(long address, int size) {
        Range r = find(address);
        if (r == null) {
            return size == 8 ? -1L : (1L << (8 * size)) - 1;
        }
        return r.handler.read(address - r.base, size);
    }

    @Override
    public void write(long address, int size, long value) {
        Range r = find(address);
        if (r != null) {
            r.handler.write(address - r.base, size, value);
        }
    }

    @Override
    public String ownerOf(long address) {
        Range r = find(address);
        return r == null ? null : r.owner;
    }

    /** Number of registered ranges. */
    public synchronized int size() {
        return ranges.size();
    }

    /** Byte read, the way a guest's IN AL, DX is dispatched. */
    public int inb(int port) {
        return (int) read(port, 1);
    }

    public void outb(int port, int value) {
        write(port, 1, value & 0xFF);
    }

    public int inl(int port) {
        return (int) read(port, 4);
    }

    public void outl(int port, int value) {
        write(port, 4, value & 0xFFFF_FFFFL);
    }

    private final class Range implements Registration {
        final long base;
        final long end;
        final String owner;
        final IoHandler handler;

        Range(long base, long end, String owner, IoHandler handler) {
            this.base = base;
            this.end = end;
            this.owner = owner;
            this.handler = handler;
        }

        @Override
        public long base() {
            return base;
        }

        @Override
        public long length() {
            return end - base;
        }

        @Override
        public void close() {
            synchronized (MapIoBus.this) {
                ranges.remove(base, this);
            }
        }
    }
}
