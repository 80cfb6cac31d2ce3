package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * Edge cases of the integer instructions with the exact registers and flags the SDM gives
 * (vol. 2, each instruction's "Flags Affected"): shifts by 0 and by the width or more,
 * ADC/SBB with a carry in, IMUL/IDIV overflow and #DE, and BSF/BSR of zero.
 */
class ArithmeticInstructionTest {

    private static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4;
    private static final int CF = Flags.CF, PF = Flags.PF, AF = Flags.AF, ZF = Flags.ZF, SF = Flags.SF,
            OF = Flags.OF;

    /** A harness with {@code code} then HLT at CODE. */
    private static CpuHarness harness(int... code) {
        int[] withHlt = java.util.Arrays.copyOf(code, code.length + 1);
        withHlt[code.length] = 0xf4;
        return new CpuHarness().code(withHlt);
    }

    private static void runToHlt(CpuHarness h) {
        assertEquals(Executor.Stop.HALTED, h.run());
        assertEquals(-1, h.exceptionTaken(), "no exception");
    }

    private static int arith(CpuHarness h) {
        return (int) h.cpu.rflags() & Flags.ARITH;
    }

    // ---- shifts and rotates ----

    @Test
    void shiftByZeroKeepsFlagsButClearsTheUpperHalfOfA32BitRegister() {
        // stc; shl eax, cl (CL = 0)
        CpuHarness h = harness(0xf9, 0xd3, 0xe0);
        h.cpu.r[RAX] = 0xdead_beef_8000_0001L;
        h.cpu.r[RCX] = 0x100; // CL = 0
        h.cpu.flags.setEager(ZF | SF);
        runToHlt(h);
        assertEquals(0x8000_0001L, h.cpu.r[RAX], "a 32-bit destination is written even for a count of 0");
        assertEquals(CF | ZF | SF, arith(h), "flags are unaffected by a count of 0");
    }

    @Test
    void countIsMaskedTo6BitsFor64BitOperands() {
        // shl rax, cl with CL = 64: masked to 0, nothing changes.
        CpuHarness h = harness(0x48, 0xd3, 0xe0);
        h.cpu.r[RAX] = 0x1234_5678_9abc_def0L;
        h.cpu.r[RCX] = 64;
        h.cpu.flags.setEager(OF | PF);
        runToHlt(h);
        assertEquals(0x1234_5678_9abc_def0L, h.cpu.r[RAX]);
        assertEquals(OF | PF, arith(h));
    }

    @Test
    void byteShiftsByTheWidthOrMore() {
        // shr al, cl (CL = 8): all bits out; mov bl, 0x80; sar bl, cl (CL = 8): sign fill.
        CpuHarness h = harness(0xd2, 0xe8, 0xd2, 0xfb);
        h.cpu.r[RAX] = 0xff;
        h.cpu.r[RBX] = 0x80;
        h.cpu.r[RCX] = 8;
        runToHlt(h);
        assertEquals(0, h.cpu.r[RAX]);
        assertEquals(0xff, h.cpu.r[RBX]);
        int f = arith(h);
        assertEquals(CF, f & CF, "SAR: CF is the last bit shifted out, the sign");
        assertEquals(SF | PF, f & (SF | ZF | PF), "SAR result 0xff: SF, PF");
    }

    @Test
    void shiftByOneSetsOverflowFromTheTopBits() {
        // shl al, 1 with 0x40 -> 0x80: OF = MSB(result) xor CF = 1.
        CpuHarness h = harness(0xd0, 0xe0);
        h.cpu.r[RAX] = 0x40;
        runToHlt(h);
        assertEquals(0x80, h.cpu.r[RAX]);
        assertEquals(OF | SF, arith(h) & (CF | OF | SF | ZF));
    }

    @Test
    void rotateByTheWidthOnlySetsCarry() {
        // rol ax, 16: masked count 16, the value comes back; CF = LSB of the result (SDM "ROL").
        CpuHarness h = harness(0x66, 0xc1, 0xc0, 0x10);
        h.cpu.r[RAX] = 0xffff_ffff_0000_8001L;
        h.cpu.flags.setEager(ZF);
        runToHlt(h);
        assertEquals(0xffff_ffff_0000_8001L, h.cpu.r[RAX]);
        assertEquals(CF | ZF, arith(h) & (CF | ZF | SF | PF | AF));
    }

    @Test
    void rotateThroughCarryByNineIsTheIdentityForBytes() {
        // stc; rcl al, cl (CL = 9): the 9-bit rotate comes full circle, CF included.
        CpuHarness h = harness(0xf9, 0xd2, 0xd0);
        h.cpu.r[RAX] = 0x5a;
        h.cpu.r[RCX] = 9;
        runToHlt(h);
        assertEquals(0x5a, h.cpu.r[RAX]);
        assertEquals(CF, arith(h) & CF);
    }

    @Test
    void shldShiftsInFromTheSource() {
        // shld eax, ebx, 4
        CpuHarness h = harness(0x0f, 0xa4, 0xd8, 0x04);
        h.cpu.r[RAX] = 0xffff_ffff_1234_5678L;
        h.cpu.r[RBX] = 0xabcd_0000L;
        runToHlt(h);
        assertEquals(0x2345_678aL, h.cpu.r[RAX]);
        assertEquals(CF, arith(h) & (CF | ZF | SF), "CF: bit 28 of 0x12345678, the last one shifted out");
    }

    // ---- ADC / SBB ----

    @Test
    void adcAddsTheCarryIn() {
        // stc; adc rax, 0 with RAX = -1: 0 with a carry out.
        CpuHarness h = harness(0xf9, 0x48, 0x83, 0xd0, 0x00);
        h.cpu.r[RAX] = -1;
        runToHlt(h);
        assertEquals(0, h.cpu.r[RAX]);
        assertEquals(CF | ZF | PF | AF, arith(h));
    }

    @Test
    void adcIntoTheSignBitOverflows() {
        // stc; adc al, 0 with AL = 0x7f -> 0x80.
        CpuHarness h = harness(0xf9, 0x14, 0x00);
        h.cpu.r[RAX] = 0x7f;
        runToHlt(h);
        assertEquals(0x80, h.cpu.r[RAX]);
        assertEquals(OF | SF | AF, arith(h));
    }

    @Test
    void sbbSubtractsTheBorrowIn() {
        // stc; sbb eax, 0 with EAX = 0: 0xffffffff, borrow out; upper half cleared.
        CpuHarness h = harness(0xf9, 0x83, 0xd8, 0x00);
        h.cpu.r[RAX] = 0x7777_7777_0000_0000L;
        runToHlt(h);
        assertEquals(0xffff_ffffL, h.cpu.r[RAX]);
        assertEquals(CF | SF | AF | PF, arith(h));
    }

    @Test
    void sbbWithEqualOperandsAndBorrowGivesMinusOne() {
        // stc; sbb rbx, rbx: -1 with CF, the idiom for "mask from carry".
        CpuHarness h = harness(0xf9, 0x48, 0x19, 0xdb);
        h.cpu.r[RBX] = 0x1234;
        runToHlt(h);
        assertEquals(-1L, h.cpu.r[RBX]);
        assertEquals(CF | SF | AF | PF, arith(h));
    }

    // ---- IMUL / IDIV ----

    @Test
    void threeOperandImulOverflowSetsCarryAndOverflow() {
        // imul rax, rax, 4 with RAX = 2^62: the product needs 65 bits.
        CpuHarness h = harness(0x48, 0x6b, 0xc0, 0x04);
        h.cpu.r[RAX] = 1L << 62;
        runToHlt(h);
        assertEquals(0, h.cpu.r[RAX]);
        assertEquals(CF | OF, arith(h) & (CF | OF));
    }

    @Test
    void oneOperandImulFillsRdxWithTheSign() {
        // imul rbx with RAX = -3, RBX = 5: RDX:RAX = -15, fits in RAX: CF = OF = 0.
        CpuHarness h = harness(0x48, 0xf7, 0xeb);
        h.cpu.r[RAX] = -3;
        h.cpu.r[RBX] = 5;
        h.cpu.flags.setEager(CF | OF);
        runToHlt(h);
        assertEquals(-15, h.cpu.r[RAX]);
        assertEquals(-1, h.cpu.r[RDX]);
        assertEquals(0, arith(h) & (CF | OF));
    }

    @Test
    void idivRoundsTowardsZero() {
        // idiv ecx: EDX:EAX = -7, ECX = 2 -> quotient -3, remainder -1 (zero-extended into RAX, RDX).
        CpuHarness h = harness(0xf7, 0xf9);
        h.cpu.r[RAX] = 0xffff_fff9L;
        h.cpu.r[RDX] = 0xffff_ffffL;
        h.cpu.r[RCX] = 2;
        runToHlt(h);
        assertEquals(0xffff_fffdL, h.cpu.r[RAX]);
        assertEquals(0xffff_ffffL, h.cpu.r[RDX]);
    }

    @Test
    void idivOfTheMinimumByMinusOneRaisesDe() {
        // idiv rbx: RDX:RAX = -2^63, RBX = -1: the quotient 2^63 does not fit.
        CpuHarness h = harness(0x48, 0xf7, 0xfb);
        h.cpu.r[RAX] = Long.MIN_VALUE;
        h.cpu.r[RDX] = -1;
        h.cpu.r[RBX] = -1;
        h.run();
        assertEquals(CpuFault.DE, h.exceptionTaken());
        assertEquals(CpuHarness.CODE, h.memory.readLong(h.cpu.r[RSP]), "#DE is a fault: RIP of the IDIV");
        assertEquals(Long.MIN_VALUE, h.cpu.r[RAX], "registers unchanged");
        assertEquals(-1, h.cpu.r[RDX]);
    }

    @Test
    void divisionByZeroRaisesDe() {
        // div ecx with ECX = 0 (upper half of RCX set: only ECX counts).
        CpuHarness h = harness(0xf7, 0xf1);
        h.cpu.r[RCX] = 0x1_0000_0000L;
        h.cpu.r[RAX] = 10;
        h.run();
        assertEquals(CpuFault.DE, h.exceptionTaken());
        assertEquals(10, h.cpu.r[RAX]);
    }

    @Test
    void byteIdivQuotientOverflowRaisesDe() {
        // idiv bl: AX = 0x4000 (16384), BL = 2 -> 8192 does not fit in AL.
        CpuHarness h = harness(0xf6, 0xfb);
        h.cpu.r[RAX] = 0x4000;
        h.cpu.r[RBX] = 2;
        h.run();
        assertEquals(CpuFault.DE, h.exceptionTaken());
    }

    // ---- BSF / BSR ----

    @Test
    void bitScanOfZeroLeavesTheDestinationAndSetsZf() {
        // bsf rbx, rax; then bsr rdx, rax with RAX = 0.
        CpuHarness h = harness(0x48, 0x0f, 0xbc, 0xd8, 0x48, 0x0f, 0xbd, 0xd0);
        h.cpu.r[RAX] = 0;
        h.cpu.r[RBX] = 0x1234_5678_9abc_def0L;
        h.cpu.r[RDX] = -2;
        runToHlt(h);
        assertEquals(0x1234_5678_9abc_def0L, h.cpu.r[RBX]);
        assertEquals(-2, h.cpu.r[RDX]);
        assertEquals(ZF, arith(h) & ZF);
    }

    @Test
    void bitScanFindsTheLowestAndHighestSetBits() {
        // bsf rbx, rax; bsr rdx, rax with RAX = 0x0010_0000_0000_0100.
        CpuHarness h = harness(0x48, 0x0f, 0xbc, 0xd8, 0x48, 0x0f, 0xbd, 0xd0);
        h.cpu.r[RAX] = 0x0010_0000_0000_0100L;
        h.cpu.flags.setEager(ZF);
        runToHlt(h);
        assertEquals(8, h.cpu.r[RBX]);
        assertEquals(52, h.cpu.r[RDX]);
        assertEquals(0, arith(h) & ZF);
    }
}
