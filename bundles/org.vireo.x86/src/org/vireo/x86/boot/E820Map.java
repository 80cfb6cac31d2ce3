package org.vireo.x86.boot;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;

/**
 * The BIOS E820 memory map that the kernel reads from the zero page (e820_entries at 0x1e8,
 * e820_table at 0x2d0; Documentation/arch/x86/zero-page.rst). Entries are kept sorted and
 * must not overlap; adjacent entries of one type are merged.
 */
public final class E820Map {

    /** Address range types (ACPI 6.5 §15.1, "Address Range Types"). */
    public static final int RAM = 1, RESERVED = 2, ACPI = 3, NVS = 4, UNUSABLE = 5, PMEM = 7;

    /** The zero page has room for 128 entries (E820_MAX_ENTRIES_ZEROPAGE). */
    public static final int MAX_ENTRIES = 128;
    /** Each entry is a packed struct boot_e820_entry: u64 addr, u64 size, u32 type. */
    public static final int ENTRY_SIZE = 20;

    /** One address range. */
    public record Entry(long address, long size, int type) {
        public Entry {
            if (size <= 0 || address < 0 || address + size < address) {
                throw new IllegalArgumentException(String.format("bad E820 range 0x%x+0x%x", address, size));
            }
        }

        public long end() {
            return address + size;
        }
    }

    private final List<Entry> entries = new ArrayList<>();

    /**
     * Adds {@code [address, address + size)} of {@code type}.
     *
     * @throws IllegalArgumentException if it overlaps an entry already there or the table is full
     */
    public E820Map add(long address, long size, int type) {
        Entry e = new Entry(address, size, type);
        for (Entry other : entries) {
            if (e.address() < other.end() && other.address() < e.end()) {
                throw new IllegalArgumentException("E820 range " + e + " overlaps " + other);
            }
        }
        List<Entry> next = new ArrayList<>(entries);
        next.add(e);
        next.sort(Comparator.comparingLong(Entry::address));
        mergeAdjacent(next);
        if (next.size() > MAX_ENTRIES) {
            throw new IllegalArgumentException("E820 map is full: the zero page holds " + MAX_ENTRIES + " entries");
        }
        entries.clear();
        entries.addAll(next);
        return this;
    }

    private static void mergeAdjacent(List<Entry> list) {
        for (int i = list.size() - 1; i > 0; i--) {
            Entry a = list.get(i - 1);
            Entry b = list.get(i);
            if (a.type() == b.type() && a.end() == b.address()) {
                list.set(i - 1, new Entry(a.address(), a.size() + b.size(), a.type()));
                list.remove(i);
            }
        }
    }

    /** The entries by ascending address. */
    public List<Entry> entries() {
        return Collections.unmodifiableList(entries);
    }

    /** Total bytes of the given type. */
    public long total(int type) {
        long sum = 0;
        for (Entry e : entries) {
            if (e.type() == type) {
                sum += e.size();
            }
        }
        return sum;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        for (Entry e : entries) {
            s.append(String.format("[mem 0x%016x-0x%016x] %s%n", e.address(), e.end() - 1, typeName(e.type())));
        }
        return s.toString();
    }

    /** The name Linux prints for a type. */
    public static String typeName(int type) {
        return switch (type) {
            case RAM -> "usable";
            case RESERVED -> "reserved";
            case ACPI -> "ACPI data";
            case NVS -> "ACPI NVS";
            case UNUSABLE -> "unusable";
            case PMEM -> "persistent";
            default -> "type " + type;
        };
    }
}
