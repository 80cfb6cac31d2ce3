package org.vireo.core.bus;

import java.util.Arrays;

import org.vireo.api.bus.BusConflictException;
import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;

/**
 * An {@link IoBus}: a sorted table of non-overlapping ranges. Lookups happen on every port or
 * MMIO exit and take no lock: registrations replace the whole table (copy on write), which
 * is rare (boot, a BAR moving).
 */
public final class AddressSpace implements IoBus {

    private final Kind kind;
    private final String machineName;
    private volatile Entry[] entries = new Entry[0];

    public AddressSpace(Kind kind, String machineName) {
        this.kind = kind;
        this.machineName = machineName;
    }

    @Override
    public Kind kind() {
        return kind;
    }

    @Override
    public synchronized Registration register(long base, long length, String owner, IoHandler handler) {
        if (length <= 0 || base < 0 || base + length < base || (kind == Kind.PIO && base + length > 0x10000)) {
            throw new IllegalArgumentException(String.format("%s: %s asked for a bad %s range 0x%x+0x%x",
                    machineName, owner, kind, base, length));
        }
        Entry[] current = entries;
        int at = insertionPoint(current, base);
        Entry before = at > 0 ? current[at - 1] : null;
        Entry after = at < current.length ? current[at] : null;
        if (before != null && before.end > base) {
            throw conflict(owner, base, length, before);
        }
        if (after != null && after.base < base + length) {
            throw conflict(owner, base, length, after);
        }
        Entry entry = new Entry(base, base + length, owner, handler);
        Entry[] next = new Entry[current.length + 1];
        System.arraycopy(current, 0, next, 0, at);
        next[at] = entry;
        System.arraycopy(current, at, next, at + 1, current.length - at);
        entries = next;
        return entry;
    }

    private BusConflictException conflict(String owner, long base, long length, Entry holder) {
        return new BusConflictException(String.format(
                "%s: %s cannot claim %s 0x%x-0x%x: it overlaps 0x%x-0x%x held by %s",
                machineName, owner, kind, base, base + length - 1, holder.base, holder.end - 1, holder.owner));
    }

    private synchronized void unregister(Entry entry) {
        Entry[] current = entries;
        int i = Arrays.asList(current).indexOf(entry);
        if (i < 0) {
            return;
        }
        Entry[] next = new Entry[current.length - 1];
        System.arraycopy(current, 0, next, 0, i);
        System.arraycopy(current, i + 1, next, i, current.length - i - 1);
        entries = next;
    }

    /** Index of the first entry whose base is greater than {@code address}. */
    private static int insertionPoint(Entry[] table, long address) {
        int lo = 0;
        int hi = table.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (table[mid].base <= address) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private Entry find(long address) {
        Entry[] table = entries;
        int i = insertionPoint(table, address) - 1;
        if (i >= 0) {
            Entry e = table[i];
            if (address < e.end) {
                return e;
            }
        }
        return null;
    }

    @Override
    public long read(long address, int size) {
        Entry e = find(address);
        if (e == null) {
            return size == 8 ? -1L : (1L << (size * 8)) - 1;
        }
        return e.handler.read(address - e.base, size);
    }

    @Override
    public void write(long address, int size, long value) {
        Entry e = find(address);
        if (e != null) {
            e.handler.write(address - e.base, size, value);
        }
    }

    @Override
    public String ownerOf(long address) {
        Entry e = find(address);
        return e == null ? null : e.owner;
    }

    private final class Entry implements Registration {
        final long base;
        final long end;
        final String owner;
        final IoHandler handler;

        Entry(long base, long end, String owner, IoHandler handler) {
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
            unregister(this);
        }
    }
}
