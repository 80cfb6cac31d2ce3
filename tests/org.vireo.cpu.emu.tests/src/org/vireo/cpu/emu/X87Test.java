package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The x87 FPU: the kernel's probe, exact 80-bit loads and stores, rounding, comparisons, FXAM. */
class X87Test {

    private static final long DATA = CpuHarness.DATA;

    private static CpuHarness harness() {
        CpuHarness h = new CpuHarness();
        h.cpu.r[3] = DATA; // rbx
        return h;
    }

    private static int top(CpuHarness h) {
        return (h.cpu.fpu.fsw >>> 11) & 7;
    }

    /** ST(i) as a double. */
    private static double st(CpuHarness h, int i) {
        int p = (top(h) + i) & 7;
        return Fp80.toDouble(h.cpu.fpu.st[2 * p], (int) h.cpu.fpu.st[2 * p + 1]);
    }

    @Test
    void kernelProbeSeesAnFpu() {
        CpuHarness h = harness();
        h.cpu.fpu.fsw = 0x1234;
        h.cpu.fpu.fcw = 0;
        h.memory.writeShort(DATA + 2, (short) 0x27f);
        SseTest.exec(h,
                0xdb, 0xe3,        // fninit
                0xdf, 0xe0,        // fnstsw ax
                0xd9, 0x3b,        // fnstcw [rbx]
                0xd9, 0x6b, 0x02); // fldcw [rbx+2]
        assertEquals(-1, h.exceptionTaken());
        assertEquals(0, h.cpu.r[0] & 0xffff);
        assertEquals(0x37f, h.memory.readShort(DATA) & 0xffff);
        assertEquals(0x27f, h.cpu.fpu.fcw);
        assertEquals(0, h.cpu.fpu.ftw);
    }

    @Test
    void extendedLoadsAndStoresAreExact() {
        CpuHarness h = harness();
        // 1.5 as an 80-bit value with bits beyond double's precision, then -0.0.
        h.memory.writeLong(DATA, 0xc000000000000001L);
        h.memory.writeShort(DATA + 8, (short) 0x3fff);
        h.memory.writeLong(DATA + 32, Double.doubleToRawLongBits(-0.0));
        SseTest.exec(h,
                0xdb, 0x2b,        // fld tbyte [rbx]
                0xdb, 0x7b, 0x10,  // fstp tbyte [rbx+16]
                0xdd, 0x43, 0x20,  // fld qword [rbx+32]
                0xdb, 0x7b, 0x30); // fstp tbyte [rbx+48]
        assertEquals(0xc000000000000001L, h.memory.readLong(DATA + 16));
        assertEquals(0x3fff, h.memory.readShort(DATA + 24) & 0xffff);
        assertEquals(0L, h.memory.readLong(DATA + 48));
        assertEquals(0x8000, h.memory.readShort(DATA + 56) & 0xffff);
        assertEquals(0, h.cpu.fpu.ftw);
        assertEquals(0, top(h));
    }

    @Test
    void storesRoundFromTheFullSignificand() {
        CpuHarness h = harness();
        // 1 + 2^-24 + 2^-60: a tie for single precision broken by a bit beyond double's reach.
        h.memory.writeLong(DATA, 0x8000008000000010L);
        h.memory.writeShort(DATA + 8, (short) 0x3fff);
        SseTest.exec(h,
                0xdb, 0x2b,        // fld tbyte [rbx]
                0xd9, 0x5b, 0x10); // fstp dword [rbx+16]
        assertEquals(Float.floatToRawIntBits(Math.nextUp(1.0f)), h.memory.readInt(DATA + 16));
    }

    @Test
    void fistpFollowsTheRoundingControl() {
        int[] expected = {2, 2, 3, 2, -2, -3, -2, -2}; // 2.5 then -2.5 under RC = nearest, down, up, zero
        for (int k = 0; k < 8; k++) {
            CpuHarness h = harness();
            h.memory.writeShort(DATA, (short) (0x37f | (k & 3) << 10));
            h.memory.writeLong(DATA + 8, Double.doubleToRawLongBits(k < 4 ? 2.5 : -2.5));
            SseTest.exec(h,
                    0xd9, 0x2b,        // fldcw [rbx]
                    0xdd, 0x43, 0x08,  // fld qword [rbx+8]
                    0xdb, 0x5b, 0x10); // fistp dword [rbx+16]
            assertEquals(expected[k], h.memory.readInt(DATA + 16), "case " + k);
        }
    }

    @Test
    void integerLoadsAndStoresAreExactAndSaturateToIndefinite() {
        CpuHarness h = harness();
        h.memory.writeLong(DATA, 0x7fffffffffffffffL);
        h.memory.writeLong(DATA + 8, Double.doubleToRawLongBits(-7.9));
        SseTest.exec(h,
                0xdf, 0x2b,       // fild qword [rbx]
                0xdf, 0x7b, 0x10, // fistp qword [rbx+16]
                0xdd, 0x43, 0x08, // fld qword [rbx+8]
                0xdd, 0x4b, 0x18, // fisttp qword [rbx+24]
                0xdf, 0x2b,       // fild qword [rbx]
                0xdf, 0x5b, 0x20); // fistp word [rbx+32]: out of range
        assertEquals(0x7fffffffffffffffL, h.memory.readLong(DATA + 16));
        assertEquals(-7L, h.memory.readLong(DATA + 24));
        assertEquals((short) 0x8000, h.memory.readShort(DATA + 32));
        assertEquals(X87.IE, h.cpu.fpu.fsw & 0x3f);
    }

    @Test
    void fcomiSetsZfPfCf() {
        double[][] cases = {{1, 2}, {2, 1}, {3, 3}, {Double.NaN, 1}};
        // fcomi st, st(1) with ST(0) = cases[k][1], ST(1) = cases[k][0].
        int[] expected = {0, Flags.CF, Flags.ZF, Flags.ZF | Flags.PF | Flags.CF};
        for (int k = 0; k < cases.length; k++) {
            CpuHarness h = harness();
            h.memory.writeLong(DATA, Double.doubleToRawLongBits(cases[k][0]));
            h.memory.writeLong(DATA + 8, Double.doubleToRawLongBits(cases[k][1]));
            h.cpu.flags.setEager(Flags.ARITH);
            SseTest.exec(h,
                    0xdd, 0x03,       // fld qword [rbx]
                    0xdd, 0x43, 0x08, // fld qword [rbx+8]
                    0xdf, 0xe9);      // fucomip st, st(1)
            assertEquals(expected[k], h.rflags() & Flags.ARITH, "case " + k);
            assertEquals(7, top(h));
        }
    }

    @Test
    void fcomSetsConditionCodes() {
        CpuHarness h = harness();
        h.memory.writeLong(DATA, Double.doubleToRawLongBits(5.0));
        h.memory.writeLong(DATA + 8, Double.doubleToRawLongBits(-1.0));
        SseTest.exec(h,
                0xdd, 0x03,       // fld qword [rbx]: 5
                0xdd, 0x43, 0x08, // fld qword [rbx+8]: -1
                0xd8, 0xd1,       // fcom st(1): -1 < 5
                0xdf, 0xe0);      // fnstsw ax
        assertEquals(X87.C0, h.cpu.r[0] & (X87.C0 | X87.C2 | X87.C3));
    }

    @Test
    void fxamClassifies() {
        // {significand, sign+exponent, expected C3 C2 C0 | C1}
        long[][] cases = {
            {0x8000000000000000L, 0x3fff, X87.C2},                     // normal
            {0, 0x8000, X87.C3 | X87.C1},                              // -0
            {0x8000000000000000L, 0x7fff, X87.C2 | X87.C0},            // +inf
            {0xc000000000000000L, 0xffff, X87.C0 | X87.C1},            // -NaN
            {0x0000000000000001L, 0x0000, X87.C3 | X87.C2},            // denormal
            {0x4000000000000000L, 0x3fff, 0},                          // unnormal: unsupported
        };
        for (long[] c : cases) {
            CpuHarness h = harness();
            h.memory.writeLong(DATA, c[0]);
            h.memory.writeShort(DATA + 8, (short) c[1]);
            SseTest.exec(h,
                    0xdb, 0x2b,  // fld tbyte [rbx]
                    0xd9, 0xe5); // fxam
            assertEquals(c[2], h.cpu.fpu.fsw & (X87.C0 | X87.C1 | X87.C2 | X87.C3), Long.toHexString(c[0]));
        }
        CpuHarness h = harness();
        SseTest.exec(h, 0xd9, 0xe5); // fxam of an empty register: C3 and C0
        assertEquals(X87.C3 | X87.C0, h.cpu.fpu.fsw & (X87.C0 | X87.C2 | X87.C3));
    }

    @Test
    void arithmeticForms() {
        CpuHarness h = harness();
        h.memory.writeLong(DATA, Double.doubleToRawLongBits(8.0));
        SseTest.exec(h,
                0xd9, 0xe8,  // fld1
                0xd9, 0xeb,  // fldpi
                0xde, 0xc1,  // faddp st(1), st: 1 + pi
                0xdd, 0x03,  // fld qword [rbx]: 8
                0xd8, 0xf9,  // fdivr st, st(1): (1 + pi) / 8
                0xdc, 0xe9,  // fsub st(1), st: ST(1) = (1 + pi) - (1 + pi) / 8
                0xde, 0xe1); // fsubrp st(1), st: ST(1) = ST(0) - ST(1), pop
        double a = 1 + Math.PI;
        assertEquals(a / 8 - (a - a / 8), st(h, 0), 1e-15);
        assertEquals(7, top(h));
        assertEquals(0x80, h.cpu.fpu.ftw);
    }

    @Test
    void constantsAreTheRoundedExtendedValues() {
        CpuHarness h = harness();
        SseTest.exec(h, 0xd9, 0xeb); // fldpi
        assertEquals(0xc90fdaa22168c235L, h.cpu.fpu.st[14]);
        assertEquals(0x4000, h.cpu.fpu.st[15]);
    }

    @Test
    void stackOverflowGivesIndefinite() {
        CpuHarness h = harness();
        int[] code = new int[18];
        for (int k = 0; k < 9; k++) {
            code[2 * k] = 0xd9;
            code[2 * k + 1] = 0xe8; // fld1, nine times
        }
        SseTest.exec(h, code);
        assertEquals(-1, h.exceptionTaken());
        assertEquals(X87.IE | X87.SF, h.cpu.fpu.fsw & 0x7f);
        assertEquals(X87.C1, h.cpu.fpu.fsw & X87.C1);
        int p = top(h);
        assertEquals(Fp80.INDEFINITE_MANT, h.cpu.fpu.st[2 * p]);
        assertEquals(Fp80.INDEFINITE_SE, h.cpu.fpu.st[2 * p + 1]);
    }

    @Test
    void unmaskedExceptionIsDeliveredByTheNextWaitingInstruction() {
        CpuHarness h = harness();
        h.memory.writeShort(DATA, (short) (0x37f & ~X87.ZE));
        h.memory.writeLong(DATA + 8, 0);
        SseTest.exec(h,
                0xd9, 0x2b,       // fldcw [rbx]: divide-by-zero unmasked
                0xd9, 0xe8,       // fld1
                0xdc, 0x73, 0x08, // fdiv qword [rbx+8]: ZE, pending
                0xdf, 0xe0,       // fnstsw ax: does not wait
                0x9b);            // fwait: #MF
        assertEquals(CpuFault.MF, h.exceptionTaken());
        assertEquals(X87.ZE | X87.ES | X87.BUSY, h.cpu.r[0] & (X87.ZE | X87.ES | X87.BUSY));
        assertEquals(1.0, st(h, 0)); // the destination was left alone
    }

    @Test
    void remainderAndRounding() {
        CpuHarness h = harness();
        h.memory.writeLong(DATA, Double.doubleToRawLongBits(3.0));
        h.memory.writeLong(DATA + 8, Double.doubleToRawLongBits(17.5));
        SseTest.exec(h,
                0xdd, 0x03,       // fld qword [rbx]: 3
                0xdd, 0x43, 0x08, // fld qword [rbx+8]: 17.5
                0xd9, 0xf8,       // fprem: 17.5 = 5 * 3 + 2.5
                0xdf, 0xe0);      // fnstsw ax
        assertEquals(2.5, st(h, 0));
        // Quotient 5 = 0b101: C0 = bit 2, C3 = bit 1, C1 = bit 0; C2 = 0 (complete).
        assertEquals(X87.C0 | X87.C1, h.cpu.r[0] & (X87.C0 | X87.C1 | X87.C2 | X87.C3));

        h = harness();
        h.memory.writeShort(DATA, (short) (0x37f | Fp80.RC_UP << 10));
        h.memory.writeLong(DATA + 8, Double.doubleToRawLongBits(-2.5));
        SseTest.exec(h,
                0xd9, 0x2b,       // fldcw [rbx]
                0xdd, 0x43, 0x08, // fld qword [rbx+8]
                0xd9, 0xfc);      // frndint: up
        assertEquals(-2.0, st(h, 0));
    }

    @Test
    void environmentAndStateRoundTrip() {
        CpuHarness h = harness();
        SseTest.exec(h,
                0xd9, 0xe8, // fld1
                0xd9, 0xee, // fldz
                0xdd, 0x33, // fnsave [rbx]: then FNINIT
                0xd9, 0xeb, // fldpi
                0xdd, 0x23); // frstor [rbx]
        assertEquals(-1, h.exceptionTaken());
        assertEquals(0x37f, h.memory.readInt(DATA) & 0xffff);
        assertEquals(6 << 11, h.memory.readInt(DATA + 4) & 0xffff); // TOP = 6
        assertEquals(0x1fff, h.memory.readInt(DATA + 8) & 0xffff);  // zero in 6, valid in 7, the rest empty
        assertEquals(0.0, st(h, 0));
        assertEquals(1.0, st(h, 1));
        assertEquals(6, top(h));
        assertEquals(0xc0, h.cpu.fpu.ftw);
    }

    @Test
    void fcmovMovesOnTheCondition() {
        CpuHarness h = harness();
        h.cpu.flags.setEager(Flags.CF);
        SseTest.exec(h,
                0xd9, 0xe8,  // fld1
                0xd9, 0xee,  // fldz
                0xda, 0xc1,  // fcmovb st, st(1): CF = 1, moves
                0xd9, 0xee,  // fldz
                0xdb, 0xd2); // fcmovnbe st, st(2): CF = 1, does not move
        assertEquals(0.0, st(h, 0));
        assertEquals(1.0, st(h, 1));
    }
}
