package org.vireo.x86.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.vireo.api.cpu.Segment;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.memory.GuestMemory;

/** Reads back what the loader wrote into guest memory, the way the kernel and the CPU would. */
final class BootInspector {

    private static final long ADDRESS_MASK = 0x000f_ffff_ffff_f000L;

    private final GuestMemory memory;

    BootInspector(GuestMemory memory) {
        this.memory = memory;
    }

    int u8(long address) {
        return memory.readByte(address) & 0xff;
    }

    int u16(long address) {
        return memory.readShort(address) & 0xffff;
    }

    long u32(long address) {
        return memory.readInt(address) & 0xffffffffL;
    }

    long zeroPage32(int offset) {
        return u32(LowMemory.ZERO_PAGE + offset);
    }

    /** e820_table as written, checking e820_entries. */
    List<E820Map.Entry> e820() {
        int n = u8(LowMemory.ZERO_PAGE + BootParams.E820_ENTRIES);
        List<E820Map.Entry> entries = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long at = LowMemory.ZERO_PAGE + BootParams.E820_TABLE + i * 20L;
            entries.add(new E820Map.Entry(memory.readLong(at), memory.readLong(at + 8), memory.readInt(at + 16)));
        }
        return entries;
    }

    /** The NUL-terminated command line that cmd_line_ptr and ext_cmd_line_ptr point at. */
    String commandLine() {
        long ptr = zeroPage32(SetupHeader.CMD_LINE_PTR) | zeroPage32(BootParams.EXT_CMD_LINE_PTR) << 32;
        byte[] buf = new byte[4096];
        memory.read(ptr, buf, 0, buf.length);
        int len = 0;
        while (buf[len] != 0) {
            len++;
        }
        return new String(buf, 0, len, StandardCharsets.UTF_8);
    }

    /** The MP tables at the EBDA, parsed and checksum-verified. */
    MpTableTest.Parsed mpTable(int expectedSize) {
        byte[] bytes = new byte[expectedSize];
        memory.read(LowMemory.EBDA, bytes, 0, bytes.length);
        return MpTableTest.parse(bytes, LowMemory.EBDA);
    }

    /** Walks the 4-level page tables from CR3 like the MMU; -1 if {@code va} is not mapped. */
    long translate(long cr3, long va) {
        long pml4e = memory.readLong((cr3 & ADDRESS_MASK) + ((va >>> 39) & 511) * 8);
        if ((pml4e & 1) == 0) {
            return -1;
        }
        long pdpte = memory.readLong((pml4e & ADDRESS_MASK) + ((va >>> 30) & 511) * 8);
        if ((pdpte & 1) == 0) {
            return -1;
        }
        if ((pdpte & 0x80) != 0) {
            return (pdpte & 0x000f_ffff_c000_0000L) | (va & 0x3fff_ffffL);
        }
        long pde = memory.readLong((pdpte & ADDRESS_MASK) + ((va >>> 21) & 511) * 8);
        if ((pde & 1) == 0) {
            return -1;
        }
        if ((pde & 0x80) != 0) {
            return (pde & 0x000f_ffff_ffe0_0000L) | (va & 0x1f_ffffL);
        }
        long pte = memory.readLong((pde & ADDRESS_MASK) + ((va >>> 12) & 511) * 8);
        return (pte & 1) == 0 ? -1 : (pte & ADDRESS_MASK) | (va & 0xfff);
    }

    /** The GDT descriptor for {@code selector}, as the CPU reads it from GDTR. */
    long descriptor(X86CpuState cpu, int selector) {
        assertTrue(selector + 7 <= cpu.gdtLimit, "selector 0x" + Integer.toHexString(selector) + " within GDTR limit");
        return memory.readLong(cpu.gdtBase + selector);
    }

    /** Checks what the 64-bit boot protocol asks of the CPU at the kernel's entry. */
    void assertLongModeEntry(X86CpuState cpu, long entry) {
        assertEquals(entry, cpu.rip, "RIP at the 64-bit entry");
        assertEquals(LowMemory.ZERO_PAGE, cpu.gpr[X86CpuState.RSI], "RSI = boot_params");
        assertEquals(0x2, cpu.rflags, "interrupts off");
        assertEquals(X86CpuState.CR0_PE | X86CpuState.CR0_PG | X86CpuState.CR0_ET | X86CpuState.CR0_NE, cpu.cr0);
        assertEquals(X86CpuState.CR4_PAE, cpu.cr4);
        assertEquals(X86CpuState.EFER_LME | X86CpuState.EFER_LMA, cpu.efer);
        assertEquals(LowMemory.PML4, cpu.cr3);
        assertTrue(cpu.in64BitMode());

        assertEquals(0x10, cpu.cs.selector());
        assertEquals(0xb, cpu.cs.type());
        assertTrue(cpu.cs.longMode() && cpu.cs.present() && (cpu.cs.attributes() & Segment.DB) == 0);
        long code = descriptor(cpu, 0x10);
        assertEquals(1, (code >>> 53) & 1, "GDT code descriptor has L set");
        assertEquals(0, (code >>> 54) & 1, "and D clear");
        assertEquals(0x9b, (code >>> 40) & 0xff, "present, DPL 0, execute/read code");
        for (Segment s : List.of(cpu.ds, cpu.es, cpu.ss, cpu.fs, cpu.gs)) {
            assertEquals(0x18, s.selector());
            assertEquals(0x3, s.type());
            assertEquals(0, s.base());
            assertEquals(0xffff_ffff, s.limit());
            assertTrue(s.present() && !s.unusable());
        }
        long data = descriptor(cpu, 0x18);
        assertEquals(0x93, (data >>> 40) & 0xff, "present, DPL 0, read/write data");
        assertEquals(0xf, (data >>> 48) & 0xf, "4 GiB flat");

        assertEquals(0x20, cpu.tr.selector());
        assertEquals(0xb, cpu.tr.type(), "busy 64-bit TSS");
        assertEquals(LowMemory.TSS, cpu.tr.base());
        assertEquals(0x67, cpu.tr.limit());
        long tssLow = descriptor(cpu, 0x20);
        long tssBase = ((tssLow >>> 16) & 0xff_ffff) | ((tssLow >>> 56) & 0xff) << 24
                | memory.readLong(cpu.gdtBase + 0x28) << 32;
        assertEquals(LowMemory.TSS, tssBase);
        assertEquals(0x8b, (tssLow >>> 40) & 0xff);
        assertEquals(LowMemory.IDT, cpu.idtBase);

        long rsp = cpu.gpr[X86CpuState.RSP];
        assertTrue(rsp > LowMemory.STACK_BOTTOM && rsp <= LowMemory.STACK_BOTTOM + 0x1000 && rsp % 16 == 0,
                "RSP in the boot stack page");
        // Identity mapping: kernel, zero page, command line and the MMIO hole's top.
        for (long a : new long[] {0, LowMemory.ZERO_PAGE, LowMemory.CMDLINE, entry, 0x3fff_ffffL, 0x4000_0000L,
            0xfec0_0000L, 0xffff_ffffL}) {
            assertEquals(a, translate(cpu.cr3, a), "identity mapping of 0x" + Long.toHexString(a));
        }
        assertEquals(-1, translate(cpu.cr3, 0x1_0000_0000L), "nothing above 4 GiB");
    }
}
