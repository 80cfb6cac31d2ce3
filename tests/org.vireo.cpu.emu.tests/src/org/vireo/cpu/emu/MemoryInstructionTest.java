package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * FS/GS-relative addressing (SDM vol. 1 §3.3.7.1: in 64-bit mode only FS and GS add a base)
 * and the page faults of 4-level paging (SDM vol. 3 §4.6, §4.7: CR2 and the error code's
 * P, W/R, U/S and I/D bits).
 */
class MemoryInstructionTest {

    private static final int RAX = 0, RCX = 1, RBX = 3, RSP = 4, RSI = 6, RDI = 7;
    private static final long DATA = CpuHarness.DATA;

    /** Page table for the last 2 MiB of the harness's 16 MiB, replacing its large page. */
    private static final long PAGE_TABLE = 0x9000, REGION = 0xe0_0000L;
    private static final long SUPERVISOR = REGION, READ_ONLY = REGION + 0x1000, ABSENT = REGION + 0x2000,
            NO_EXECUTE = REGION + 0x3000;
    private static final long P = 1, RW = 2, US = 4, ACCESSED = 0x20, DIRTY = 0x40, NX = 1L << 63;

    private static CpuHarness harness(int... code) {
        int[] withHlt = java.util.Arrays.copyOf(code, code.length + 1);
        withHlt[code.length] = 0xf4;
        return new CpuHarness().code(withHlt);
    }

    private static void runToHlt(CpuHarness h) {
        assertEquals(Executor.Stop.HALTED, h.run());
        assertEquals(-1, h.exceptionTaken(), "no exception");
    }

    /** 4 KiB pages at 0xE00000: supervisor RW, user read-only, absent, user RW no-execute. */
    private static CpuHarness paged(int... code) {
        CpuHarness h = harness(code);
        h.memory.writeLong(0x3000 + 8 * 7, PAGE_TABLE | P | RW | US);
        h.memory.writeLong(PAGE_TABLE + 8 * 0, SUPERVISOR | P | RW);
        h.memory.writeLong(PAGE_TABLE + 8 * 1, READ_ONLY | P | US);
        h.memory.writeLong(PAGE_TABLE + 8 * 2, 0);
        h.memory.writeLong(PAGE_TABLE + 8 * 3, NO_EXECUTE | P | RW | US | NX);
        h.cpu.mmu.flushAll();
        return h;
    }

    /** Asserts a #PF at {@code rip} for {@code address} with {@code errorCode}; the frame sits at RSP. */
    private static void assertPageFault(CpuHarness h, long address, int errorCode, long rip) {
        assertEquals(CpuFault.PF, h.exceptionTaken(), "#PF");
        assertEquals(address, h.cpu.cr2, "CR2");
        long sp = h.cpu.r[RSP];
        assertEquals(errorCode, h.memory.readLong(sp), "error code");
        assertEquals(rip, h.memory.readLong(sp + 8), "RIP of the faulting instruction");
    }

    private static int[] absolute(int[] prefixAndOpcode, long address) {
        int[] code = java.util.Arrays.copyOf(prefixAndOpcode, prefixAndOpcode.length + 4);
        for (int k = 0; k < 4; k++) {
            code[prefixAndOpcode.length + k] = (int) (address >>> (8 * k)) & 0xff;
        }
        return code;
    }

    // ---- FS and GS ----

    @Test
    void fsPrefixAddsTheFsBase() {
        // mov rax, fs:[0x10]
        CpuHarness h = harness(absolute(new int[] {0x64, 0x48, 0x8b, 0x04, 0x25}, 0x10));
        h.cpu.fsBase = DATA;
        h.memory.writeLong(DATA + 0x10, 0x0bad_cafe_f00d_d00dL);
        runToHlt(h);
        assertEquals(0x0bad_cafe_f00d_d00dL, h.cpu.r[RAX]);
    }

    @Test
    void gsPrefixAddsTheGsBaseToBaseAndDisplacement() {
        // mov gs:[rbx+8], rcx
        CpuHarness h = harness(0x65, 0x48, 0x89, 0x4b, 0x08);
        h.cpu.gsBase = DATA + 0x100;
        h.cpu.r[RBX] = 0x20;
        h.cpu.r[RCX] = 0x1122_3344_5566_7788L;
        runToHlt(h);
        assertEquals(0x1122_3344_5566_7788L, h.memory.readLong(DATA + 0x128));
    }

    @Test
    void segmentBaseIsAddedModulo2To64() {
        // mov rax, fs:[rbx] with RBX = -0x100: the sum wraps below the base.
        CpuHarness h = harness(0x64, 0x48, 0x8b, 0x03);
        h.cpu.fsBase = DATA + 0x200;
        h.cpu.r[RBX] = -0x100;
        h.memory.writeLong(DATA + 0x100, 42);
        runToHlt(h);
        assertEquals(42, h.cpu.r[RAX]);
    }

    @Test
    void thirtyTwoBitAddressIsTruncatedBeforeTheFsBaseIsAdded() {
        // mov eax, fs:[ebx] (0x67): junk above EBX is dropped, then the 64-bit FS base is added.
        CpuHarness h = harness(0x64, 0x67, 0x8b, 0x03);
        h.cpu.fsBase = DATA;
        h.cpu.r[RBX] = 0xffff_ffff_0000_0040L;
        h.memory.writeInt(DATA + 0x40, 0x7777_7777);
        runToHlt(h);
        assertEquals(0x7777_7777L, h.cpu.r[RAX]);
    }

    @Test
    void leaIgnoresTheSegmentBase() {
        // lea rax, fs:[rbx+8]
        CpuHarness h = harness(0x64, 0x48, 0x8d, 0x43, 0x08);
        h.cpu.fsBase = 0x5000_0000L;
        h.cpu.r[RBX] = 0x1000;
        runToHlt(h);
        assertEquals(0x1008, h.cpu.r[RAX]);
    }

    @Test
    void stringSourceTakesTheOverrideButTheDestinationStaysUnsegmented() {
        // movsq with an FS override: reads fs:[rsi], writes [rdi].
        CpuHarness h = harness(0x64, 0x48, 0xa5);
        h.cpu.fsBase = DATA + 0x800;
        h.cpu.r[RSI] = 0x10;
        h.cpu.r[RDI] = DATA + 0x20;
        h.memory.writeLong(DATA + 0x810, 99);
        runToHlt(h);
        assertEquals(99, h.memory.readLong(DATA + 0x20));
        assertEquals(0x18, h.cpu.r[RSI]);
        assertEquals(DATA + 0x28, h.cpu.r[RDI]);
    }

    // ---- page faults ----

    @Test
    void readOfAnAbsentPageFaultsWithCr2AndErrorCodeZero() {
        CpuHarness h = paged(absolute(new int[] {0x48, 0x8b, 0x04, 0x25}, ABSENT + 0x10)); // mov rax, [abs]
        h.run();
        assertPageFault(h, ABSENT + 0x10, 0, CpuHarness.CODE);
    }

    @Test
    void writeToAnAbsentPageSetsTheWriteBit() {
        CpuHarness h = paged(absolute(new int[] {0x48, 0x89, 0x04, 0x25}, ABSENT + 8)); // mov [abs], rax
        h.run();
        assertPageFault(h, ABSENT + 8, 2, CpuHarness.CODE);
    }

    @Test
    void supervisorWriteToAReadOnlyPageFaultsWhenCr0WpIsSet() {
        CpuHarness h = paged(absolute(new int[] {0x89, 0x04, 0x25}, READ_ONLY)); // mov [abs], eax
        h.run();
        assertPageFault(h, READ_ONLY, 3, CpuHarness.CODE);
        assertEquals(0, h.memory.readInt(READ_ONLY), "nothing written");
    }

    @Test
    void supervisorWriteToAReadOnlyPageSucceedsWithoutCr0Wp() {
        CpuHarness h = paged(absolute(new int[] {0x89, 0x04, 0x25}, READ_ONLY));
        h.cpu.cr0 &= ~Cpu.CR0_WP;
        h.cpu.mmu.flushAll();
        h.cpu.r[RAX] = 0x1234_5678;
        runToHlt(h);
        assertEquals(0x1234_5678, h.memory.readInt(READ_ONLY));
        assertEquals(ACCESSED | DIRTY, h.memory.readLong(PAGE_TABLE + 8) & (ACCESSED | DIRTY), "A and D set by the write");
    }

    @Test
    void fetchFromANoExecutePageFaultsWithTheInstructionFetchBit() {
        // mov eax, NO_EXECUTE; mov rbx, [rax] (data reads are fine); jmp rax
        CpuHarness h = paged(0xb8, (int) NO_EXECUTE & 0xff, (int) (NO_EXECUTE >>> 8) & 0xff,
                (int) (NO_EXECUTE >>> 16) & 0xff, 0, 0x48, 0x8b, 0x18, 0xff, 0xe0);
        h.run();
        assertPageFault(h, NO_EXECUTE, 0x11, NO_EXECUTE);
        assertEquals(ACCESSED, h.memory.readLong(PAGE_TABLE + 24) & (ACCESSED | DIRTY), "read: accessed, not dirty");
    }

    @Test
    void userAccessToASupervisorPageFaults() {
        // At CPL 3: mov rax, [SUPERVISOR]. The fault is taken on the kernel stack from TSS.RSP0.
        CpuHarness h = paged(absolute(new int[] {0x48, 0x8b, 0x04, 0x25}, SUPERVISOR + 0x40));
        enterUserMode(h);
        h.run();
        assertPageFault(h, SUPERVISOR + 0x40, 5, CpuHarness.CODE);
        assertEquals(CpuHarness.STACK - 48, h.cpu.r[RSP], "error code, RIP, CS, RFLAGS, RSP, SS on RSP0");
        assertEquals(CpuHarness.USER_CS, h.memory.readLong(h.cpu.r[RSP] + 16));
    }

    @Test
    void userWriteToAReadOnlyPageFaultsEvenWithoutCr0Wp() {
        CpuHarness h = paged(absolute(new int[] {0x89, 0x04, 0x25}, READ_ONLY));
        h.cpu.cr0 &= ~Cpu.CR0_WP;
        enterUserMode(h);
        h.run();
        assertPageFault(h, READ_ONLY, 7, CpuHarness.CODE);
    }

    private static void enterUserMode(CpuHarness h) {
        h.cpu.cpl = 3;
        h.cpu.cs = Cpu.segmentOf(CpuHarness.USER_CS, h.memory.readLong(CpuHarness.GDT + (CpuHarness.USER_CS & ~3)));
        h.cpu.ss = Cpu.segmentOf(CpuHarness.USER_DS, h.memory.readLong(CpuHarness.GDT + (CpuHarness.USER_DS & ~3)));
        h.cpu.r[RSP] = 0x90000;
        h.cpu.mmu.flushAll();
    }
}
