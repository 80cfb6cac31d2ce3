package org.vireo.cpu.emu;

/**
 * SSE, SSE2 and MMX instructions, and FXSAVE/FXRSTOR/LDMXCSR/STMXCSR (Intel SDM vol. 1 ch. 9-11,
 * vol. 2 per instruction). CPUID reports nothing newer, so the 0F 38 and 0F 3A maps and the
 * SSE3 forms (F2/F3 0F 12, F3 0F 16, 0F 7C/7D, 0F D0, F2 0F F0) raise #UD.
 *
 * <p>Floating point: Java's float and double arithmetic is IEEE round-to-nearest-even, which is
 * what the default MXCSR asks for; arithmetic ignores MXCSR.RC (conversions follow it), and the
 * denormals-are-zero and flush-to-zero bits are ignored. NaN results follow the SDM's rules
 * (first operand's NaN, quieted; the QNaN indefinite for invalid operations). Exception flags
 * raised: invalid, divide-by-zero, overflow, and precision on conversions; denormal and
 * underflow are not. An unmasked exception raises #XM with CR4.OSXMMEXCPT, else #UD, and leaves
 * the destination alone.
 *
 * <p>MMX registers are the significands of the x87 physical registers ({@link FpuState#st}):
 * an MMX instruction sets TOP to 0 and every tag valid, a write sets the sign and exponent to
 * all ones, and EMMS empties the tags (SDM vol. 1 §9.5).
 */
final class Sse {

    // MXCSR (SDM vol. 1 §10.2.3): flags in bits 0-5, their masks in 7-12, rounding control in 13-14.
    static final int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 0x10, PE = 0x20;
    private static final int MASK_SHIFT = 7, RC_SHIFT = 13;

    private static final long M32 = SsePacked.M32;
    private static final int QUIET32 = 0x00400000;
    private static final long QUIET64 = 0x0008000000000000L;
    private static final int INDEFINITE32 = 0xffc00000;
    private static final long INDEFINITE64 = 0xfff8000000000000L;

    /** The FXSAVE area's first 464 bytes are the processor's; 464-511 are software's and never written. */
    private static final int FXSAVE_WRITTEN = 464;

    /** Opcodes (0F map, no mandatory prefix) that are MMX instructions on MMX registers. */
    private static final boolean[] MMX_FORM = new boolean[256];

    static {
        for (int op = 0x60; op <= 0x7f; op++) {
            MMX_FORM[op] = op <= 0x6b || op >= 0x6e && (op <= 0x77 || op >= 0x7e);
        }
        for (int op = 0xd1; op <= 0xfe; op++) {
            MMX_FORM[op] = op != 0xd6 && op != 0xe6 && op != 0xf0;
        }
        MMX_FORM[0xc4] = true;
        MMX_FORM[0xc5] = true;
    }

    private final Cpu cpu;
    private final FpuState f;
    private final long[] x;
    private final byte[] image = new byte[512];

    /** The source operand of the current instruction, loaded by the source* methods. */
    private long sLo, sHi;
    /** MXCSR exception flags the current instruction raised, committed by {@link #commit}. */
    private int exc;

    Sse(Cpu cpu) {
        this.cpu = cpu;
        this.f = cpu.fpu;
        this.x = cpu.fpu.xmm;
    }

    /** Whether {@code op}, an opcode of the 0F map (low byte), is an MMX/SSE/SSE2 instruction this class executes. */
    static boolean handles(int op) {
        return (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) || (op >= 0x50 && op <= 0x7f)
                || (op >= 0xc2 && op <= 0xc6) || (op >= 0xd0 && op <= 0xfe);
    }

    void execute(Insn i) {
        if (i.op >= Insn.MAP_0F38) {
            throw CpuFault.ud(); // SSSE3, SSE4: not reported by CPUID
        }
        int op = i.op & 0xff;
        int pfx = i.ssePrefix();
        if (pfx == 0 && MMX_FORM[op]) {
            mmx(i, op);
            return;
        }
        if (op == 0xc3) {
            // MOVNTI: a general-register store, outside the SSE state's CR0/CR4 checks.
            if (!i.memory() || pfx != 0) {
                throw CpuFault.ud();
            }
            int size = i.rexW() ? 8 : 4;
            cpu.write(cpu.ea(i), size, cpu.reg(i.reg, size));
            return;
        }
        checkSse();
        exc = 0;
        switch (op) {
            case 0x10 -> moveLoad(i, pfx);
            case 0x11 -> moveStore(i, pfx);
            case 0x12, 0x13, 0x16, 0x17 -> moveHalf(i, op, pfx);
            case 0x14, 0x15 -> unpackFloat(i, op == 0x15, pfx);
            case 0x28, 0x29, 0x2b -> moveAligned(i, op, pfx);
            case 0x2a -> convertFromInteger(i, pfx);
            case 0x2c, 0x2d -> convertToInteger(i, pfx, op == 0x2c);
            case 0x2e, 0x2f -> compareToFlags(i, pfx, op == 0x2f);
            case 0x50 -> moveMaskFloat(i, pfx);
            case 0x51, 0x58, 0x59, 0x5c, 0x5d, 0x5e, 0x5f -> arithmetic(i, op, pfx);
            case 0x52, 0x53 -> reciprocal(i, op == 0x52, pfx);
            case 0x54, 0x55, 0x56, 0x57 -> logicFloat(i, op, pfx);
            case 0x5a -> convertFloatWidth(i, pfx);
            case 0x5b -> convertPackedInteger(i, pfx);
            case 0xc2 -> compare(i, pfx);
            case 0xc6 -> shuffleFloat(i, pfx);
            case 0xe6 -> convertE6(i, pfx);
            case 0xd6 -> moveQuadD6(i, pfx);
            default -> {
                if (pfx == 0x66) {
                    xmmInteger(i, op);
                } else if (pfx == 0xf3 && (op == 0x6f || op == 0x7f)) {
                    moveDqu(i, op == 0x7f);
                } else if (pfx != 0 && op == 0x70) {
                    // F3: PSHUFHW, F2: PSHUFLW.
                    source128(i, true);
                    int imm = (int) i.imm & 0xff;
                    long lo = pfx == 0xf2 ? SsePacked.shuffleWords(sLo, imm) : sLo;
                    long hi = pfx == 0xf3 ? SsePacked.shuffleWords(sHi, imm) : sHi;
                    setXmm(i.reg, lo, hi);
                } else if (pfx == 0xf3 && op == 0x7e) {
                    source64(i); // MOVQ xmm, xmm/m64
                    setXmm(i.reg, sLo, 0);
                } else {
                    throw CpuFault.ud();
                }
            }
        }
    }

    // ---- exceptions (SDM vol. 3 §13.1; vol. 1 §11.5) ----

    /** #UD with CR0.EM set or CR4.OSFXSR clear; #NM with CR0.TS set (lazy state switching). */
    private void checkSse() {
        if ((cpu.cr0 & Cpu.CR0_EM) != 0 || (cpu.cr4 & Cpu.CR4_OSFXSR) == 0) {
            throw CpuFault.ud();
        }
        if ((cpu.cr0 & Cpu.CR0_TS) != 0) {
            throw CpuFault.of(CpuFault.NM);
        }
    }

    /** MMX: #UD with CR0.EM, #NM with CR0.TS, #MF for a pending x87 exception (SDM vol. 3 §12.5). */
    private void checkMmx() {
        if ((cpu.cr0 & Cpu.CR0_EM) != 0) {
            throw CpuFault.ud();
        }
        if ((cpu.cr0 & Cpu.CR0_TS) != 0) {
            throw CpuFault.of(CpuFault.NM);
        }
        if ((f.fsw & X87.ES) != 0 && (cpu.cr0 & Cpu.CR0_NE) != 0) {
            throw CpuFault.of(CpuFault.MF);
        }
    }

    /** The x87-to-MMX transition: TOP = 0, every tag valid. */
    private void enterMmx() {
        f.fsw &= ~(7 << 11);
        f.ftw = 0xff;
    }

    /**
     * Records the flags raised in MXCSR; an unmasked one raises #XM (or #UD without
     * CR4.OSXMMEXCPT) before the destination is written, as the SDM has it.
     */
    private void commit() {
        if (exc != 0) {
            f.mxcsr |= exc;
            if ((exc & ~(f.mxcsr >>> MASK_SHIFT) & 0x3f) != 0) {
                throw (cpu.cr4 & Cpu.CR4_OSXMMEXCPT) != 0 ? CpuFault.of(CpuFault.XM) : CpuFault.ud();
            }
        }
    }

    private int roundingControl() {
        return (f.mxcsr >>> RC_SHIFT) & 3;
    }

    // ---- operands ----

    /** The 128-bit source (register or m128) into sLo/sHi; {@code aligned}: #GP(0) unless 16-byte aligned. */
    private void source128(Insn i, boolean aligned) {
        if (i.mod == 3) {
            sLo = x[2 * i.rm];
            sHi = x[2 * i.rm + 1];
            return;
        }
        long la = cpu.ea(i);
        if (aligned && (la & 15) != 0) {
            throw CpuFault.gp(0);
        }
        sLo = cpu.read64(la);
        sHi = cpu.read64(la + 8);
    }

    /** A source whose memory form is m64: the register's low quadword or the memory's. */
    private void source64(Insn i) {
        if (i.mod == 3) {
            sLo = x[2 * i.rm];
            sHi = x[2 * i.rm + 1];
        } else {
            sLo = cpu.read64(cpu.ea(i));
        }
    }

    private void source32(Insn i) {
        if (i.mod == 3) {
            sLo = x[2 * i.rm];
        } else {
            sLo = cpu.read32(cpu.ea(i));
        }
    }

    /** An MMX source: register (REX ignored) or m64. */
    private long mmSource(Insn i) {
        return i.mod == 3 ? f.st[2 * (i.rm & 7)] : cpu.read64(cpu.ea(i));
    }

    private void setXmm(int n, long lo, long hi) {
        x[2 * n] = lo;
        x[2 * n + 1] = hi;
    }

    private void setMm(int n, long v) {
        f.st[2 * n] = v;
        f.st[2 * n + 1] = 0xffff; // sign and exponent all ones (SDM vol. 1 §9.5.1)
    }

    private void store128(long la, long lo, long hi) {
        if ((la & 0xfff) > 0xff0) {
            cpu.mmu.probeWrite(la, 16); // both pages or neither
        }
        cpu.write64(la, lo);
        cpu.write64(la + 8, hi);
    }

    private long alignedAddress(Insn i) {
        long la = cpu.ea(i);
        if ((la & 15) != 0) {
            throw CpuFault.gp(0);
        }
        return la;
    }

    // ---- moves ----

    /** 0F 10: MOVUPS, MOVUPD, MOVSS, MOVSD loads. */
    private void moveLoad(Insn i, int pfx) {
        int d = i.reg;
        switch (pfx) {
            case 0, 0x66 -> {
                source128(i, false);
                setXmm(d, sLo, sHi);
            }
            case 0xf3 -> {
                if (i.memory()) {
                    setXmm(d, cpu.read32(cpu.ea(i)), 0);
                } else {
                    x[2 * d] = (x[2 * d] & ~M32) | (x[2 * i.rm] & M32);
                }
            }
            default -> {
                if (i.memory()) {
                    setXmm(d, cpu.read64(cpu.ea(i)), 0);
                } else {
                    x[2 * d] = x[2 * i.rm];
                }
            }
        }
    }

    /** 0F 11: the stores. */
    private void moveStore(Insn i, int pfx) {
        int s = i.reg;
        switch (pfx) {
            case 0, 0x66 -> {
                if (i.memory()) {
                    store128(cpu.ea(i), x[2 * s], x[2 * s + 1]);
                } else {
                    setXmm(i.rm, x[2 * s], x[2 * s + 1]);
                }
            }
            case 0xf3 -> {
                if (i.memory()) {
                    cpu.write32(cpu.ea(i), x[2 * s]);
                } else {
                    x[2 * i.rm] = (x[2 * i.rm] & ~M32) | (x[2 * s] & M32);
                }
            }
            default -> {
                if (i.memory()) {
                    cpu.write64(cpu.ea(i), x[2 * s]);
                } else {
                    x[2 * i.rm] = x[2 * s];
                }
            }
        }
    }

    /** 0F 12/13/16/17: MOVLPS/PD, MOVHLPS, MOVHPS/PD, MOVLHPS. */
    private void moveHalf(Insn i, int op, int pfx) {
        if (pfx != 0 && pfx != 0x66) {
            throw CpuFault.ud(); // MOVSLDUP, MOVDDUP, MOVSHDUP: SSE3
        }
        int d = i.reg;
        int half = op >= 0x16 ? 1 : 0;
        if ((op & 1) != 0) {
            // 13, 17: store the low or high quadword.
            if (!i.memory()) {
                throw CpuFault.ud();
            }
            cpu.write64(cpu.ea(i), x[2 * d + half]);
        } else if (i.memory()) {
            x[2 * d + half] = cpu.read64(cpu.ea(i));
        } else if (pfx == 0) {
            // MOVHLPS: low = source's high; MOVLHPS: high = source's low.
            x[2 * d + half] = x[2 * i.rm + (1 - half)];
        } else {
            throw CpuFault.ud();
        }
    }

    /** 0F 28/29/2B: MOVAPS/MOVAPD and MOVNTPS/MOVNTPD, 16-byte aligned. */
    private void moveAligned(Insn i, int op, int pfx) {
        if (pfx != 0 && pfx != 0x66) {
            throw CpuFault.ud();
        }
        if (op == 0x28) {
            source128(i, true);
            setXmm(i.reg, sLo, sHi);
        } else if (i.memory()) {
            store128(alignedAddress(i), x[2 * i.reg], x[2 * i.reg + 1]);
        } else if (op == 0x29) {
            setXmm(i.rm, x[2 * i.reg], x[2 * i.reg + 1]);
        } else {
            throw CpuFault.ud();
        }
    }

    /** F3 0F 6F/7F: MOVDQU. */
    private void moveDqu(Insn i, boolean store) {
        if (!store) {
            source128(i, false);
            setXmm(i.reg, sLo, sHi);
        } else if (i.memory()) {
            store128(cpu.ea(i), x[2 * i.reg], x[2 * i.reg + 1]);
        } else {
            setXmm(i.rm, x[2 * i.reg], x[2 * i.reg + 1]);
        }
    }

    /** 0F D6: 66 MOVQ xmm/m64, xmm; F3 MOVQ2DQ xmm, mm; F2 MOVDQ2Q mm, xmm. */
    private void moveQuadD6(Insn i, int pfx) {
        switch (pfx) {
            case 0x66 -> {
                if (i.memory()) {
                    cpu.write64(cpu.ea(i), x[2 * i.reg]);
                } else {
                    setXmm(i.rm, x[2 * i.reg], 0);
                }
            }
            case 0xf3, 0xf2 -> {
                if (i.memory()) {
                    throw CpuFault.ud();
                }
                checkMmx();
                enterMmx();
                if (pfx == 0xf3) {
                    setXmm(i.reg, f.st[2 * (i.rm & 7)], 0);
                } else {
                    setMm(i.reg & 7, x[2 * i.rm]);
                }
            }
            default -> throw CpuFault.ud();
        }
    }

    /** 0F 50: MOVMSKPS/MOVMSKPD r32, xmm: the sign bits. */
    private void moveMaskFloat(Insn i, int pfx) {
        if (i.memory() || (pfx != 0 && pfx != 0x66)) {
            throw CpuFault.ud();
        }
        long lo = x[2 * i.rm];
        long hi = x[2 * i.rm + 1];
        long mask = pfx == 0
                ? ((lo >>> 31) & 1) | ((lo >>> 62) & 2) | ((hi >>> 29) & 4) | ((hi >>> 60) & 8)
                : (lo >>> 63) | ((hi >>> 62) & 2);
        cpu.setReg(i.reg, 8, mask);
    }

    // ---- packed floating point ----

    /** 0F 14/15: UNPCKLPS/PD, UNPCKHPS/PD. */
    private void unpackFloat(Insn i, boolean high, int pfx) {
        if (pfx != 0 && pfx != 0x66) {
            throw CpuFault.ud();
        }
        source128(i, true);
        int d = i.reg;
        long a = x[2 * d + (high ? 1 : 0)];
        long b = high ? sHi : sLo;
        if (pfx == 0) {
            setXmm(d, (a & M32) | (b << 32), (a >>> 32) | (b & ~M32));
        } else {
            setXmm(d, a, b);
        }
    }

    /** 0F 54-57: ANDPS, ANDNPS, ORPS, XORPS and the PD forms: bitwise, no exceptions. */
    private void logicFloat(Insn i, int op, int pfx) {
        if (pfx != 0 && pfx != 0x66) {
            throw CpuFault.ud();
        }
        source128(i, true);
        int d = i.reg;
        setXmm(d, SsePacked.lane(LOGIC_AS_INTEGER[op - 0x54], x[2 * d], sLo),
                SsePacked.lane(LOGIC_AS_INTEGER[op - 0x54], x[2 * d + 1], sHi));
    }

    /** ANDPS, ANDNPS, ORPS, XORPS compute what PAND, PANDN, POR, PXOR do. */
    private static final int[] LOGIC_AS_INTEGER = {0xdb, 0xdf, 0xeb, 0xef};

    /** 0F 0F 51, 58, 59, 5C-5F: SQRT, ADD, MUL, SUB, MIN, DIV, MAX in the PS, PD, SS and SD forms. */
    private void arithmetic(Insn i, int op, int pfx) {
        int d = i.reg;
        long dLo = x[2 * d];
        long dHi = x[2 * d + 1];
        long lo;
        long hi = dHi;
        switch (pfx) {
            case 0 -> {
                source128(i, true);
                lo = packedSingle(op, dLo, sLo);
                hi = packedSingle(op, dHi, sHi);
            }
            case 0x66 -> {
                source128(i, true);
                lo = double64(op, dLo, sLo);
                hi = double64(op, dHi, sHi);
            }
            case 0xf3 -> {
                source32(i);
                lo = (dLo & ~M32) | (single32(op, (int) dLo, (int) sLo) & M32);
            }
            default -> {
                source64(i);
                lo = double64(op, dLo, sLo);
            }
        }
        commit();
        setXmm(d, lo, hi);
    }

    private long packedSingle(int op, long d, long s) {
        return (single32(op, (int) d, (int) s) & M32) | (long) single32(op, (int) (d >>> 32), (int) (s >>> 32)) << 32;
    }

    private static boolean isSignaling32(int v) {
        return (v & 0x7fffffff) > 0x7f800000 && (v & QUIET32) == 0;
    }

    private static boolean isSignaling64(long v) {
        return (v & Long.MAX_VALUE) > 0x7ff0000000000000L && (v & QUIET64) == 0;
    }

    /** One single-precision element of an arithmetic operation, with the SDM's NaN and exception rules. */
    private int single32(int op, int a, int b) {
        float p = Float.intBitsToFloat(a);
        float q = Float.intBitsToFloat(b);
        boolean pNaN = p != p;
        boolean qNaN = q != q;
        if (op == 0x5d || op == 0x5f) {
            // MIN/MAX: the second operand when either is a NaN (invalid) or both are zeros ("MINPS").
            if (pNaN || qNaN) {
                exc |= IE;
                return b;
            }
            return (op == 0x5d ? p < q : p > q) ? a : b;
        }
        if (op == 0x51) {
            if (qNaN) {
                exc |= isSignaling32(b) ? IE : 0;
                return b | QUIET32;
            }
            if (q < 0) {
                exc |= IE;
                return INDEFINITE32;
            }
            return Float.floatToRawIntBits((float) Math.sqrt(q)); // one rounding: double has 2*24+2 bits
        }
        if (pNaN || qNaN) {
            exc |= isSignaling32(a) || isSignaling32(b) ? IE : 0;
            return (pNaN ? a : b) | QUIET32; // the first operand's NaN wins (SDM vol. 1 table 4-7)
        }
        float r = switch (op) {
            case 0x58 -> p + q;
            case 0x59 -> p * q;
            case 0x5c -> p - q;
            default -> p / q;
        };
        if (r != r) {
            exc |= IE;
            return INDEFINITE32;
        }
        if (op == 0x5e && q == 0 && !Float.isInfinite(p)) {
            exc |= ZE;
        } else if (Float.isInfinite(r) && !Float.isInfinite(p) && !Float.isInfinite(q)) {
            exc |= OE | PE;
        }
        return Float.floatToRawIntBits(r);
    }

    /** One double-precision element: as {@link #single32}. */
    private long double64(int op, long a, long b) {
        double p = Double.longBitsToDouble(a);
        double q = Double.longBitsToDouble(b);
        boolean pNaN = p != p;
        boolean qNaN = q != q;
        if (op == 0x5d || op == 0x5f) {
            if (pNaN || qNaN) {
                exc |= IE;
                return b;
            }
            return (op == 0x5d ? p < q : p > q) ? a : b;
        }
        if (op == 0x51) {
            if (qNaN) {
                exc |= isSignaling64(b) ? IE : 0;
                return b | QUIET64;
            }
            if (q < 0) {
                exc |= IE;
                return INDEFINITE64;
            }
            return Double.doubleToRawLongBits(Math.sqrt(q));
        }
        if (pNaN || qNaN) {
            exc |= isSignaling64(a) || isSignaling64(b) ? IE : 0;
            return (pNaN ? a : b) | QUIET64;
        }
        double r = switch (op) {
            case 0x58 -> p + q;
            case 0x59 -> p * q;
            case 0x5c -> p - q;
            default -> p / q;
        };
        if (r != r) {
            exc |= IE;
            return INDEFINITE64;
        }
        if (op == 0x5e && q == 0 && !Double.isInfinite(p)) {
            exc |= ZE;
        } else if (Double.isInfinite(r) && !Double.isInfinite(p) && !Double.isInfinite(q)) {
            exc |= OE | PE;
        }
        return Double.doubleToRawLongBits(r);
    }

    /**
     * 0F 52/53: RSQRTPS/SS and RCPPS/SS. Computed exactly rather than to the hardware's 12-bit
     * approximation (well within its 1.5 * 2^-12 bound); they raise no exceptions.
     */
    private void reciprocal(Insn i, boolean sqrt, int pfx) {
        int d = i.reg;
        if (pfx == 0) {
            source128(i, true);
            setXmm(d, approximate(sqrt, (int) sLo) & M32 | (long) approximate(sqrt, (int) (sLo >>> 32)) << 32,
                    approximate(sqrt, (int) sHi) & M32 | (long) approximate(sqrt, (int) (sHi >>> 32)) << 32);
        } else if (pfx == 0xf3) {
            source32(i);
            x[2 * d] = (x[2 * d] & ~M32) | (approximate(sqrt, (int) sLo) & M32);
        } else {
            throw CpuFault.ud();
        }
    }

    private static int approximate(boolean sqrt, int bits) {
        float v = Float.intBitsToFloat(bits);
        if (v != v) {
            return bits | QUIET32;
        }
        if (sqrt) {
            return v < 0 ? INDEFINITE32 : Float.floatToRawIntBits((float) (1 / Math.sqrt(v)));
        }
        return Float.floatToRawIntBits(1 / v);
    }

    /** 0F C2: CMPPS/PD/SS/SD with predicates 0-7 (EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD). */
    private void compare(Insn i, int pfx) {
        int pred = (int) i.imm & 7;
        int d = i.reg;
        long dLo = x[2 * d];
        long dHi = x[2 * d + 1];
        long lo;
        long hi = dHi;
        switch (pfx) {
            case 0 -> {
                source128(i, true);
                lo = compareSingle(pred, (int) dLo, (int) sLo) & M32
                        | (compareSingle(pred, (int) (dLo >>> 32), (int) (sLo >>> 32)) & M32) << 32;
                hi = compareSingle(pred, (int) dHi, (int) sHi) & M32
                        | (compareSingle(pred, (int) (dHi >>> 32), (int) (sHi >>> 32)) & M32) << 32;
            }
            case 0x66 -> {
                source128(i, true);
                lo = compareDouble(pred, dLo, sLo);
                hi = compareDouble(pred, dHi, sHi);
            }
            case 0xf3 -> {
                source32(i);
                lo = (dLo & ~M32) | (compareSingle(pred, (int) dLo, (int) sLo) & M32);
            }
            default -> {
                source64(i);
                lo = compareDouble(pred, dLo, sLo);
            }
        }
        commit();
        setXmm(d, lo, hi);
    }

    private long compareSingle(int pred, int a, int b) {
        float p = Float.intBitsToFloat(a);
        float q = Float.intBitsToFloat(b);
        boolean unordered = p != p || q != q;
        if (unordered) {
            // LT, LE, NLT, NLE signal on any NaN; the others only on a signaling one.
            boolean signals = (pred & 3) == 1 || (pred & 3) == 2;
            exc |= signals || isSignaling32(a) || isSignaling32(b) ? IE : 0;
        }
        return predicate(pred, unordered, p < q, p == q) ? -1 : 0;
    }

    private long compareDouble(int pred, long a, long b) {
        double p = Double.longBitsToDouble(a);
        double q = Double.longBitsToDouble(b);
        boolean unordered = p != p || q != q;
        if (unordered) {
            boolean signals = (pred & 3) == 1 || (pred & 3) == 2;
            exc |= signals || isSignaling64(a) || isSignaling64(b) ? IE : 0;
        }
        return predicate(pred, unordered, p < q, p == q) ? -1 : 0;
    }

    private static boolean predicate(int pred, boolean unordered, boolean less, boolean equal) {
        return switch (pred) {
            case 0 -> equal;
            case 1 -> less;
            case 2 -> less || equal;
            case 3 -> unordered;
            case 4 -> !equal;
            case 5 -> !less;
            case 6 -> !(less || equal);
            default -> !unordered;
        };
    }

    /** 0F 2E/2F: UCOMISS/UCOMISD, COMISS/COMISD: ZF, PF, CF; OF, SF, AF cleared. */
    private void compareToFlags(Insn i, int pfx, boolean signalQuiet) {
        boolean unordered;
        boolean less;
        boolean equal;
        boolean signaling;
        if (pfx == 0) {
            source32(i);
            float p = Float.intBitsToFloat((int) x[2 * i.reg]);
            float q = Float.intBitsToFloat((int) sLo);
            unordered = p != p || q != q;
            less = p < q;
            equal = p == q;
            signaling = isSignaling32((int) x[2 * i.reg]) || isSignaling32((int) sLo);
        } else if (pfx == 0x66) {
            source64(i);
            double p = Double.longBitsToDouble(x[2 * i.reg]);
            double q = Double.longBitsToDouble(sLo);
            unordered = p != p || q != q;
            less = p < q;
            equal = p == q;
            signaling = isSignaling64(x[2 * i.reg]) || isSignaling64(sLo);
        } else {
            throw CpuFault.ud();
        }
        if (unordered && (signalQuiet || signaling)) {
            exc |= IE;
        }
        commit();
        cpu.flags.setEager(unordered ? Flags.ZF | Flags.PF | Flags.CF : less ? Flags.CF : equal ? Flags.ZF : 0);
    }

    /** 0F C6: SHUFPS, SHUFPD. */
    private void shuffleFloat(Insn i, int pfx) {
        if (pfx != 0 && pfx != 0x66) {
            throw CpuFault.ud();
        }
        source128(i, true);
        int d = i.reg;
        int imm = (int) i.imm & 0xff;
        long dLo = x[2 * d];
        long dHi = x[2 * d + 1];
        if (pfx == 0) {
            setXmm(d, SsePacked.dword(dLo, dHi, imm & 3) | SsePacked.dword(dLo, dHi, (imm >>> 2) & 3) << 32,
                    SsePacked.dword(sLo, sHi, (imm >>> 4) & 3) | SsePacked.dword(sLo, sHi, (imm >>> 6) & 3) << 32);
        } else {
            setXmm(d, (imm & 1) != 0 ? dHi : dLo, (imm & 2) != 0 ? sHi : sLo);
        }
    }

    // ---- conversions (rounded as MXCSR.RC says; SDM vol. 1 §4.8.4, §11.5.2.2) ----

    /**
     * A float or double value rounded to a 32- or 64-bit integer; NaN and out-of-range values
     * give the integer indefinite (0x80000000, 0x8000000000000000) and raise invalid.
     */
    private long toInteger(double v, boolean truncate, boolean wide) {
        long indefinite = wide ? Long.MIN_VALUE : 0x80000000L;
        if (v != v) {
            exc |= IE;
            return indefinite;
        }
        int rc = truncate ? Fp80.RC_ZERO : roundingControl();
        double r = switch (rc) {
            case Fp80.RC_NEAREST -> Math.rint(v);
            case Fp80.RC_DOWN -> Math.floor(v);
            case Fp80.RC_UP -> Math.ceil(v);
            default -> v < 0 ? Math.ceil(v) : Math.floor(v);
        };
        if (wide ? r < -0x1p63 || r >= 0x1p63 : r < -0x1p31 || r > 0x1p31 - 1) {
            exc |= IE;
            return indefinite;
        }
        if (r != v) {
            exc |= PE;
        }
        return wide ? (long) r : (long) r & M32;
    }

    /** An integer to single precision, rounded as MXCSR.RC says. */
    private int integerToSingle(long v) {
        float r = (float) v; // to nearest
        // Floats of 2^24 and more are integers, so the cast back is exact below 2^63.
        int cmp = r >= 0x1p63f ? 1 : Long.compare((long) r, v);
        if (cmp != 0) {
            exc |= PE;
            r = directed(r, cmp, v < 0);
        }
        return Float.floatToRawIntBits(r);
    }

    private long integerToDouble(long v) {
        double r = (double) v;
        int cmp = r >= 0x1p63 ? 1 : Long.compare((long) r, v);
        if (cmp != 0) {
            exc |= PE;
            int rc = roundingControl();
            if (cmp > 0 && (rc == Fp80.RC_DOWN || (rc == Fp80.RC_ZERO && v > 0))) {
                r = Math.nextDown(r);
            } else if (cmp < 0 && (rc == Fp80.RC_UP || (rc == Fp80.RC_ZERO && v < 0))) {
                r = Math.nextUp(r);
            }
        }
        return Double.doubleToRawLongBits(r);
    }

    /** Corrects a round-to-nearest single result {@code r}, above (cmp > 0) or below the exact value, for MXCSR.RC. */
    private float directed(float r, int cmp, boolean negative) {
        int rc = roundingControl();
        if (cmp > 0 && (rc == Fp80.RC_DOWN || (rc == Fp80.RC_ZERO && !negative))) {
            return Math.nextDown(r);
        }
        if (cmp < 0 && (rc == Fp80.RC_UP || (rc == Fp80.RC_ZERO && negative))) {
            return Math.nextUp(r);
        }
        return r;
    }

    /** CVTSD2SS, CVTPD2PS: double to single, rounded as MXCSR.RC says; a signaling NaN is quieted. */
    private long doubleToSingle(long bits) {
        double v = Double.longBitsToDouble(bits);
        if (v != v) {
            exc |= isSignaling64(bits) ? IE : 0;
            return ((bits >>> 32) & 0x80000000L) | 0x7fc00000L | ((bits >>> 29) & 0x3fffff);
        }
        float r = (float) v;
        double back = r;
        if (back != v) {
            exc |= PE;
            if (Float.isInfinite(r)) {
                exc |= OE;
            } else if (Math.abs(r) < Float.MIN_NORMAL) {
                exc |= UE;
            }
            r = directed(r, back > v ? 1 : -1, v < 0);
        }
        return Float.floatToRawIntBits(r) & M32;
    }

    /** CVTSS2SD, CVTPS2PD: exact; a signaling NaN is quieted. */
    private long singleToDouble(int bits) {
        if ((bits & 0x7fffffff) > 0x7f800000) {
            exc |= isSignaling32(bits) ? IE : 0;
            return ((long) (bits & 0x80000000) << 32) | 0x7ff8000000000000L | ((long) (bits & 0x3fffff) << 29);
        }
        return Double.doubleToRawLongBits(Float.intBitsToFloat(bits));
    }

    /** 0F 2A: CVTPI2PS, CVTPI2PD (from mm/m64), CVTSI2SS, CVTSI2SD (from r/m32 or, with REX.W, r/m64). */
    private void convertFromInteger(Insn i, int pfx) {
        int d = i.reg;
        long lo = x[2 * d];
        long hi = x[2 * d + 1];
        if (pfx == 0 || pfx == 0x66) {
            if (i.mod == 3) {
                checkMmx();
                enterMmx();
            }
            long s = mmSource(i);
            if (pfx == 0) {
                lo = (integerToSingle((int) s) & M32) | (long) integerToSingle((int) (s >>> 32)) << 32;
            } else {
                lo = integerToDouble((int) s);
                hi = integerToDouble((int) (s >>> 32));
            }
        } else {
            long v = i.rexW() ? cpu.readRm(i, 8) : (int) cpu.readRm(i, 4);
            lo = pfx == 0xf3 ? (lo & ~M32) | (integerToSingle(v) & M32) : integerToDouble(v);
        }
        commit();
        setXmm(d, lo, hi);
    }

    /**
     * 0F 2C/2D: CVTTPS2PI/CVTPS2PI, CVTTPD2PI/CVTPD2PI (to mm), CVTTSS2SI/CVTSS2SI,
     * CVTTSD2SI/CVTSD2SI (to r32 or, with REX.W, r64).
     */
    private void convertToInteger(Insn i, int pfx, boolean truncate) {
        switch (pfx) {
            case 0, 0x66 -> {
                checkMmx();
                long r;
                if (pfx == 0) {
                    source64(i);
                    r = toInteger(Float.intBitsToFloat((int) sLo), truncate, false)
                            | toInteger(Float.intBitsToFloat((int) (sLo >>> 32)), truncate, false) << 32;
                } else {
                    source128(i, true);
                    r = toInteger(Double.longBitsToDouble(sLo), truncate, false)
                            | toInteger(Double.longBitsToDouble(sHi), truncate, false) << 32;
                }
                commit();
                enterMmx();
                setMm(i.reg & 7, r);
            }
            default -> {
                boolean wide = i.rexW();
                double v;
                if (pfx == 0xf3) {
                    source32(i);
                    v = Float.intBitsToFloat((int) sLo);
                } else {
                    source64(i);
                    v = Double.longBitsToDouble(sLo);
                }
                long r = toInteger(v, truncate, wide);
                commit();
                cpu.setReg(i.reg, wide ? 8 : 4, r);
            }
        }
    }

    /** 0F 5A: CVTPS2PD, CVTPD2PS, CVTSS2SD, CVTSD2SS. */
    private void convertFloatWidth(Insn i, int pfx) {
        int d = i.reg;
        long lo = x[2 * d];
        long hi = x[2 * d + 1];
        switch (pfx) {
            case 0 -> {
                source64(i);
                lo = singleToDouble((int) sLo);
                hi = singleToDouble((int) (sLo >>> 32));
            }
            case 0x66 -> {
                source128(i, true);
                lo = doubleToSingle(sLo) | doubleToSingle(sHi) << 32;
                hi = 0;
            }
            case 0xf3 -> {
                source32(i);
                lo = singleToDouble((int) sLo);
            }
            default -> {
                source64(i);
                lo = (lo & ~M32) | doubleToSingle(sLo);
            }
        }
        commit();
        setXmm(d, lo, hi);
    }

    /** 0F 5B: CVTDQ2PS, 66: CVTPS2DQ, F3: CVTTPS2DQ. */
    private void convertPackedInteger(Insn i, int pfx) {
        if (pfx == 0xf2) {
            throw CpuFault.ud();
        }
        source128(i, true);
        long lo;
        long hi;
        if (pfx == 0) {
            lo = (integerToSingle((int) sLo) & M32) | (long) integerToSingle((int) (sLo >>> 32)) << 32;
            hi = (integerToSingle((int) sHi) & M32) | (long) integerToSingle((int) (sHi >>> 32)) << 32;
        } else {
            boolean t = pfx == 0xf3;
            lo = toInteger(Float.intBitsToFloat((int) sLo), t, false)
                    | toInteger(Float.intBitsToFloat((int) (sLo >>> 32)), t, false) << 32;
            hi = toInteger(Float.intBitsToFloat((int) sHi), t, false)
                    | toInteger(Float.intBitsToFloat((int) (sHi >>> 32)), t, false) << 32;
        }
        commit();
        setXmm(i.reg, lo, hi);
    }

    /** 0F E6: 66 CVTTPD2DQ, F2 CVTPD2DQ (to the low quadword, high zeroed), F3 CVTDQ2PD. */
    private void convertE6(Insn i, int pfx) {
        long lo;
        long hi;
        switch (pfx) {
            case 0x66, 0xf2 -> {
                source128(i, true);
                boolean t = pfx == 0x66;
                lo = toInteger(Double.longBitsToDouble(sLo), t, false)
                        | toInteger(Double.longBitsToDouble(sHi), t, false) << 32;
                hi = 0;
            }
            case 0xf3 -> {
                source64(i);
                lo = Double.doubleToRawLongBits((int) sLo);
                hi = Double.doubleToRawLongBits((int) (sLo >>> 32));
            }
            default -> throw CpuFault.ud();
        }
        commit();
        setXmm(i.reg, lo, hi);
    }

    // ---- packed integers ----

    /** 66-prefixed integer instructions on XMM registers. */
    private void xmmInteger(Insn i, int op) {
        int d = i.reg;
        switch (op) {
            case 0x6e -> setXmm(d, i.rexW() ? cpu.readRm(i, 8) : cpu.readRm(i, 4), 0); // MOVD/MOVQ xmm, r/m
            case 0x7e -> cpu.writeRm(i, i.rexW() ? 8 : 4, x[2 * d]);                   // MOVD/MOVQ r/m, xmm
            case 0x6f -> {                                                              // MOVDQA
                source128(i, true);
                setXmm(d, sLo, sHi);
            }
            case 0x7f -> {
                if (i.memory()) {
                    store128(alignedAddress(i), x[2 * d], x[2 * d + 1]);
                } else {
                    setXmm(i.rm, x[2 * d], x[2 * d + 1]);
                }
            }
            case 0x70 -> { // PSHUFD
                source128(i, true);
                int imm = (int) i.imm & 0xff;
                setXmm(d, SsePacked.dword(sLo, sHi, imm & 3) | SsePacked.dword(sLo, sHi, (imm >>> 2) & 3) << 32,
                        SsePacked.dword(sLo, sHi, (imm >>> 4) & 3) | SsePacked.dword(sLo, sHi, (imm >>> 6) & 3) << 32);
            }
            case 0x71, 0x72, 0x73 -> shiftImmediateXmm(i, op);
            case 0xc4 -> { // PINSRW xmm, r32/m16, imm8
                int lane = (int) i.imm & 7;
                long w = i.memory() ? cpu.read16(cpu.ea(i)) : cpu.r[i.rm] & 0xffff;
                int n = 2 * d + (lane >>> 2);
                int sh = 16 * (lane & 3);
                x[n] = (x[n] & ~(0xffffL << sh)) | (w << sh);
            }
            case 0xc5 -> { // PEXTRW r32, xmm, imm8
                if (i.memory()) {
                    throw CpuFault.ud();
                }
                int lane = (int) i.imm & 7;
                cpu.setReg(i.reg, 8, (x[2 * i.rm + (lane >>> 2)] >>> (16 * (lane & 3))) & 0xffff);
            }
            case 0xd7 -> { // PMOVMSKB r32, xmm
                if (i.memory()) {
                    throw CpuFault.ud();
                }
                cpu.setReg(i.reg, 8, SsePacked.moveMask(x[2 * i.rm]) | SsePacked.moveMask(x[2 * i.rm + 1]) << 8);
            }
            case 0xe7 -> { // MOVNTDQ
                if (!i.memory()) {
                    throw CpuFault.ud();
                }
                store128(alignedAddress(i), x[2 * d], x[2 * d + 1]);
            }
            case 0xf7 -> { // MASKMOVDQU
                if (i.memory()) {
                    throw CpuFault.ud();
                }
                maskedStore(i, x[2 * d], x[2 * i.rm], 0);
                maskedStore(i, x[2 * d + 1], x[2 * i.rm + 1], 8);
            }
            default -> {
                boolean known = SsePacked.isLaneOp(op) || shiftKind(op) >= 0 || (op >= 0x60 && op <= 0x6d);
                if (!known) {
                    throw CpuFault.ud();
                }
                source128(i, true);
                long dLo = x[2 * d];
                long dHi = x[2 * d + 1];
                long lo;
                long hi;
                if (SsePacked.isLaneOp(op)) {
                    lo = SsePacked.lane(op, dLo, sLo);
                    hi = SsePacked.lane(op, dHi, sHi);
                } else {
                    int shift = shiftKind(op);
                    if (shift >= 0) {
                        lo = SsePacked.shift(shift >>> 2, shift & 3, dLo, sLo);
                        hi = SsePacked.shift(shift >>> 2, shift & 3, dHi, sLo);
                    } else {
                        switch (op) {
                            case 0x60, 0x61, 0x62 -> {
                                int size = 1 << (op - 0x60);
                                lo = SsePacked.interleave(size, dLo, sLo);
                                hi = SsePacked.interleave(size, dLo >>> 32, sLo >>> 32);
                            }
                            case 0x68, 0x69, 0x6a -> {
                                int size = 1 << (op - 0x68);
                                lo = SsePacked.interleave(size, dHi, sHi);
                                hi = SsePacked.interleave(size, dHi >>> 32, sHi >>> 32);
                            }
                            case 0x63, 0x67, 0x6b -> {
                                lo = SsePacked.pack(op, dLo, dHi);
                                hi = SsePacked.pack(op, sLo, sHi);
                            }
                            case 0x6c -> { // PUNPCKLQDQ
                                lo = dLo;
                                hi = sLo;
                            }
                            case 0x6d -> { // PUNPCKHQDQ
                                lo = dHi;
                                hi = sHi;
                            }
                            default -> throw CpuFault.ud();
                        }
                    }
                }
                setXmm(d, lo, hi);
            }
        }
    }

    /**
     * The shifts by a register count (D1-D3, E1-E2, F1-F3): element bits << 2 | kind, or -1.
     * PSRLW/D/Q, PSRAW/D, PSLLW/D/Q.
     */
    private static int shiftKind(int op) {
        return switch (op) {
            case 0xd1 -> 16 << 2 | SsePacked.SRL;
            case 0xd2 -> 32 << 2 | SsePacked.SRL;
            case 0xd3 -> 64 << 2 | SsePacked.SRL;
            case 0xe1 -> 16 << 2 | SsePacked.SRA;
            case 0xe2 -> 32 << 2 | SsePacked.SRA;
            case 0xf1 -> 16 << 2 | SsePacked.SLL;
            case 0xf2 -> 32 << 2 | SsePacked.SLL;
            case 0xf3 -> 64 << 2 | SsePacked.SLL;
            default -> -1;
        };
    }

    /** 71/72/73 /2 /4 /6: the element shifts by an immediate, as {@link #shiftKind}; -1 for none. */
    private static int shiftImmediateKind(int op, int ext) {
        int bits = op == 0x71 ? 16 : op == 0x72 ? 32 : 64;
        return switch (ext) {
            case 2 -> bits << 2 | SsePacked.SRL;
            case 4 -> bits == 64 ? -1 : bits << 2 | SsePacked.SRA;
            case 6 -> bits << 2 | SsePacked.SLL;
            default -> -1;
        };
    }

    private void shiftImmediateXmm(Insn i, int op) {
        if (i.memory()) {
            throw CpuFault.ud();
        }
        int n = i.rm;
        long count = i.imm & 0xff;
        long lo = x[2 * n];
        long hi = x[2 * n + 1];
        if (op == 0x73 && (i.ext() == 3 || i.ext() == 7)) {
            // PSRLDQ, PSLLDQ: the whole register by bytes.
            int bits = (int) Math.min(count, 16) * 8;
            if (i.ext() == 3) {
                setXmm(n, bits >= 64 ? (bits >= 128 ? 0 : hi >>> (bits - 64)) : bits == 0 ? lo : (lo >>> bits) | (hi << (64 - bits)),
                        bits >= 64 ? 0 : hi >>> bits);
            } else {
                setXmm(n, bits >= 64 ? 0 : lo << bits,
                        bits >= 64 ? (bits >= 128 ? 0 : lo << (bits - 64)) : bits == 0 ? hi : (hi << bits) | (lo >>> (64 - bits)));
            }
            return;
        }
        int kind = shiftImmediateKind(op, i.ext());
        if (kind < 0) {
            throw CpuFault.ud();
        }
        setXmm(n, SsePacked.shift(kind >>> 2, kind & 3, lo, count), SsePacked.shift(kind >>> 2, kind & 3, hi, count));
    }

    /** MASKMOVQ/MASKMOVDQU: the bytes of {@code data} whose {@code mask} byte has its top bit set, to DS:rDI. */
    private void maskedStore(Insn i, long data, long mask, int offset) {
        long base = i.asize == 4 ? cpu.r[7] & M32 : cpu.r[7];
        long la = base + cpu.segBase(i.segment) + offset;
        for (int k = 0; k < 8; k++) {
            if ((mask >>> (8 * k + 7) & 1) != 0) {
                cpu.write8(la + k, data >>> (8 * k));
            }
        }
    }

    // ---- MMX ----

    private void mmx(Insn i, int op) {
        if (op == 0x77) {
            // EMMS: every tag empty, so the x87 can use the stack again.
            checkMmx();
            f.ftw = 0;
            return;
        }
        checkMmx();
        enterMmx();
        int d = i.reg & 7;
        long[] st = f.st;
        switch (op) {
            case 0x6e -> setMm(d, i.rexW() ? cpu.readRm(i, 8) : cpu.readRm(i, 4));
            case 0x7e -> cpu.writeRm(i, i.rexW() ? 8 : 4, st[2 * d]);
            case 0x6f -> setMm(d, mmSource(i));
            case 0x7f -> {
                if (i.memory()) {
                    cpu.write64(cpu.ea(i), st[2 * d]);
                } else {
                    setMm(i.rm & 7, st[2 * d]);
                }
            }
            case 0xe7 -> { // MOVNTQ
                if (!i.memory()) {
                    throw CpuFault.ud();
                }
                cpu.write64(cpu.ea(i), st[2 * d]);
            }
            case 0x70 -> setMm(d, SsePacked.shuffleWords(mmSource(i), (int) i.imm & 0xff)); // PSHUFW
            case 0x71, 0x72, 0x73 -> {
                int kind = shiftImmediateKind(op, i.ext());
                if (i.memory() || kind < 0) {
                    throw CpuFault.ud();
                }
                int n = i.rm & 7;
                setMm(n, SsePacked.shift(kind >>> 2, kind & 3, st[2 * n], i.imm & 0xff));
            }
            case 0xc4 -> { // PINSRW mm, r32/m16, imm8
                int sh = 16 * ((int) i.imm & 3);
                long w = i.memory() ? cpu.read16(cpu.ea(i)) : cpu.r[i.rm] & 0xffff;
                setMm(d, (st[2 * d] & ~(0xffffL << sh)) | (w << sh));
            }
            case 0xc5 -> { // PEXTRW r32, mm, imm8
                if (i.memory()) {
                    throw CpuFault.ud();
                }
                cpu.setReg(i.reg, 8, (st[2 * (i.rm & 7)] >>> (16 * ((int) i.imm & 3))) & 0xffff);
            }
            case 0xd7 -> { // PMOVMSKB r32, mm
                if (i.memory()) {
                    throw CpuFault.ud();
                }
                cpu.setReg(i.reg, 8, SsePacked.moveMask(st[2 * (i.rm & 7)]));
            }
            case 0xf7 -> { // MASKMOVQ
                if (i.memory()) {
                    throw CpuFault.ud();
                }
                maskedStore(i, st[2 * d], st[2 * (i.rm & 7)], 0);
            }
            default -> {
                long dv = st[2 * d];
                long r;
                if (op >= 0x60 && op <= 0x62 || op >= 0x68 && op <= 0x6a) {
                    // The unpacks read only 32 bits of a memory source for the low forms.
                    boolean high = op >= 0x68;
                    long s = i.memory() && !high ? cpu.read32(cpu.ea(i)) : mmSource(i);
                    int size = 1 << (op - (high ? 0x68 : 0x60));
                    r = high ? SsePacked.interleave(size, dv >>> 32, s >>> 32) : SsePacked.interleave(size, dv, s);
                } else {
                    long s = mmSource(i);
                    if (SsePacked.isLaneOp(op)) {
                        r = SsePacked.lane(op, dv, s);
                    } else if (op == 0x63 || op == 0x67 || op == 0x6b) {
                        r = SsePacked.pack(op, dv, s);
                    } else {
                        int kind = shiftKind(op);
                        if (kind < 0) {
                            throw CpuFault.ud();
                        }
                        r = SsePacked.shift(kind >>> 2, kind & 3, dv, s);
                    }
                }
                setMm(d, r);
            }
        }
    }

    // ---- FXSAVE, FXRSTOR, LDMXCSR, STMXCSR (0F AE /0-/3) ----

    /** 0F AE with a memory operand, /0-/3: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR. */
    void group15(Insn i) {
        int ext = i.ext();
        switch (ext) {
            case 0, 1 -> {
                // FXSAVE/FXRSTOR: #NM with CR0.TS or EM, #GP(0) unless 16-byte aligned ("FXSAVE").
                if ((cpu.cr0 & (Cpu.CR0_EM | Cpu.CR0_TS)) != 0) {
                    throw CpuFault.of(CpuFault.NM);
                }
                long la = alignedAddress(i);
                if (ext == 0) {
                    fxsave(la, i.rexW());
                } else {
                    fxrstor(la, i.rexW());
                }
            }
            case 2 -> {
                checkSse();
                long v = cpu.read32(cpu.ea(i));
                if ((v & ~FpuState.MXCSR_MASK) != 0) {
                    throw CpuFault.gp(0);
                }
                f.mxcsr = (int) v;
            }
            case 3 -> {
                checkSse();
                cpu.write32(cpu.ea(i), f.mxcsr);
            }
            default -> throw CpuFault.ud(); // XSAVE and friends: not reported
        }
    }

    private void fxsave(long la, boolean rexW) {
        cpu.mmu.probeWrite(la, FXSAVE_WRITTEN);
        f.save(image);
        if (!rexW) {
            // The 32-bit layout: FIP and FDP are 32-bit offsets followed by FCS and FDS (zero here).
            for (int k = 12; k < 16; k++) {
                image[k] = 0;
                image[k + 8] = 0;
            }
        }
        for (int k = 0; k < FXSAVE_WRITTEN; k += 8) {
            cpu.write64(la + k, getLong(image, k));
        }
    }

    private void fxrstor(long la, boolean rexW) {
        for (int k = 0; k < 512; k += 8) {
            putLong(image, k, cpu.read64(la + k));
        }
        if ((FpuState.mxcsrFromImage(image) & ~FpuState.MXCSR_MASK) != 0) {
            throw CpuFault.gp(0);
        }
        f.load(image);
        if (!rexW) {
            f.fip &= M32;
            f.fdp &= M32;
        }
    }

    private static long getLong(byte[] b, int o) {
        long v = 0;
        for (int k = 7; k >= 0; k--) {
            v = (v << 8) | (b[o + k] & 0xff);
        }
        return v;
    }

    private static void putLong(byte[] b, int o, long v) {
        for (int k = 0; k < 8; k++) {
            b[o + k] = (byte) (v >>> (8 * k));
        }
    }
}
