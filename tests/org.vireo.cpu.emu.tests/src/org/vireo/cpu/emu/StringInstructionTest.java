package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** String instructions backwards (DF=1) and with REP/REPE/REPNE, against the SDM's register updates. */
class StringInstructionTest {

    private static final int RAX = 0, RCX = 1, RSI = 6, RDI = 7;
    private static final long SRC = CpuHarness.DATA, DST = CpuHarness.DATA + 0x100;

    private static CpuHarness harness(int... code) {
        int[] withHlt = java.util.Arrays.copyOf(code, code.length + 1);
        withHlt[code.length] = 0xf4;
        return new CpuHarness().code(withHlt);
    }

    private static void runToHlt(CpuHarness h) {
        assertEquals(Executor.Stop.HALTED, h.run());
        assertEquals(-1, h.exceptionTaken(), "no exception");
    }

    private static void bytes(CpuHarness h, long address, int... values) {
        for (int k = 0; k < values.length; k++) {
            h.memory.writeByte(address + k, (byte) values[k]);
        }
    }

    @Test
    void repMovsbBackwardsCopiesFromTheTopDown() {
        // std; rep movsb with RSI/RDI at the last byte of 4.
        CpuHarness h = harness(0xfd, 0xf3, 0xa4);
        bytes(h, SRC, 1, 2, 3, 4);
        h.cpu.r[RSI] = SRC + 3;
        h.cpu.r[RDI] = DST + 3;
        h.cpu.r[RCX] = 4;
        runToHlt(h);
        assertEquals(0x04030201, h.memory.readInt(DST));
        assertEquals(SRC - 1, h.cpu.r[RSI]);
        assertEquals(DST - 1, h.cpu.r[RDI]);
        assertEquals(0, h.cpu.r[RCX]);
    }

    @Test
    void overlappingBackwardMoveIsMemmove() {
        // std; rep movsb moving "abcd" up by one byte within itself: the DF=1 memmove idiom.
        CpuHarness h = harness(0xfd, 0xf3, 0xa4);
        bytes(h, SRC, 'a', 'b', 'c', 'd', 0);
        h.cpu.r[RSI] = SRC + 3;
        h.cpu.r[RDI] = SRC + 4;
        h.cpu.r[RCX] = 4;
        runToHlt(h);
        assertEquals('a', h.memory.readByte(SRC + 1));
        assertEquals('d', h.memory.readByte(SRC + 4));
    }

    @Test
    void repStosdBackwardsStepsByFour() {
        // std; rep stosd, 3 dwords ending at DST + 8.
        CpuHarness h = harness(0xfd, 0xf3, 0xab);
        h.cpu.r[RAX] = 0xffff_ffff_cafe_f00dL;
        h.cpu.r[RDI] = DST + 8;
        h.cpu.r[RCX] = 3;
        runToHlt(h);
        for (int k = 0; k < 3; k++) {
            assertEquals(0xcafe_f00d, h.memory.readInt(DST + 4L * k));
        }
        assertEquals(DST - 4, h.cpu.r[RDI]);
        assertEquals(0, h.cpu.r[RCX]);
    }

    @Test
    void repeCmpsbBackwardsStopsAfterTheFirstDifference() {
        // std; repe cmpsb over "wxyz" vs "wqyz" from the end: stops after comparing x with q.
        CpuHarness h = harness(0xfd, 0xf3, 0xa6);
        bytes(h, SRC, 'w', 'x', 'y', 'z');
        bytes(h, DST, 'w', 'q', 'y', 'z');
        h.cpu.r[RSI] = SRC + 3;
        h.cpu.r[RDI] = DST + 3;
        h.cpu.r[RCX] = 4;
        runToHlt(h);
        assertEquals(1, h.cpu.r[RCX], "three comparisons done");
        assertEquals(SRC, h.cpu.r[RSI]);
        assertEquals(DST, h.cpu.r[RDI]);
        assertEquals(0, h.cpu.rflags() & Flags.ZF);
        assertEquals(0, h.cpu.rflags() & Flags.CF, "'x' > 'q': no borrow");
    }

    @Test
    void repneScasbBackwardsFindsTheLastMatch() {
        // std; repne scasb for 'k' in "kakb" from the end.
        CpuHarness h = harness(0xfd, 0xf2, 0xae);
        bytes(h, DST, 'k', 'a', 'k', 'b');
        h.cpu.r[RAX] = 'k';
        h.cpu.r[RDI] = DST + 3;
        h.cpu.r[RCX] = 10;
        runToHlt(h);
        assertEquals(DST + 1, h.cpu.r[RDI], "RDI passed the match at DST + 2");
        assertEquals(8, h.cpu.r[RCX]);
        assertEquals(Flags.ZF, h.cpu.rflags() & Flags.ZF);
    }

    @Test
    void lodsqBackwardsAndRepWithZeroCountDoesNothing() {
        // std; lodsq; rep stosb with RCX = 0.
        CpuHarness h = harness(0xfd, 0x48, 0xad, 0xf3, 0xaa);
        h.memory.writeLong(SRC + 8, 0x0102_0304_0506_0708L);
        h.memory.writeByte(DST, (byte) 0x77);
        h.cpu.r[RSI] = SRC + 8;
        h.cpu.r[RDI] = DST;
        h.cpu.r[RCX] = 0;
        runToHlt(h);
        assertEquals(0x0102_0304_0506_0708L, h.cpu.r[RAX]);
        assertEquals(SRC, h.cpu.r[RSI]);
        assertEquals(DST, h.cpu.r[RDI]);
        assertEquals(0x77, h.memory.readByte(DST));
    }

    @Test
    void addressSizePrefixUsesEsiEdiAndEcx() {
        // rep movsb with 0x67: ECX counts and ESI/EDI address; junk in the upper halves is ignored.
        CpuHarness h = harness(0x67, 0xf3, 0xa4);
        bytes(h, SRC, 9, 8);
        h.cpu.r[RSI] = 0xffff_ffff_0000_0000L | SRC;
        h.cpu.r[RDI] = 0x1234_5678_0000_0000L | DST;
        h.cpu.r[RCX] = 0x1_0000_0002L;
        runToHlt(h);
        assertEquals(0x0809, h.memory.readShort(DST));
        // Writes of ESI, EDI and ECX clear the upper halves, as on hardware (checked on AMD).
        assertEquals(SRC + 2, h.cpu.r[RSI]);
        assertEquals(DST + 2, h.cpu.r[RDI]);
        assertEquals(0, h.cpu.r[RCX]);
    }
}
