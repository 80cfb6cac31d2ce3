package org.vireo.x86.boot;

import java.util.ArrayList;
import java.util.List;

import org.vireo.api.memory.RamRange;

/**
 * The guest-physical address space of Vireo's PC, and the E820 map that describes it:
 *
 * <pre>
 *   0x0000_0000 - 0xbfff_ffff  RAM (the first min(N, 3 GiB) bytes)
 *   0xc000_0000 - 0xffff_ffff  PCI/MMIO hole: PCI BARs, IOAPIC at 0xfec0_0000, LAPIC at 0xfee0_0000
 *   0x1_0000_0000 -            the rest of RAM, if N > 3 GiB
 * </pre>
 *
 * In E820 terms the low RAM is split as on a PC: 0-0x9fc00 usable, 0x9fc00-0x100000
 * reserved (the EBDA where the MP table lives, the legacy VGA window and the BIOS area, which
 * Linux must not allocate), usable again from 1 MiB.
 */
public final class PcMemoryMap {

    /** Start of the hole below 4 GiB that PCI BARs and the interrupt controllers use. */
    public static final long MMIO_HOLE_START = 0xc000_0000L;
    public static final long MMIO_HOLE_END = 0x1_0000_0000L;
    public static final long FOUR_GIB = 0x1_0000_0000L;
    /** The IOAPIC's register window (82093AA datasheet; the MP table points here). */
    public static final long IOAPIC_BASE = 0xfec0_0000L;
    public static final long IOAPIC_SIZE = 0x1000;
    /** The local APIC's default base (Intel SDM vol. 3 §11.4.1). */
    public static final long LAPIC_BASE = 0xfee0_0000L;
    public static final long LAPIC_SIZE = 0x1000;
    /** The EBDA starts at 639 KiB; from here to 1 MiB is reserved. */
    public static final long EBDA_START = LowMemory.EBDA;
    public static final long HIGH_MEMORY_START = 0x10_0000L;
    /** Less RAM than this cannot hold the loader's structures and a kernel. */
    public static final long MIN_RAM = 2L << 20;

    private PcMemoryMap() {
    }

    /**
     * Where {@code bytes} of RAM go: below the MMIO hole, and above 4 GiB for the rest.
     *
     * @throws IllegalArgumentException if {@code bytes} is below {@link #MIN_RAM} or not a multiple of 4 KiB
     */
    public static List<RamRange> ramRanges(long bytes) {
        if (bytes < MIN_RAM || (bytes & 0xfff) != 0) {
            throw new IllegalArgumentException(String.format("a PC needs at least %d MiB of RAM in whole 4 KiB pages,"
                    + " got %d bytes", MIN_RAM >> 20, bytes));
        }
        List<RamRange> ranges = new ArrayList<>();
        long low = Math.min(bytes, MMIO_HOLE_START);
        ranges.add(new RamRange(0, low));
        if (bytes > low) {
            ranges.add(new RamRange(FOUR_GIB, bytes - low));
        }
        return ranges;
    }

    /** The E820 map for {@code bytes} of RAM laid out by {@link #ramRanges}. */
    public static E820Map e820(long bytes) {
        return e820(ramRanges(bytes));
    }

    /**
     * The E820 map for the given RAM ranges: RAM, except that whatever of it lies in
     * [0x9fc00, 0x100000) is reserved.
     */
    public static E820Map e820(List<RamRange> ram) {
        E820Map map = new E820Map();
        for (RamRange r : ram) {
            addClipped(map, r.start(), r.end(), 0, EBDA_START, E820Map.RAM);
            addClipped(map, r.start(), r.end(), EBDA_START, HIGH_MEMORY_START, E820Map.RESERVED);
            addClipped(map, r.start(), r.end(), HIGH_MEMORY_START, Long.MAX_VALUE, E820Map.RAM);
        }
        return map;
    }

    private static void addClipped(E820Map map, long start, long end, long windowStart, long windowEnd, int type) {
        long s = Math.max(start, windowStart);
        long e = Math.min(end, windowEnd);
        if (s < e) {
            map.add(s, e - s, type);
        }
    }
}
