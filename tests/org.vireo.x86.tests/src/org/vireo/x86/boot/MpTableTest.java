package org.vireo.x86.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The MP floating pointer and configuration table, read back the way a kernel parses them. */
class MpTableTest {

    /** One configuration table entry: its type and bytes. */
    record Entry(int type, ByteBuffer bytes) {
        int u8(int offset) {
            return bytes.get(offset) & 0xff;
        }
    }

    /** A parsed MP table, with its checksums verified as Linux's mpparse does. */
    record Parsed(ByteBuffer floating, ByteBuffer config, List<Entry> entries) {
        List<Entry> ofType(int type) {
            return entries.stream().filter(e -> e.type() == type).toList();
        }
    }

    static int sum(ByteBuffer b, int from, int length) {
        int s = 0;
        for (int i = from; i < from + length; i++) {
            s += b.get(i);
        }
        return s & 0xff;
    }

    /** Parses the tables from {@code bytes}, which were built for guest address {@code base}. */
    static Parsed parse(byte[] bytes, long base) {
        ByteBuffer all = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer fp = all.slice(0, 16).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("_MP_", ascii(fp, 0, 4));
        assertEquals(1, fp.get(8), "floating pointer length in paragraphs");
        assertEquals(4, fp.get(9), "spec revision 1.4");
        assertEquals(0, sum(fp, 0, 16), "floating pointer checksum");
        assertEquals(0, fp.get(11), "feature byte 1: a configuration table is present");
        long physptr = fp.getInt(4) & 0xffffffffL;
        int at = (int) (physptr - base);
        ByteBuffer ct = all.slice(at, all.capacity() - at).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("PCMP", ascii(ct, 0, 4));
        int length = ct.getShort(4) & 0xffff;
        assertEquals(bytes.length - at, length, "base table length covers exactly the entries");
        assertEquals(0, sum(ct, 0, length), "configuration table checksum");
        assertEquals(0xfee0_0000, ct.getInt(36), "local APIC address");
        int count = ct.getShort(34) & 0xffff;
        List<Entry> entries = new ArrayList<>();
        int pos = 44;
        for (int i = 0; i < count; i++) {
            int type = ct.get(pos);
            int size = type == 0 ? 20 : 8;
            entries.add(new Entry(type, ct.slice(pos, size).order(ByteOrder.LITTLE_ENDIAN)));
            pos += size;
        }
        assertEquals(length, pos, "entry count matches the table length");
        return new Parsed(fp, ct, entries);
    }

    static String ascii(ByteBuffer b, int from, int length) {
        byte[] s = new byte[length];
        b.get(from, s);
        return new String(s, StandardCharsets.US_ASCII);
    }

    @Test
    void twoCpusWithPciRoutes() {
        List<MpTable.PciRoute> routes = List.of(new MpTable.PciRoute(1, 0, 16), new MpTable.PciRoute(2, 3, 17));
        MpTable table = new MpTable(2, routes);
        Parsed p = parse(table.build(LowMemory.EBDA), LowMemory.EBDA);
        assertEquals(LowMemory.EBDA + 16, p.floating().getInt(4), "config table right after the pointer");

        List<Entry> cpus = p.ofType(0);
        assertEquals(2, cpus.size());
        assertEquals(0, cpus.get(0).u8(1), "APIC id of cpu 0");
        assertEquals(3, cpus.get(0).u8(3), "cpu 0 enabled and the BSP");
        assertEquals(1, cpus.get(1).u8(1));
        assertEquals(1, cpus.get(1).u8(3), "cpu 1 enabled, not the BSP");

        List<Entry> buses = p.ofType(1);
        assertEquals(2, buses.size());
        assertEquals(0, buses.get(0).u8(1));
        assertEquals("PCI   ", ascii(buses.get(0).bytes(), 2, 6));
        assertEquals(1, buses.get(1).u8(1));
        assertEquals("ISA   ", ascii(buses.get(1).bytes(), 2, 6));

        List<Entry> ioapics = p.ofType(2);
        assertEquals(1, ioapics.size());
        assertEquals(2, ioapics.get(0).u8(1), "IOAPIC id follows the CPUs'");
        assertEquals(0x11, ioapics.get(0).u8(2));
        assertEquals(1, ioapics.get(0).u8(3), "enabled");
        assertEquals(0xfec0_0000, ioapics.get(0).bytes().getInt(4));

        List<Entry> ints = p.ofType(3);
        assertEquals(16 + 2, ints.size());
        for (int irq = 0; irq < 16; irq++) {
            Entry e = ints.get(irq);
            assertEquals(0, e.u8(1), "INT");
            assertEquals(0, e.bytes().getShort(2), "conforms to the ISA bus: edge, active high");
            assertEquals(1, e.u8(4), "source bus ISA");
            assertEquals(irq, e.u8(5));
            assertEquals(2, e.u8(6), "to the IOAPIC");
            assertEquals(irq, e.u8(7), "GSI n = pin n");
        }
        Entry pci = ints.get(16);
        assertEquals(0xf, pci.bytes().getShort(2), "level-triggered, active low");
        assertEquals(0, pci.u8(4), "source bus PCI");
        assertEquals(1 << 2, pci.u8(5), "device 1 INTA#");
        assertEquals(16, pci.u8(7));
        assertEquals((2 << 2) | 3, ints.get(17).u8(5), "device 2 INTD#");
        assertEquals(17, ints.get(17).u8(7));

        List<Entry> lints = p.ofType(4);
        assertEquals(2, lints.size());
        assertEquals(3, lints.get(0).u8(1), "ExtINT");
        assertEquals(0xff, lints.get(0).u8(6), "all local APICs");
        assertEquals(0, lints.get(0).u8(7), "LINT0");
        assertEquals(1, lints.get(1).u8(1), "NMI");
        assertEquals(1, lints.get(1).u8(7), "LINT1");

        assertEquals(2 + 2 + 1 + 18 + 2, table.entryCount());
    }

    @Test
    void pciRouteToAnIsaPinReplacesTheIsaEntry() {
        Parsed p = parse(new MpTable(1, List.of(new MpTable.PciRoute(3, 0, 11))).build(0x9fc00), 0x9fc00);
        List<Entry> ints = p.ofType(3);
        assertEquals(16, ints.size());
        long onPin11 = ints.stream().filter(e -> e.u8(7) == 11).count();
        assertEquals(1, onPin11, "one source per pin");
        assertEquals(0, ints.stream().filter(e -> e.u8(7) == 11).findFirst().orElseThrow().u8(4), "the PCI one");
    }

    @Test
    void manyCpusStillChecksum() {
        MpTable table = new MpTable(MpTable.MAX_CPUS, List.of());
        Parsed p = parse(table.build(0x9fc00), 0x9fc00);
        assertEquals(MpTable.MAX_CPUS, p.ofType(0).size());
        assertEquals(MpTable.MAX_CPUS, p.ofType(2).get(0).u8(1));
    }

    @Test
    void refusesBadShapes() {
        assertThrows(IllegalArgumentException.class, () -> new MpTable(0, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new MpTable(255, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new MpTable.PciRoute(32, 0, 16));
        assertThrows(IllegalArgumentException.class, () -> new MpTable.PciRoute(1, 4, 16));
        assertThrows(IllegalArgumentException.class, () -> new MpTable.PciRoute(1, 0, 24));
        assertThrows(IllegalArgumentException.class, () -> new MpTable(1,
                List.of(new MpTable.PciRoute(1, 0, 16), new MpTable.PciRoute(1, 0, 17))));
        assertThrows(IllegalArgumentException.class, () -> new MpTable(1, List.of()).build(0x9fc08));
    }
}
