package org.vireo.x86.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.vireo.api.cpu.Segment;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.memory.GuestMemory;

/**
 * What a CPU needs to be in 64-bit mode at the kernel's entry, written where {@link LowMemory}
 * says: a GDT with the flat __BOOT_CS (0x10) and __BOOT_DS (0x18) of boot.rst's 64-bit boot
 * protocol and a TSS, an empty IDT, identity page tables for the first 4 GiB, and the register
 * state that goes with them, as if the loader had executed the mode switch itself.
 */
public final class LongModeSetup {

    public static final int BOOT_CS = 0x10;
    public static final int BOOT_DS = 0x18;
    public static final int BOOT_TSS = 0x20;

    /** 64-bit code: P, DPL 0, S, type 0xb (execute/read, accessed), L, G; base 0, limit 0xfffff pages. */
    static final long CODE_DESCRIPTOR = 0x00af_9b00_0000_ffffL;
    /** Data: P, DPL 0, S, type 0x3 (read/write, accessed), D/B, G; base 0, limit 0xfffff pages. */
    static final long DATA_DESCRIPTOR = 0x00cf_9300_0000_ffffL;
    /** A busy 64-bit TSS (Intel SDM vol. 3 §3.5, table 3-2), as LTR would leave it. */
    static final int TSS_TYPE_BUSY = 0xb;

    // Paging structure entry bits (Intel SDM vol. 3 §4.5, tables 4-15 to 4-18).
    static final long PAGE_PRESENT = 1, PAGE_WRITABLE = 1 << 1, PAGE_SIZE_2M = 1 << 7;
    static final long TWO_MIB = 2L << 20;

    private LongModeSetup() {
    }

    /** Writes the GDT, TSS, IDT and page tables into their places in low memory. */
    public static void write(GuestMemory memory) {
        memory.write(LowMemory.GDT, gdt(), 0, LowMemory.GDT_SIZE);
        memory.fill(LowMemory.IDT, LowMemory.IDT_SIZE, (byte) 0);
        byte[] tss = new byte[LowMemory.TSS_SIZE];
        // I/O map base at the TSS limit: no I/O permission bitmap (Intel SDM vol. 3 §8.7, §19.5.2).
        tss[0x66] = (byte) LowMemory.TSS_SIZE;
        memory.write(LowMemory.TSS, tss, 0, tss.length);
        writePageTables(memory);
    }

    /** The GDT's bytes: null, unused, code, data, and the 16-byte TSS descriptor. */
    static byte[] gdt() {
        ByteBuffer g = ByteBuffer.allocate(LowMemory.GDT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        g.putLong(BOOT_CS, CODE_DESCRIPTOR);
        g.putLong(BOOT_DS, DATA_DESCRIPTOR);
        long base = LowMemory.TSS;
        long limit = LowMemory.TSS_SIZE - 1;
        // System-segment descriptor in IA-32e mode (Intel SDM vol. 3 §8.2.3, figure 8-4).
        long low = (limit & 0xffff) | (base & 0xff_ffffL) << 16 | (long) TSS_TYPE_BUSY << 40 | 1L << 47
                | ((limit >>> 16) & 0xf) << 48 | ((base >>> 24) & 0xff) << 56;
        g.putLong(BOOT_TSS, low);
        g.putLong(BOOT_TSS + 8, base >>> 32);
        return g.array();
    }

    /**
     * PML4 -> one PDPT -> four page directories of 2 MiB pages, mapping [0, 4 GiB) onto
     * itself, so the kernel, the zero page and the command line are all reachable.
     */
    static void writePageTables(GuestMemory memory) {
        memory.fill(LowMemory.PML4, LowMemory.PAGE_TABLES_END - LowMemory.PML4, (byte) 0);
        memory.writeLong(LowMemory.PML4, LowMemory.PDPT | PAGE_PRESENT | PAGE_WRITABLE);
        ByteBuffer pd = ByteBuffer.allocate(0x1000).order(ByteOrder.LITTLE_ENDIAN);
        for (int dir = 0; dir < LowMemory.PAGE_DIRECTORY_COUNT; dir++) {
            long directory = LowMemory.PAGE_DIRECTORIES + dir * 0x1000L;
            memory.writeLong(LowMemory.PDPT + dir * 8L, directory | PAGE_PRESENT | PAGE_WRITABLE);
            for (int i = 0; i < 512; i++) {
                long frame = ((long) dir * 512 + i) * TWO_MIB;
                pd.putLong(i * 8, frame | PAGE_PRESENT | PAGE_WRITABLE | PAGE_SIZE_2M);
            }
            memory.write(directory, pd.array(), 0, 0x1000);
        }
    }

    /**
     * The boot CPU in 64-bit mode with paging on, interrupts off, at {@code entry} with RSI
     * pointing at the zero page (boot.rst, "64-bit Boot Protocol").
     */
    public static X86CpuState bootCpuState(long entry, long bootParams) {
        X86CpuState s = new X86CpuState();
        s.cr0 = X86CpuState.CR0_PE | X86CpuState.CR0_ET | X86CpuState.CR0_NE | X86CpuState.CR0_PG;
        s.cr3 = LowMemory.PML4;
        s.cr4 = X86CpuState.CR4_PAE;
        s.efer = X86CpuState.EFER_LME | X86CpuState.EFER_LMA;

        // Descriptor caches as loading the GDT entries above would fill them (attributes in
        // the VMX access-rights layout that Segment uses; limits expanded by G to bytes).
        s.cs = new Segment(BOOT_CS, 0, 0xffff_ffff,
                0xb | Segment.S | Segment.PRESENT | Segment.LONG | Segment.GRANULARITY);
        Segment data = new Segment(BOOT_DS, 0, 0xffff_ffff,
                0x3 | Segment.S | Segment.PRESENT | Segment.DB | Segment.GRANULARITY);
        s.ds = data;
        s.es = data;
        s.ss = data;
        s.fs = data;
        s.gs = data;
        s.tr = new Segment(BOOT_TSS, LowMemory.TSS, LowMemory.TSS_SIZE - 1, TSS_TYPE_BUSY | Segment.PRESENT);
        s.ldtr = Segment.NULL;
        s.gdtBase = LowMemory.GDT;
        s.gdtLimit = LowMemory.GDT_SIZE - 1;
        s.idtBase = LowMemory.IDT;
        s.idtLimit = 0;

        s.rflags = X86CpuState.RFLAGS_RESERVED;
        s.rip = entry;
        s.gpr[X86CpuState.RSI] = bootParams;
        s.gpr[X86CpuState.RSP] = LowMemory.STACK_TOP;
        return s;
    }
}
