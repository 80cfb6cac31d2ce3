package org.vireo.x86.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.vireo.api.memory.GuestMemory;

/**
 * The Intel MultiProcessor Specification 1.4 tables that tell the kernel, without ACPI, how
 * many CPUs there are and how interrupts reach the IOAPIC: the MP floating pointer structure
 * (§4.1) followed by the MP configuration table (§4.2) and its base entries (§4.3).
 *
 * <p>Interrupt routing: ISA IRQ n goes to IOAPIC pin n for n in 0-15 (GSI n = pin n, edge,
 * active high, as the ISA bus conforms to); each {@link PciRoute} adds a level-triggered,
 * active-low entry from its PCI INTx to its pin. ExtINT goes to LINT0 and NMI to LINT1 of
 * every local APIC, the virtual wire mode of §3.6.2.2.
 */
public final class MpTable {

    /**
     * A PCI INTx line and the IOAPIC pin (GSI) it is wired to.
     *
     * @param device the PCI device number on bus 0, 0-31
     * @param pin the interrupt pin, 0 = INTA# to 3 = INTD#
     * @param gsi the IOAPIC input, 0-23
     */
    public record PciRoute(int device, int pin, int gsi) {
        public PciRoute {
            if (device < 0 || device > 31 || pin < 0 || pin > 3 || gsi < 0 || gsi >= IOAPIC_PINS) {
                throw new IllegalArgumentException("bad PCI interrupt route: device " + device + " INT"
                        + (char) ('A' + Math.max(0, Math.min(pin, 3))) + " (pin " + pin + ") -> GSI " + gsi
                        + "; devices are 0-31, pins 0-3, GSIs 0-" + (IOAPIC_PINS - 1));
            }
        }
    }

    /** CPU count limit: APIC ids are 8 bits, 0xff is the broadcast id, and the IOAPIC takes the next id. */
    public static final int MAX_CPUS = 254;
    public static final int IOAPIC_PINS = 24;
    public static final int ISA_IRQS = 16;
    public static final int PCI_BUS_ID = 0;
    public static final int ISA_BUS_ID = 1;
    public static final int IOAPIC_VERSION = 0x11;
    /** An integrated local APIC, as the 82489DX's successors report (version 0x1x). */
    public static final int LAPIC_VERSION = 0x14;

    static final int FLOATING_POINTER_SIZE = 16;
    static final int HEADER_SIZE = 44;
    static final int PROCESSOR_ENTRY_SIZE = 20;
    static final int SMALL_ENTRY_SIZE = 8;

    // Entry types (§4.3).
    static final int PROCESSOR = 0, BUS = 1, IOAPIC = 2, IO_INTERRUPT = 3, LOCAL_INTERRUPT = 4;
    // Interrupt types (§4.3.4, table 4-10).
    static final int INT = 0, NMI = 1, EXTINT = 3;
    // Interrupt flags (§4.3.4, table 4-11): polarity bits 0-1, trigger mode bits 2-3.
    static final int CONFORMS = 0, ACTIVE_LOW = 0x3, LEVEL = 0xc;
    static final int CPU_ENABLED = 1, CPU_BSP = 2;
    /** CPU signature for the processor entries: family 6, model 15, stepping 1 (§4.3.1). */
    static final int CPU_SIGNATURE = (6 << 8) | (15 << 4) | 1;
    /** CPUID.1:EDX feature flags: FPU (bit 0) and on-chip APIC (bit 9). */
    static final int CPU_FEATURES = 1 | (1 << 9);
    private static final int SPEC_REV = 4;

    private final int cpuCount;
    private final List<PciRoute> pciRoutes;

    /**
     * @throws IllegalArgumentException if {@code cpuCount} is not 1 to {@link #MAX_CPUS}, or two
     *         routes name the same PCI INTx
     */
    public MpTable(int cpuCount, List<PciRoute> pciRoutes) {
        if (cpuCount < 1 || cpuCount > MAX_CPUS) {
            throw new IllegalArgumentException("the MP table describes 1 to " + MAX_CPUS + " CPUs, asked for "
                    + cpuCount);
        }
        for (int i = 0; i < pciRoutes.size(); i++) {
            for (int j = 0; j < i; j++) {
                PciRoute a = pciRoutes.get(i), b = pciRoutes.get(j);
                if (a.device() == b.device() && a.pin() == b.pin()) {
                    throw new IllegalArgumentException("PCI device " + a.device() + " pin " + a.pin()
                            + " is routed twice: " + a + " and " + b);
                }
            }
        }
        this.cpuCount = cpuCount;
        this.pciRoutes = List.copyOf(pciRoutes);
    }

    /** The IOAPIC's id: the first after the CPUs' APIC ids 0 to cpuCount - 1. */
    public int ioApicId() {
        return cpuCount;
    }

    /** Number of configuration table entries. */
    public int entryCount() {
        return cpuCount + 2 + 1 + isaEntryCount() + pciRoutes.size() + 2;
    }

    /**
     * ISA IRQs whose pin a PCI route takes are left out, as a BIOS does when it gives an ISA
     * IRQ to PCI, so that no pin has two conflicting trigger modes.
     */
    private int isaEntryCount() {
        int n = 0;
        for (int irq = 0; irq < ISA_IRQS; irq++) {
            if (!pinTakenByPci(irq)) {
                n++;
            }
        }
        return n;
    }

    private boolean pinTakenByPci(int pin) {
        for (PciRoute r : pciRoutes) {
            if (r.gsi() == pin) {
                return true;
            }
        }
        return false;
    }

    /** Bytes of the configuration table (header and base entries). */
    public int configTableSize() {
        return HEADER_SIZE + cpuCount * PROCESSOR_ENTRY_SIZE + (entryCount() - cpuCount) * SMALL_ENTRY_SIZE;
    }

    /** Bytes of both structures: the floating pointer, then the configuration table. */
    public int size() {
        return FLOATING_POINTER_SIZE + configTableSize();
    }

    /**
     * The floating pointer for guest address {@code address} (16-byte aligned) followed by the
     * configuration table it points to, right after it.
     */
    public byte[] build(long address) {
        if ((address & 0xf) != 0 || address < 0 || address + size() > 0xffff_ffffL) {
            throw new IllegalArgumentException(String.format("MP table address 0x%x must be 16-byte aligned"
                    + " and below 4 GiB", address));
        }
        ByteBuffer b = ByteBuffer.allocate(size()).order(ByteOrder.LITTLE_ENDIAN);
        writeFloatingPointer(b, address + FLOATING_POINTER_SIZE);
        writeConfigTable(b.position(FLOATING_POINTER_SIZE).slice().order(ByteOrder.LITTLE_ENDIAN));
        return b.array();
    }

    /** Writes the tables at {@code address}; returns the first address after them. */
    public long writeTo(GuestMemory memory, long address) {
        byte[] bytes = build(address);
        memory.write(address, bytes, 0, bytes.length);
        return address + bytes.length;
    }

    /** §4.1, figure 4-2. */
    private void writeFloatingPointer(ByteBuffer b, long configTable) {
        b.put(0, ascii("_MP_"));
        b.putInt(4, (int) configTable);
        b.put(8, (byte) 1);                 // length in 16-byte paragraphs
        b.put(9, (byte) SPEC_REV);
        // 10: checksum; 11: MP feature byte 1 = 0, a configuration table is present;
        // 12: feature byte 2 = 0, IMCR absent: virtual wire mode.
        b.put(10, checksum(b, 0, FLOATING_POINTER_SIZE));
    }

    /** §4.2, figure 4-3, and the base entries of §4.3 in the order the spec lists them. */
    private void writeConfigTable(ByteBuffer t) {
        int length = configTableSize();
        t.put(0, ascii("PCMP"));
        t.putShort(4, (short) length);
        t.put(6, (byte) SPEC_REV);
        t.put(8, ascii("VIREO   "));
        t.put(16, ascii("PC          "));
        // 28: OEM table pointer 0, 32: OEM table size 0.
        t.putShort(34, (short) entryCount());
        t.putInt(36, (int) PcMemoryMap.LAPIC_BASE);
        // 40: extended table length 0, 42: extended table checksum 0.
        t.position(HEADER_SIZE);
        for (int cpu = 0; cpu < cpuCount; cpu++) {
            t.put((byte) PROCESSOR).put((byte) cpu).put((byte) LAPIC_VERSION)
                    .put((byte) (CPU_ENABLED | (cpu == 0 ? CPU_BSP : 0)))
                    .putInt(CPU_SIGNATURE).putInt(CPU_FEATURES).putLong(0);
        }
        t.put((byte) BUS).put((byte) PCI_BUS_ID).put(ascii("PCI   "));
        t.put((byte) BUS).put((byte) ISA_BUS_ID).put(ascii("ISA   "));
        t.put((byte) IOAPIC).put((byte) ioApicId()).put((byte) IOAPIC_VERSION).put((byte) 1)
                .putInt((int) PcMemoryMap.IOAPIC_BASE);
        for (int irq = 0; irq < ISA_IRQS; irq++) {
            if (!pinTakenByPci(irq)) {
                ioInterrupt(t, CONFORMS, ISA_BUS_ID, irq, irq);
            }
        }
        for (PciRoute r : pciRoutes) {
            // §D.3: a PCI source IRQ is the device number in bits 2-6 and the INTx pin in bits 0-1.
            ioInterrupt(t, ACTIVE_LOW | LEVEL, PCI_BUS_ID, (r.device() << 2) | r.pin(), r.gsi());
        }
        localInterrupt(t, EXTINT, 0);
        localInterrupt(t, NMI, 1);
        if (t.position() != length) {
            throw new IllegalStateException("MP table size mismatch: wrote " + t.position() + ", computed " + length);
        }
        t.put(7, checksum(t, 0, length));
    }

    private void ioInterrupt(ByteBuffer t, int flags, int bus, int busIrq, int pin) {
        t.put((byte) IO_INTERRUPT).put((byte) INT).putShort((short) flags).put((byte) bus).put((byte) busIrq)
                .put((byte) ioApicId()).put((byte) pin);
    }

    /** A local interrupt entry for every local APIC (destination id 0xff). */
    private static void localInterrupt(ByteBuffer t, int type, int lint) {
        t.put((byte) LOCAL_INTERRUPT).put((byte) type).putShort((short) CONFORMS).put((byte) ISA_BUS_ID)
                .put((byte) 0).put((byte) 0xff).put((byte) lint);
    }

    /** The byte that makes the sum of {@code [from, from + length)} zero (§4.1, §4.2 CHECKSUM). */
    private static byte checksum(ByteBuffer b, int from, int length) {
        int sum = 0;
        for (int i = from; i < from + length; i++) {
            sum += b.get(i);
        }
        return (byte) -sum;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
