package org.vireo.x86.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.vireo.api.memory.RamRange;

/** Where RAM goes on the PC, and the E820 map the kernel sees for it. */
class PcMemoryMapTest {

    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    @Test
    void smallMemoryIsOneRangeFromZero() {
        assertEquals(List.of(new RamRange(0, 256 * MIB)), PcMemoryMap.ramRanges(256 * MIB));
        assertEquals(List.of(new RamRange(0, 3 * GIB)), PcMemoryMap.ramRanges(3 * GIB));
    }

    @Test
    void memoryAbove3GibGoesAbove4Gib() {
        assertEquals(List.of(new RamRange(0, 3 * GIB), new RamRange(4 * GIB, 5 * GIB)),
                PcMemoryMap.ramRanges(8 * GIB));
    }

    @Test
    void holeHoldsTheInterruptControllers() {
        for (long mmio : new long[] {PcMemoryMap.IOAPIC_BASE, PcMemoryMap.LAPIC_BASE}) {
            assertTrue(mmio >= PcMemoryMap.MMIO_HOLE_START && mmio < PcMemoryMap.MMIO_HOLE_END);
            for (RamRange r : PcMemoryMap.ramRanges(16 * GIB)) {
                assertTrue(!r.contains(mmio, 1), "0x" + Long.toHexString(mmio) + " is not RAM");
            }
        }
    }

    @Test
    void e820ReservesTheEbdaAndBiosArea() {
        List<E820Map.Entry> e = PcMemoryMap.e820(256 * MIB).entries();
        assertEquals(List.of(new E820Map.Entry(0, 0x9fc00, E820Map.RAM),
                new E820Map.Entry(0x9fc00, 0x100000 - 0x9fc00, E820Map.RESERVED),
                new E820Map.Entry(0x100000, 255 * MIB, E820Map.RAM)), e);
    }

    @Test
    void e820AboveFourGib() {
        E820Map map = PcMemoryMap.e820(6 * GIB);
        List<E820Map.Entry> e = map.entries();
        assertEquals(4, e.size());
        assertEquals(new E820Map.Entry(0x100000, 3 * GIB - MIB, E820Map.RAM), e.get(2));
        assertEquals(new E820Map.Entry(4 * GIB, 3 * GIB, E820Map.RAM), e.get(3));
        assertEquals(6 * GIB - (0x100000 - 0x9fc00), map.total(E820Map.RAM));
    }

    @Test
    void refusesMemoryTooSmallOrNotPaged() {
        assertThrows(IllegalArgumentException.class, () -> PcMemoryMap.ramRanges(MIB));
        assertThrows(IllegalArgumentException.class, () -> PcMemoryMap.ramRanges(256 * MIB + 1));
    }

    @Test
    void e820MapMergesNeighboursAndRefusesOverlaps() {
        E820Map map = new E820Map().add(0x1000, 0x1000, E820Map.RAM).add(0, 0x1000, E820Map.RAM)
                .add(0x2000, 0x1000, E820Map.RESERVED);
        assertEquals(List.of(new E820Map.Entry(0, 0x2000, E820Map.RAM),
                new E820Map.Entry(0x2000, 0x1000, E820Map.RESERVED)), map.entries());
        assertThrows(IllegalArgumentException.class, () -> map.add(0x1800, 0x1000, E820Map.ACPI));
        assertTrue(map.toString().contains("[mem 0x0000000000002000-0x0000000000002fff] reserved"), map.toString());
    }

    @Test
    void e820MapHoldsAtMost128Entries() {
        E820Map map = new E820Map();
        for (int i = 0; i < E820Map.MAX_ENTRIES; i++) {
            map.add(i * 0x2000L, 0x1000, E820Map.RAM);
        }
        assertThrows(IllegalArgumentException.class, () -> map.add(0x10_0000_0000L, 0x1000, E820Map.RAM));
        assertEquals(E820Map.MAX_ENTRIES, map.entries().size());
        // A range that merges with the last one still fits.
        map.add((E820Map.MAX_ENTRIES - 1) * 0x2000L + 0x1000, 0x1000, E820Map.RAM);
        assertEquals(E820Map.MAX_ENTRIES, map.entries().size());
    }
}
