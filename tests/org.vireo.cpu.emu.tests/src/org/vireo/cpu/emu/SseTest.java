package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * SSE/SSE2 instructions on XMM registers. Expected values of the integer operations were taken
 * from the host CPU (the same instructions run natively on the same inputs).
 */
class SseTest {

    static final long A_LO = 0x7fff0100_ff80007fL, A_HI = 0x00ff8000_000100feL;
    static final long B_LO = 0x0000ffff_01000200L, B_HI = 0x12345678_9abcdef0L;

    /** Runs {@code code} followed by HLT. */
    static CpuHarness exec(CpuHarness h, int... code) {
        int[] withHlt = java.util.Arrays.copyOf(code, code.length + 1);
        withHlt[code.length] = 0xf4;
        h.code(withHlt).run();
        return h;
    }

    static void setXmm(CpuHarness h, int n, long lo, long hi) {
        h.cpu.fpu.xmm[2 * n] = lo;
        h.cpu.fpu.xmm[2 * n + 1] = hi;
    }

    static void assertXmm(CpuHarness h, int n, long hi, long lo) {
        assertEquals(Long.toHexString(hi) + ":" + Long.toHexString(lo),
                Long.toHexString(h.cpu.fpu.xmm[2 * n + 1]) + ":" + Long.toHexString(h.cpu.fpu.xmm[2 * n]), "xmm" + n);
    }

    static long d(double v) {
        return Double.doubleToRawLongBits(v);
    }

    static long f2(float hi, float lo) {
        return (long) Float.floatToRawIntBits(hi) << 32 | (Float.floatToRawIntBits(lo) & 0xffffffffL);
    }

    private static CpuHarness withAB() {
        CpuHarness h = new CpuHarness();
        setXmm(h, 0, A_LO, A_HI);
        setXmm(h, 1, B_LO, B_HI);
        return h;
    }

    @Test
    void alignedFormsRaiseGpOnMisalignedMemory() {
        CpuHarness h = new CpuHarness();
        h.cpu.r[0] = CpuHarness.DATA + 8;
        exec(h, 0x0f, 0x28, 0x00); // movaps xmm0, [rax]
        assertEquals(CpuFault.GP, h.exceptionTaken());

        h = new CpuHarness();
        h.cpu.r[0] = CpuHarness.DATA + 8;
        exec(h, 0x66, 0x0f, 0xfe, 0x00); // paddd xmm0, [rax]
        assertEquals(CpuFault.GP, h.exceptionTaken());

        h = new CpuHarness();
        h.memory.writeLong(CpuHarness.DATA + 8, 0x1122334455667788L);
        h.memory.writeLong(CpuHarness.DATA + 16, 0x99aabbccddeeff00L);
        h.cpu.r[0] = CpuHarness.DATA + 8;
        exec(h, 0x0f, 0x10, 0x00); // movups xmm0, [rax]: no alignment needed
        assertEquals(-1, h.exceptionTaken());
        assertXmm(h, 0, 0x99aabbccddeeff00L, 0x1122334455667788L);
    }

    @Test
    void sseRaisesUdWithoutOsfxsrAndNmWithTs() {
        CpuHarness h = new CpuHarness();
        h.cpu.cr4 &= ~Cpu.CR4_OSFXSR;
        exec(h, 0x0f, 0x58, 0xc1); // addps xmm0, xmm1
        assertEquals(CpuFault.UD, h.exceptionTaken());

        h = new CpuHarness();
        h.cpu.cr0 |= Cpu.CR0_EM;
        exec(h, 0x66, 0x0f, 0xef, 0xc0); // pxor xmm0, xmm0
        assertEquals(CpuFault.UD, h.exceptionTaken());

        h = new CpuHarness();
        h.cpu.cr0 |= Cpu.CR0_TS;
        exec(h, 0x0f, 0x28, 0xc1); // movaps xmm0, xmm1
        assertEquals(CpuFault.NM, h.exceptionTaken());

        h = new CpuHarness();
        exec(h, 0x66, 0x0f, 0x38, 0x00, 0xc1); // pshufb: SSSE3, not reported
        assertEquals(CpuFault.UD, h.exceptionTaken());

        h = new CpuHarness();
        exec(h, 0xf2, 0x0f, 0x12, 0xc1); // movddup: SSE3
        assertEquals(CpuFault.UD, h.exceptionTaken());
    }

    @Test
    void truncatingConversionOfNaNGivesIntegerIndefinite() {
        CpuHarness h = new CpuHarness();
        setXmm(h, 0, d(Double.NaN), 0);
        setXmm(h, 1, d(1e300), 0);
        setXmm(h, 2, d(-2.5), 0);
        exec(h,
                0xf2, 0x0f, 0x2c, 0xc0,       // cvttsd2si eax, xmm0
                0xf2, 0x48, 0x0f, 0x2c, 0xd8, // cvttsd2si rbx, xmm0
                0xf2, 0x48, 0x0f, 0x2d, 0xc9, // cvtsd2si rcx, xmm1
                0xf2, 0x0f, 0x2d, 0xd2);      // cvtsd2si edx, xmm2
        assertEquals(-1, h.exceptionTaken());
        assertEquals(0x80000000L, h.cpu.r[0]);
        assertEquals(0x8000000000000000L, h.cpu.r[3]);
        assertEquals(0x8000000000000000L, h.cpu.r[1]);
        assertEquals(0xfffffffeL, h.cpu.r[2]); // -2.5 to nearest even: -2
        assertEquals(Sse.IE | Sse.PE, h.cpu.fpu.mxcsr & 0x3f);
    }

    @Test
    void conversionsFollowMxcsrRoundingControl() {
        CpuHarness h = new CpuHarness();
        long la = CpuHarness.DATA;
        h.memory.writeInt(la, 0x1f80 | 1 << 13); // RC = down
        h.cpu.r[0] = la;
        h.cpu.r[3] = 0x7fffffffffffffffL;
        setXmm(h, 1, d(-2.5), 0);
        exec(h,
                0x0f, 0xae, 0x10,             // ldmxcsr [rax]
                0x0f, 0xae, 0x58, 0x04,       // stmxcsr [rax+4]
                0xf2, 0x48, 0x0f, 0x2d, 0xc9, // cvtsd2si rcx, xmm1
                0xf2, 0x48, 0x0f, 0x2a, 0xd3, // cvtsi2sd xmm2, rbx
                0xf3, 0x48, 0x0f, 0x2a, 0xdb); // cvtsi2ss xmm3, rbx
        assertEquals(-1, h.exceptionTaken());
        assertEquals(-3, h.cpu.r[1]);
        assertEquals(Math.nextDown(0x1p63), Double.longBitsToDouble(h.cpu.fpu.xmm[4]));
        assertEquals(Math.nextDown(0x1p63f), Float.intBitsToFloat((int) h.cpu.fpu.xmm[6]));
        assertEquals(0x1f80 | 1 << 13, h.memory.readInt(la + 4));
    }

    @Test
    void ldmxcsrWithReservedBitsRaisesGp() {
        CpuHarness h = new CpuHarness();
        h.memory.writeInt(CpuHarness.DATA, 0x11f80);
        h.cpu.r[0] = CpuHarness.DATA;
        exec(h, 0x0f, 0xae, 0x10);
        assertEquals(CpuFault.GP, h.exceptionTaken());
        assertEquals(0x1f80, h.cpu.fpu.mxcsr);
    }

    @Test
    void minAndMaxReturnTheSourceForNaNAndZeros() {
        CpuHarness h = new CpuHarness();
        float nan = Float.intBitsToFloat(0x7fc00001);
        setXmm(h, 0, f2(1.0f, nan), f2(-0.0f, 3.0f));
        setXmm(h, 1, f2(nan, 2.0f), f2(0.0f, 4.0f));
        setXmm(h, 2, d(0.0), d(Double.NaN));
        setXmm(h, 3, d(-0.0), d(7.0));
        exec(h, 0x0f, 0x5d, 0xc1,  // minps xmm0, xmm1
                0x66, 0x0f, 0x5f, 0xd3); // maxpd xmm2, xmm3
        assertEquals(-1, h.exceptionTaken());
        assertXmm(h, 0, f2(0.0f, 3.0f), f2(nan, 2.0f));
        assertXmm(h, 2, d(7.0), d(-0.0));
        assertEquals(Sse.IE, h.cpu.fpu.mxcsr & 0x3f);
    }

    @Test
    void arithmeticAndExceptionFlags() {
        CpuHarness h = new CpuHarness();
        setXmm(h, 0, f2(9f, 1.0f), 0);
        setXmm(h, 1, 0, 0); // divide by zero
        setXmm(h, 3, d(2.0), 0);
        setXmm(h, 4, d(1.5), d(-3.0));
        setXmm(h, 5, d(2.0), d(0.5));
        setXmm(h, 6, f2(1f, 2f), f2(Float.POSITIVE_INFINITY, 0.5f));
        setXmm(h, 7, f2(0.25f, 2f), f2(Float.POSITIVE_INFINITY, 0.25f));
        exec(h,
                0xf3, 0x0f, 0x5e, 0xc1, // divss xmm0, xmm1
                0xf2, 0x0f, 0x51, 0xd3, // sqrtsd xmm2, xmm3
                0x66, 0x0f, 0x59, 0xe5, // mulpd xmm4, xmm5
                0x0f, 0x5c, 0xf7);      // subps xmm6, xmm7
        assertEquals(-1, h.exceptionTaken());
        assertXmm(h, 0, 0, f2(9f, Float.POSITIVE_INFINITY));
        assertEquals(Math.sqrt(2.0), Double.longBitsToDouble(h.cpu.fpu.xmm[4]));
        assertXmm(h, 4, d(-1.5), d(3.0));
        assertXmm(h, 6, 0xffc00000_3e800000L, f2(0.75f, 0f)); // inf - inf: the QNaN indefinite
        assertEquals(Sse.ZE | Sse.IE, h.cpu.fpu.mxcsr & 0x3f);
    }

    @Test
    void unmaskedExceptionRaisesXmAndLeavesTheDestination() {
        CpuHarness h = new CpuHarness();
        h.cpu.fpu.mxcsr = 0x1f80 & ~(Sse.ZE << 7);
        setXmm(h, 0, f2(9f, 1.0f), 0);
        exec(h, 0xf3, 0x0f, 0x5e, 0xc1); // divss xmm0, xmm1
        assertEquals(CpuFault.XM, h.exceptionTaken());
        assertXmm(h, 0, 0, f2(9f, 1.0f));
        assertEquals(Sse.ZE, h.cpu.fpu.mxcsr & 0x3f);

        h = new CpuHarness();
        h.cpu.cr4 &= ~Cpu.CR4_OSXMMEXCPT;
        h.cpu.fpu.mxcsr = 0x1f80 & ~(Sse.ZE << 7);
        setXmm(h, 0, f2(9f, 1.0f), 0);
        exec(h, 0xf3, 0x0f, 0x5e, 0xc1);
        assertEquals(CpuFault.UD, h.exceptionTaken());
    }

    @Test
    void compareSetsMasks() {
        CpuHarness h = new CpuHarness();
        setXmm(h, 0, f2(2f, 1f), f2(Float.NaN, 5f));
        setXmm(h, 1, f2(2f, 3f), f2(1f, 4f));
        setXmm(h, 2, d(1.0), 0x55L);
        setXmm(h, 3, d(Double.NaN), 0);
        setXmm(h, 4, d(1.0), d(2.0));
        setXmm(h, 5, d(1.0), d(3.0));
        exec(h,
                0x0f, 0xc2, 0xc1, 0x01,       // cmpltps xmm0, xmm1
                0xf2, 0x0f, 0xc2, 0xd3, 0x03, // cmpunordsd xmm2, xmm3
                0x66, 0x0f, 0xc2, 0xe5, 0x04); // cmpneqpd xmm4, xmm5
        assertXmm(h, 0, 0, 0x00000000_ffffffffL);
        assertXmm(h, 2, 0x55L, -1L);
        assertXmm(h, 4, -1L, 0);
        assertEquals(Sse.IE, h.cpu.fpu.mxcsr & 0x3f); // LT signals on a QNaN
    }

    @Test
    void comisdSetsZfPfCfAndClearsTheRest() {
        double[][] cases = {{1, 2}, {2, 1}, {3, 3}, {Double.NaN, 1}};
        int[] expected = {Flags.CF, 0, Flags.ZF, Flags.ZF | Flags.PF | Flags.CF};
        for (int k = 0; k < cases.length; k++) {
            CpuHarness h = new CpuHarness();
            setXmm(h, 0, d(cases[k][0]), 0);
            setXmm(h, 1, d(cases[k][1]), 0);
            h.cpu.flags.setEager(Flags.ARITH);
            exec(h, 0x66, 0x0f, 0x2f, 0xc1); // comisd xmm0, xmm1
            assertEquals(expected[k], h.rflags() & Flags.ARITH, "case " + k);
        }
        CpuHarness h = new CpuHarness();
        setXmm(h, 2, Float.floatToRawIntBits(Float.NaN), 0);
        exec(h, 0x0f, 0x2e, 0xd3); // ucomiss xmm2, xmm3: a quiet NaN does not signal
        assertEquals(Flags.ZF | Flags.PF | Flags.CF, h.rflags() & Flags.ARITH);
        assertEquals(0, h.cpu.fpu.mxcsr & 0x3f);
    }

    @Test
    void shuffles() {
        CpuHarness h = withAB();
        exec(h,
                0x66, 0x0f, 0x70, 0xc8, 0x1b,  // pshufd xmm1, xmm0, 0x1b
                0xf2, 0x0f, 0x70, 0xd0, 0x1b,  // pshuflw xmm2, xmm0, 0x1b
                0xf3, 0x0f, 0x70, 0xd8, 0x1b); // pshufhw xmm3, xmm0, 0x1b
        assertXmm(h, 1, 0xff80007f7fff0100L, 0x000100fe00ff8000L);
        assertXmm(h, 2, 0x00ff8000000100feL, 0x007fff8001007fffL);
        assertXmm(h, 3, 0x00fe0001800000ffL, A_LO);
    }

    @Test
    void moveMaskAndCompareForEqual() {
        CpuHarness h = withAB();
        setXmm(h, 2, 0x0011223344556677L, 0x8899aabbccddeeffL);
        setXmm(h, 1, 0x0011003344556600L, 0x0099aabbccddeeffL);
        exec(h,
                0x66, 0x0f, 0xd7, 0xc0, // pmovmskb eax, xmm0
                0x66, 0x0f, 0x74, 0xca, // pcmpeqb xmm1, xmm2
                0x66, 0x0f, 0xd7, 0xd9, // pmovmskb ebx, xmm1
                0x66, 0x0f, 0xef, 0xdb); // pxor xmm3, xmm3
        assertEquals(0x614c, h.cpu.r[0]);
        assertXmm(h, 1, 0x00ffffffffffffffL, 0xffff00ffffffff00L);
        assertEquals(0x7fde, h.cpu.r[3]);
        assertXmm(h, 3, 0, 0);
    }

    @Test
    void packsSaturate() {
        CpuHarness h = withAB();
        setXmm(h, 2, A_LO, A_HI);
        setXmm(h, 3, B_LO, B_HI);
        setXmm(h, 4, A_LO, A_HI);
        setXmm(h, 5, B_LO, B_HI);
        exec(h,
                0x66, 0x0f, 0x67, 0xc1, // packuswb xmm0, xmm1
                0x66, 0x0f, 0x63, 0xd3, // packsswb xmm2, xmm3
                0x66, 0x0f, 0x6b, 0xe5); // packssdw xmm4, xmm5
        assertXmm(h, 0, 0xffff00000000ffffL, 0xff0001feffff007fL);
        assertXmm(h, 2, 0x7f7f808000ff7f7fL, 0x7f80017f7f7f807fL);
        assertXmm(h, 4, 0x7fff80007fff7fffL, 0x7fff7fff7fff8000L);
    }

    @Test
    void wholeRegisterAndElementShifts() {
        CpuHarness h = withAB();
        setXmm(h, 1, A_LO, A_HI);
        setXmm(h, 3, A_LO, A_HI);
        setXmm(h, 4, 0x8000000000000001L, 1);
        setXmm(h, 5, 4, 0);
        exec(h,
                0x66, 0x0f, 0x73, 0xd8, 0x03, // psrldq xmm0, 3
                0x66, 0x0f, 0x73, 0xf9, 0x09, // pslldq xmm1, 9
                0x66, 0x0f, 0x71, 0xe3, 0x14, // psraw xmm3, 20
                0x66, 0x0f, 0xf3, 0xe5);      // psllq xmm4, xmm5
        assertXmm(h, 0, 0x00000000ff800000L, 0x0100fe7fff0100ffL);
        assertXmm(h, 1, 0xff0100ff80007f00L, 0);
        assertXmm(h, 3, 0x0000ffff00000000L, 0x00000000ffff0000L);
        assertXmm(h, 4, 0x10, 0x10);
    }

    @Test
    void multiplyAddAndSums() {
        CpuHarness h = withAB();
        setXmm(h, 2, A_LO, A_HI);
        setXmm(h, 3, B_LO, B_HI);
        setXmm(h, 4, A_LO, A_HI);
        setXmm(h, 5, B_LO, B_HI);
        setXmm(h, 6, 0xffffffff_ffffffffL, 3);
        setXmm(h, 7, 0x12345678_ffffffffL, 5);
        exec(h,
                0x66, 0x0f, 0xf5, 0xc1, // pmaddwd xmm0, xmm1
                0x66, 0x0f, 0xf6, 0xd3, // psadbw xmm2, xmm3
                0x66, 0x0f, 0xe5, 0xe5, // pmulhw xmm4, xmm5
                0x66, 0x0f, 0xf4, 0xf7); // pmuludq xmm6, xmm7
        assertXmm(h, 0, 0xd4d621ccffdeccdcL, 0xffffff0000007e00L);
        assertXmm(h, 2, 0x3c0, 0x57a);
        assertXmm(h, 4, 0x0012d4c4ffffffdfL, 0x0000ffffffff0000L);
        assertXmm(h, 6, 15, 0xfffffffe00000001L);
    }

    @Test
    void unpacksAndShufps() {
        CpuHarness h = new CpuHarness();
        setXmm(h, 0, 0x11111111_00000000L, 0x33333333_22222222L);
        setXmm(h, 1, 0xbbbbbbbb_aaaaaaaaL, 0xdddddddd_ccccccccL);
        setXmm(h, 2, 0x11111111_00000000L, 0x33333333_22222222L);
        setXmm(h, 3, 0xbbbbbbbb_aaaaaaaaL, 0xdddddddd_ccccccccL);
        setXmm(h, 4, 0x0706050403020100L, -1);
        setXmm(h, 5, 0x1716151413121110L, -1);
        setXmm(h, 6, 1, 0x33333333_22222222L);
        setXmm(h, 7, 2, 0xdddddddd_ccccccccL);
        setXmm(h, 8, 1, 2);
        setXmm(h, 9, 3, 4);
        exec(h,
                0x0f, 0x14, 0xc1,             // unpcklps xmm0, xmm1
                0x0f, 0xc6, 0xd3, 0xb1,       // shufps xmm2, xmm3, 0xb1
                0x66, 0x0f, 0x60, 0xe5,       // punpcklbw xmm4, xmm5
                0x66, 0x0f, 0x6a, 0xf7,       // punpckhdq xmm6, xmm7
                0x66, 0x45, 0x0f, 0x6c, 0xc1); // punpcklqdq xmm8, xmm9
        assertXmm(h, 0, 0xbbbbbbbb_11111111L, 0xaaaaaaaa_00000000L);
        assertXmm(h, 2, 0xccccccccddddddddL, 0x0000000011111111L);
        assertXmm(h, 4, 0x1707160615051404L, 0x1303120211011000L);
        assertXmm(h, 6, 0xdddddddd_33333333L, 0xcccccccc_22222222L);
        assertXmm(h, 8, 3, 1);
    }

    @Test
    void movesBetweenRegistersAndMemory() {
        CpuHarness h = new CpuHarness();
        long la = CpuHarness.DATA;
        h.memory.writeLong(la, 0x0123456789abcdefL);
        h.memory.writeLong(la + 8, 0xfedcba9876543210L);
        h.memory.writeLong(la + 16, 0x1111111111111111L);
        h.cpu.r[0] = 0xaabbccdd11223344L;
        h.cpu.r[3] = la;
        setXmm(h, 2, -1, -1);
        setXmm(h, 3, 0x55667788L, 9);
        setXmm(h, 4, 0x4444L, 9);
        setXmm(h, 5, -1, -1);
        setXmm(h, 6, 0x66666666_66666666L, 6);
        setXmm(h, 7, 0x77777777_77777777L, 7);
        exec(h,
                0x66, 0x0f, 0x6e, 0xc0,             // movd xmm0, eax
                0x66, 0x48, 0x0f, 0x6e, 0xc8,       // movq xmm1, rax
                0xf3, 0x0f, 0x7e, 0x13,             // movq xmm2, [rbx]
                0x66, 0x0f, 0x7e, 0xd9,             // movd ecx, xmm3
                0x66, 0x0f, 0xd6, 0x63, 0x08,       // movq [rbx+8], xmm4
                0xf2, 0x0f, 0x10, 0x2b,             // movsd xmm5, [rbx]
                0xf3, 0x0f, 0x10, 0xf7,             // movss xmm6, xmm7
                0xf3, 0x44, 0x0f, 0x6f, 0x43, 0x01, // movdqu xmm8, [rbx+1]
                0x66, 0x44, 0x0f, 0x7f, 0x43, 0x10); // movdqa [rbx+16], xmm8
        assertEquals(-1, h.exceptionTaken());
        assertXmm(h, 0, 0, 0x11223344L);
        assertXmm(h, 1, 0, 0xaabbccdd11223344L);
        assertXmm(h, 2, 0, 0x0123456789abcdefL);
        assertEquals(0x55667788L, h.cpu.r[1]);
        assertEquals(0x4444L, h.memory.readLong(la + 8));
        assertXmm(h, 5, 0, 0x0123456789abcdefL);
        assertXmm(h, 6, 6, 0x66666666_77777777L);
        assertXmm(h, 8, 0x1100000000000044L, 0x440123456789abcdL);
        assertEquals(0x440123456789abcdL, h.memory.readLong(la + 16));
    }

    @Test
    void insertAndExtractWords() {
        CpuHarness h = new CpuHarness();
        h.cpu.r[0] = 0xabcd1234L;
        exec(h,
                0x66, 0x0f, 0xc4, 0xc0, 0x05, // pinsrw xmm0, eax, 5
                0x66, 0x0f, 0xc5, 0xd8, 0x05); // pextrw ebx, xmm0, 5
        assertXmm(h, 0, 0x12340000L, 0);
        assertEquals(0x1234, h.cpu.r[3]);
    }

    @Test
    void floatConversions() {
        CpuHarness h = new CpuHarness();
        setXmm(h, 1, f2(-1.5f, 0.1f), -1);
        setXmm(h, 3, d(1e300), d(1.0 / 3));
        setXmm(h, 5, 0x7fffffff_80000000L, 0x00000001_ffffffffL);
        setXmm(h, 7, f2(-2.5f, 2.5f), f2(3e9f, Float.NaN));
        setXmm(h, 9, 0xfffffffd_00000007L, -1);
        setXmm(h, 11, d(-2.5), d(3.5));
        setXmm(h, 13, Float.floatToRawIntBits(0.1f), 0);
        setXmm(h, 14, 0x12345678_00000000L, 99);
        setXmm(h, 15, d(1.0 / 3), 0);
        exec(h,
                0x0f, 0x5a, 0xc1,              // cvtps2pd xmm0, xmm1
                0x66, 0x0f, 0x5a, 0xd3,        // cvtpd2ps xmm2, xmm3
                0x0f, 0x5b, 0xe5,              // cvtdq2ps xmm4, xmm5
                0xf3, 0x0f, 0x5b, 0xf7,        // cvttps2dq xmm6, xmm7
                0xf3, 0x45, 0x0f, 0xe6, 0xc1,  // cvtdq2pd xmm8, xmm9
                0xf2, 0x45, 0x0f, 0xe6, 0xd3,  // cvtpd2dq xmm10, xmm11
                0xf3, 0x45, 0x0f, 0x5a, 0xe5,  // cvtss2sd xmm12, xmm13
                0xf2, 0x45, 0x0f, 0x5a, 0xf7); // cvtsd2ss xmm14, xmm15
        assertEquals(-1, h.exceptionTaken());
        assertXmm(h, 0, d(-1.5), d(0.1f));
        assertXmm(h, 2, 0, f2((float) (1.0 / 3), Float.POSITIVE_INFINITY));
        assertXmm(h, 4, f2(1f, -1f), f2(0x1p31f, -0x1p31f));
        assertXmm(h, 6, 0x80000000_80000000L, 0xfffffffe_00000002L);
        assertXmm(h, 8, d(-3), d(7));
        assertXmm(h, 10, 0, 0x00000004_fffffffeL);
        assertXmm(h, 12, 0, d(0.1f));
        assertXmm(h, 14, 99, 0x12345678_00000000L | Float.floatToRawIntBits((float) (1.0 / 3)));
    }
}
