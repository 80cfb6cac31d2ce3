package org.vireo.cpu.emu;

/**
 * The x87 floating-point unit: opcodes D8-DF (Intel SDM vol. 1 ch. 8, vol. 2 "FADD" to "FYL2XP1").
 *
 * <p>The register file is kept in the architectural 80-bit format ({@link FpuState#st}), so
 * loads, stores, exchanges, FXSAVE images and the MMX aliasing are exact. Arithmetic and the
 * transcendentals compute with Java doubles: their precision is double's 53 bits, not the
 * 64 of the extended format, and they round to nearest whatever FCW.RC says (the precision
 * control is ignored too). Stores to m32/m64, FIST and FRNDINT round from the full 80-bit
 * value in one step and do follow FCW.RC. Of the exception flags, invalid (with the stack
 * fault), divide-by-zero and overflow are raised; denormal, underflow and precision are not.
 */
final class X87 {

    // FSW bits (SDM vol. 1 §8.1.3).
    static final int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 0x10, PE = 0x20, SF = 0x40, ES = 0x80,
            C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000, BUSY = 0x8000;
    private static final int TOP_SHIFT = 11, TOP_MASK = 7 << TOP_SHIFT;

    /** The QNaN indefinite as a double; it converts to {@link Fp80#INDEFINITE_MANT}/{@code SE}. */
    private static final double INDEFINITE = Double.longBitsToDouble(0xfff8000000000000L);
    private static final double LN2 = Math.log(2);

    // FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (D9 E8-EE): the constants as the FPU
    // holds them, 64-bit significands rounded to nearest (SDM vol. 1 §8.3.7).
    private static final long[] CONST_MANT = {Fp80.INTEGER_BIT, 0xd49a784bcd1b8afeL, 0xb8aa3b295c17f0bcL,
        0xc90fdaa22168c235L, 0x9a209a84fbcff799L, 0xb17217f7d1cf79acL, 0};
    private static final int[] CONST_SE = {0x3fff, 0x4000, 0x3fff, 0x4000, 0x3ffd, 0x3ffe, 0};

    private final Cpu cpu;
    private final FpuState f;

    X87(Cpu cpu) {
        this.cpu = cpu;
        this.f = cpu.fpu;
    }

    // ---- dispatch ----

    void execute(Insn i) {
        // CR0.EM or TS: the OS emulates the FPU or switches its state lazily (SDM vol. 3 §2.5).
        if ((cpu.cr0 & (Cpu.CR0_EM | Cpu.CR0_TS)) != 0) {
            throw CpuFault.of(CpuFault.NM);
        }
        int op = i.op & 7;
        int ext = i.ext();
        if (i.memory()) {
            long la = cpu.ea(i);
            if (!isControl(op, ext)) {
                checkPending();
                f.fip = cpu.rip;
                f.fdp = la;
                f.fop = (op << 8) | (i.mod << 6) | (ext << 3);
            }
            memoryForm(i, op, ext, la);
        } else {
            int sti = i.rm & 7; // x87 ignores REX.B
            // FNSTSW AX, FNCLEX and FNINIT do not wait; everything else in register form does.
            boolean noWait = (op == 7 && ext == 4 && sti == 0) || (op == 3 && ext == 4 && (sti == 2 || sti == 3));
            if (!noWait) {
                checkPending();
                f.fip = cpu.rip;
                f.fop = (op << 8) | 0xc0 | (ext << 3) | sti;
            }
            registerForm(i, op, ext, sti);
        }
    }

    /** FWAIT: raises a pending unmasked x87 exception (#MF), or #NM with CR0.MP and TS set. */
    void fwait() {
        if ((cpu.cr0 & (Cpu.CR0_MP | Cpu.CR0_TS)) == (Cpu.CR0_MP | Cpu.CR0_TS)) {
            throw CpuFault.of(CpuFault.NM);
        }
        checkPending();
    }

    /**
     * The control instructions that neither wait for pending exceptions nor update FIP/FDP:
     * FLDENV, FLDCW, FNSTENV, FNSTCW (D9 /4-/7), FRSTOR, FNSAVE, FNSTSW (DD /4, /6, /7).
     */
    private static boolean isControl(int op, int ext) {
        return (op == 1 && ext >= 4) || (op == 5 && ext >= 4);
    }

    /** A pending unmasked exception (FSW.ES) is delivered as #MF by the next waiting instruction. */
    private void checkPending() {
        if ((f.fsw & ES) != 0 && (cpu.cr0 & Cpu.CR0_NE) != 0) {
            throw CpuFault.of(CpuFault.MF);
        }
    }

    private void memoryForm(Insn i, int op, int ext, long la) {
        switch (op) {
            case 0 -> arithMemory(ext, floatAt(la));
            case 2 -> arithMemory(ext, (int) cpu.read32(la));
            case 4 -> arithMemory(ext, Double.longBitsToDouble(cpu.read64(la)));
            case 6 -> arithMemory(ext, (short) cpu.read16(la));
            case 1 -> {
                switch (ext) {
                    case 0 -> {
                        int bits = (int) cpu.read32(la);
                        loadValue(Fp80.mantissaOfFloat(bits), Fp80.signExpOfFloat(bits));
                    }
                    case 2, 3 -> storeReal(la, true, ext == 3);
                    case 4 -> loadEnvironment(i, la);
                    case 5 -> {
                        f.fcw = (int) cpu.read16(la);
                        updateSummary();
                    }
                    case 6 -> {
                        storeEnvironment(i, la);
                        f.fcw |= 0x3f; // FNSTENV masks all exceptions afterwards
                        updateSummary();
                    }
                    case 7 -> cpu.write16(la, f.fcw);
                    default -> throw CpuFault.ud();
                }
            }
            case 3 -> {
                switch (ext) {
                    case 0 -> loadInteger((int) cpu.read32(la));
                    case 1, 2, 3 -> storeInteger(la, 4, ext == 1, ext != 2);
                    case 5 -> loadValue(cpu.read64(la), (int) cpu.read16(la + 8));
                    case 7 -> storeExtended(la);
                    default -> throw CpuFault.ud();
                }
            }
            case 5 -> {
                switch (ext) {
                    case 0 -> {
                        long bits = cpu.read64(la);
                        loadValue(Fp80.mantissaOfDouble(bits), Fp80.signExpOfDouble(bits));
                    }
                    case 1, 2, 3 -> {
                        if (ext == 1) {
                            storeInteger(la, 8, true, true);
                        } else {
                            storeReal(la, false, ext == 3);
                        }
                    }
                    case 4 -> {
                        loadEnvironment(i, la);
                        long regs = la + environmentSize(i);
                        for (int k = 0; k < 8; k++) {
                            int p = phys(k);
                            f.st[2 * p] = cpu.read64(regs + 10L * k);
                            f.st[2 * p + 1] = cpu.read16(regs + 10L * k + 8);
                        }
                    }
                    case 6 -> {
                        cpu.mmu.probeWrite(la, environmentSize(i) + 80);
                        storeEnvironment(i, la);
                        long regs = la + environmentSize(i);
                        for (int k = 0; k < 8; k++) {
                            int p = phys(k);
                            cpu.write64(regs + 10L * k, f.st[2 * p]);
                            cpu.write16(regs + 10L * k + 8, f.st[2 * p + 1]);
                        }
                        init();
                    }
                    case 7 -> cpu.write16(la, f.fsw);
                    default -> throw CpuFault.ud();
                }
            }
            default -> { // 7: DF
                switch (ext) {
                    case 0 -> loadInteger((short) cpu.read16(la));
                    case 1, 2, 3 -> storeInteger(la, 2, ext == 1, ext != 2);
                    case 4 -> loadBcd(la);
                    case 5 -> loadInteger(cpu.read64(la));
                    case 6 -> storeBcd(la);
                    default -> storeInteger(la, 8, false, true);
                }
            }
        }
    }

    private void registerForm(Insn i, int op, int ext, int sti) {
        switch (op) {
            case 0 -> {
                // D8: ST(0) = ST(0) op ST(i); /2 FCOM, /3 FCOMP.
                if (ext == 2 || ext == 3) {
                    compareRegisters(sti, false, ext == 3 ? 1 : 0);
                } else {
                    arithRegisters(ext, 0, sti, false);
                }
            }
            case 1 -> registerD9(ext, sti);
            case 2 -> {
                if (ext <= 3) {
                    fcmov(sti, condition(ext));
                } else if (ext == 5 && sti == 1) {
                    compareRegisters(1, true, 2); // FUCOMPP
                } else {
                    throw CpuFault.ud();
                }
            }
            case 3 -> {
                switch (ext) {
                    case 0, 1, 2, 3 -> fcmov(sti, !condition(ext));
                    case 4 -> {
                        switch (sti) {
                            case 2 -> f.fsw &= 0x7f00; // FNCLEX
                            case 3 -> init();           // FNINIT
                            case 0, 1, 4 -> { }         // FENI, FDISI, FSETPM: no-ops since the 387
                            default -> throw CpuFault.ud();
                        }
                    }
                    case 5, 6 -> compareToFlags(sti, ext == 5, false); // FUCOMI, FCOMI
                    default -> throw CpuFault.ud();
                }
            }
            case 4 -> {
                // DC: ST(i) = ST(i) op ST(0), with SUB/SUBR and DIV/DIVR exchanged (SDM "FSUB").
                if (ext == 2 || ext == 3) {
                    compareRegisters(sti, false, ext == 3 ? 1 : 0);
                } else {
                    arithRegisters(ext >= 4 ? ext ^ 1 : ext, sti, 0, false);
                }
            }
            case 5 -> {
                switch (ext) {
                    case 0 -> f.ftw &= ~(1 << phys(sti)); // FFREE
                    case 1 -> fxch(sti);
                    case 2, 3 -> {
                        // FST/FSTP ST(i)
                        if (empty(0)) {
                            underflow(sti, ext == 3);
                            return;
                        }
                        copy(0, sti);
                        if (ext == 3) {
                            pop();
                        }
                    }
                    case 4, 5 -> compareRegisters(sti, true, ext == 5 ? 1 : 0); // FUCOM, FUCOMP
                    default -> throw CpuFault.ud();
                }
            }
            case 6 -> {
                if (ext == 3) {
                    if (sti != 1) {
                        throw CpuFault.ud();
                    }
                    compareRegisters(1, false, 2); // FCOMPP
                } else if (ext == 2) {
                    compareRegisters(sti, false, 1);
                } else {
                    arithRegisters(ext >= 4 ? ext ^ 1 : ext, sti, 0, true);
                }
            }
            default -> {
                switch (ext) {
                    case 0 -> { // FFREEP
                        f.ftw &= ~(1 << phys(sti));
                        pop();
                    }
                    case 1 -> fxch(sti);
                    case 2, 3 -> {
                        if (empty(0)) {
                            underflow(sti, true);
                            return;
                        }
                        copy(0, sti);
                        pop();
                    }
                    case 4 -> {
                        if (sti != 0) {
                            throw CpuFault.ud();
                        }
                        cpu.setReg(0, 2, f.fsw); // FNSTSW AX
                    }
                    case 5, 6 -> compareToFlags(sti, ext == 5, true); // FUCOMIP, FCOMIP
                    default -> throw CpuFault.ud();
                }
            }
        }
    }

    private void registerD9(int ext, int sti) {
        switch (ext) {
            case 0 -> { // FLD ST(i)
                if (empty(sti)) {
                    if (!raise(IE | SF)) {
                        pushRaw(Fp80.INDEFINITE_MANT, Fp80.INDEFINITE_SE);
                    }
                    return;
                }
                int p = phys(sti);
                loadValue(f.st[2 * p], (int) f.st[2 * p + 1]);
            }
            case 1 -> fxch(sti);
            case 2 -> {
                if (sti != 0) {
                    throw CpuFault.ud();
                }
            }
            case 3 -> { // FSTP1, an alias of FSTP ST(i)
                if (empty(0)) {
                    underflow(sti, true);
                    return;
                }
                copy(0, sti);
                pop();
            }
            case 4 -> {
                switch (sti) {
                    case 0, 1 -> { // FCHS, FABS: sign only, exact
                        if (empty(0)) {
                            underflow(0, false);
                            return;
                        }
                        int p = phys(0);
                        long se = f.st[2 * p + 1];
                        f.st[2 * p + 1] = sti == 0 ? se ^ 0x8000 : se & 0x7fff;
                        f.fsw &= ~C1;
                    }
                    case 4 -> { // FTST
                        if (empty(0)) {
                            underflowCompare();
                            return;
                        }
                        setCompare(get(0), 0.0, false);
                    }
                    case 5 -> fxam();
                    default -> throw CpuFault.ud();
                }
            }
            case 5 -> {
                if (sti == 7) {
                    throw CpuFault.ud();
                }
                pushRaw(CONST_MANT[sti], CONST_SE[sti]);
            }
            case 6 -> transcendental6(sti);
            default -> transcendental7(sti);
        }
    }

    // D9 F0-F7: F2XM1, FYL2X, FPTAN, FPATAN, FXTRACT, FPREM1, FDECSTP, FINCSTP.
    private void transcendental6(int sti) {
        switch (sti) {
            case 6, 7 -> {
                setTop(top() + (sti == 6 ? -1 : 1));
                f.fsw &= ~C1;
                return;
            }
            case 4 -> {
                fxtract();
                return;
            }
            case 5 -> {
                partialRemainder(true);
                return;
            }
            default -> { }
        }
        boolean binary = sti == 1 || sti == 3;
        if (empty(0) || (binary && empty(1))) {
            underflow(binary ? 1 : 0, binary);
            return;
        }
        double x = get(0);
        switch (sti) {
            case 0 -> result(0, Math.abs(x) < 1e-5 ? Math.expm1(x * LN2) : Math.pow(2, x) - 1, x, 0);
            case 1 -> { // FYL2X: ST(1) * log2(ST(0)), pop
                double y = get(1);
                int flags = x < 0 || (x == 0 && y == 0) ? IE : x == 0 ? ZE : 0;
                double r = flags == IE ? INDEFINITE : y * (Math.log(x) / LN2);
                store(1, r, flags);
                pop();
            }
            case 2 -> { // FPTAN: ST(0) = tan, push 1.0
                if (Math.abs(x) >= 0x1p63) {
                    f.fsw |= C2; // out of range: left for software to reduce
                    return;
                }
                f.fsw &= ~C2;
                result(0, Math.tan(x), x, 0);
                pushRaw(CONST_MANT[0], CONST_SE[0]);
            }
            default -> { // FPATAN: ST(1) = atan(ST(1) / ST(0)), pop
                store(1, Math.atan2(get(1), x), 0);
                pop();
            }
        }
    }

    // D9 F8-FF: FPREM, FYL2XP1, FSQRT, FSINCOS, FRNDINT, FSCALE, FSIN, FCOS.
    private void transcendental7(int sti) {
        if (sti == 0) {
            partialRemainder(false);
            return;
        }
        boolean binary = sti == 1 || sti == 5;
        if (empty(0) || (binary && empty(1))) {
            underflow(sti == 1 ? 1 : 0, sti == 1);
            return;
        }
        double x = get(0);
        switch (sti) {
            case 1 -> { // FYL2XP1: ST(1) * log2(ST(0) + 1), pop
                store(1, get(1) * (Math.log1p(x) / LN2), x < -1 ? IE : 0);
                pop();
            }
            case 2 -> {
                int flags = x < 0 ? IE : 0;
                store(0, flags != 0 ? INDEFINITE : Math.sqrt(x), nanFlags(x, 0) | flags);
            }
            case 3 -> { // FSINCOS: ST(0) = sin, push cos
                if (Math.abs(x) >= 0x1p63) {
                    f.fsw |= C2;
                    return;
                }
                f.fsw &= ~C2;
                double c = Math.cos(x);
                result(0, Math.sin(x), x, 0);
                if (push()) {
                    put(0, c);
                }
            }
            case 4 -> frndint();
            case 5 -> fscale();
            default -> {
                if (Math.abs(x) >= 0x1p63) {
                    f.fsw |= C2;
                    return;
                }
                f.fsw &= ~C2;
                result(0, sti == 6 ? Math.sin(x) : Math.cos(x), x, 0);
            }
        }
    }

    // ---- stack ----

    private int top() {
        return (f.fsw >>> TOP_SHIFT) & 7;
    }

    private void setTop(int t) {
        f.fsw = (f.fsw & ~TOP_MASK) | ((t & 7) << TOP_SHIFT);
    }

    /** The physical register of ST(i). */
    private int phys(int i) {
        return (top() + i) & 7;
    }

    private boolean empty(int i) {
        return (f.ftw & (1 << phys(i))) == 0;
    }

    private double get(int i) {
        int p = phys(i);
        return Fp80.toDouble(f.st[2 * p], (int) f.st[2 * p + 1]);
    }

    private void put(int i, double v) {
        putRaw(i, Fp80.mantissa(v), Fp80.signExp(v));
    }

    private void putRaw(int i, long mant, int se) {
        int p = phys(i);
        f.st[2 * p] = mant;
        f.st[2 * p + 1] = se & 0xffff;
        f.ftw |= 1 << p;
    }

    private void copy(int from, int to) {
        int p = phys(from);
        putRaw(to, f.st[2 * p], (int) f.st[2 * p + 1]);
    }

    private void pop() {
        f.ftw &= ~(1 << phys(0));
        setTop(top() + 1);
    }

    /**
     * Decrements TOP for a push. Returns whether the caller should write ST(0): false on a
     * stack overflow, where a masked one has already written the QNaN indefinite.
     */
    private boolean push() {
        int t = (top() - 1) & 7;
        f.fsw &= ~C1;
        if ((f.ftw & (1 << t)) != 0) {
            f.fsw |= C1; // C1 = 1: overflow rather than underflow
            if (!raise(IE | SF)) {
                setTop(t);
                putRaw(0, Fp80.INDEFINITE_MANT, Fp80.INDEFINITE_SE);
            }
            return false;
        }
        setTop(t);
        return true;
    }

    private void pushRaw(long mant, int se) {
        if (push()) {
            putRaw(0, mant, se);
        }
    }

    /** FLD of an 80-bit value: a signaling NaN is quieted and raises IE (SDM "FLD"). */
    private void loadValue(long mant, int se) {
        if (Fp80.isSignalingNaN(mant, se)) {
            if (raise(IE)) {
                return;
            }
            mant |= 1L << 62;
        }
        pushRaw(mant, se);
    }

    private void loadInteger(long v) {
        long magnitude = v < 0 ? -v : v; // -Long.MIN_VALUE is 2^63 read unsigned
        pushRaw(Fp80.mantissaOfInteger(magnitude), Fp80.signExpOfInteger(magnitude, v < 0));
    }

    /** A stack underflow: IE and SF with C1 = 0; masked, the destination gets the QNaN indefinite. */
    private void underflow(int dest, boolean popAfter) {
        f.fsw &= ~C1;
        if (raise(IE | SF)) {
            return;
        }
        if (dest >= 0) {
            putRaw(dest, Fp80.INDEFINITE_MANT, Fp80.INDEFINITE_SE);
        }
        if (popAfter) {
            pop();
        }
    }

    /**
     * Sets exception flags in FSW. Returns true if one of them is unmasked: then ES and B are
     * set, and the instruction leaves its destination alone for #MF to report at the next one.
     */
    private boolean raise(int flags) {
        if (flags == 0) {
            return false;
        }
        f.fsw |= flags;
        if ((flags & ~f.fcw & 0x3f) != 0) {
            f.fsw |= ES | BUSY;
            return true;
        }
        return false;
    }

    /** Recomputes the summary bits after FCW or FSW were loaded: ES (and B) iff an unmasked flag is set. */
    private void updateSummary() {
        if ((f.fsw & ~f.fcw & 0x3f) != 0) {
            f.fsw |= ES | BUSY;
        } else {
            f.fsw &= ~(ES | BUSY);
        }
    }

    private void init() {
        f.fcw = 0x37f;
        f.fsw = 0;
        f.ftw = 0;
        f.fop = 0;
        f.fip = 0;
        f.fdp = 0;
    }

    // ---- arithmetic ----

    private double floatAt(long la) {
        return Float.intBitsToFloat((int) cpu.read32(la));
    }

    private void arithMemory(int ext, double x) {
        if (ext == 2 || ext == 3) {
            if (empty(0)) {
                underflowCompare();
                if (ext == 3) {
                    pop();
                }
                return;
            }
            setCompare(get(0), x, false);
            if (ext == 3) {
                pop();
            }
            return;
        }
        if (empty(0)) {
            underflow(0, false);
            return;
        }
        arith(ext, 0, get(0), x, false);
    }

    /** {@code dest = dest op src} on two registers; {@code ext} as in D8's register form. */
    private void arithRegisters(int ext, int dest, int src, boolean popAfter) {
        if (empty(dest) || empty(src)) {
            underflow(dest, popAfter);
            return;
        }
        arith(ext, dest, get(dest), get(src), popAfter);
    }

    /** ST(dest) = d op s for the D8 group's /0 FADD, /1 FMUL, /4 FSUB, /5 FSUBR, /6 FDIV, /7 FDIVR. */
    private void arith(int ext, int dest, double d, double s, boolean popAfter) {
        double r;
        int flags;
        if (Double.isNaN(d) || Double.isNaN(s)) {
            r = propagateNaN(d, s);
            flags = nanFlags(d, s);
        } else {
            r = switch (ext) {
                case 0 -> d + s;
                case 1 -> d * s;
                case 4 -> d - s;
                case 5 -> s - d;
                case 6 -> d / s;
                default -> s / d;
            };
            flags = 0;
            if (Double.isNaN(r)) {
                r = INDEFINITE;
                flags = IE;
            } else if (ext >= 6 && (ext == 6 ? s : d) == 0 && !Double.isInfinite(ext == 6 ? d : s)) {
                flags = ZE;
            } else if (Double.isInfinite(r) && !Double.isInfinite(d) && !Double.isInfinite(s)) {
                flags = OE | PE;
            }
        }
        store(dest, r, flags);
        if (popAfter) {
            pop();
        }
    }

    /** Writes a result unless an unmasked invalid or divide-by-zero exception stops it. */
    private void store(int dest, double r, int flags) {
        f.fsw &= ~C1;
        if (raise(flags) && (flags & (IE | ZE)) != 0) {
            return;
        }
        put(dest, r);
    }

    /** The result of a one-operand function of {@code x}: NaNs propagate, a new NaN is the invalid indefinite. */
    private void result(int dest, double r, double x, int flags) {
        if (Double.isNaN(x)) {
            store(dest, propagateNaN(x, x), nanFlags(x, 0));
        } else if (Double.isNaN(r)) {
            store(dest, INDEFINITE, IE | flags);
        } else {
            store(dest, r, flags);
        }
    }

    private static boolean isSignaling(double v) {
        return Double.isNaN(v) && (Double.doubleToRawLongBits(v) & (1L << 51)) == 0;
    }

    private static int nanFlags(double a, double b) {
        return isSignaling(a) || isSignaling(b) ? IE : 0;
    }

    /** Of two NaN operands the one with the larger significand, quieted (SDM vol. 1 table 4-7). */
    private static double propagateNaN(double a, double b) {
        long x = Double.doubleToRawLongBits(a);
        long y = Double.doubleToRawLongBits(b);
        long m = (1L << 51) - 1;
        long r;
        if (!Double.isNaN(a)) {
            r = y;
        } else if (!Double.isNaN(b)) {
            r = x;
        } else {
            r = (y & m) > (x & m) ? y : x;
        }
        return Double.longBitsToDouble(r | (1L << 51));
    }

    // ---- comparisons ----

    /**
     * FCOM/FUCOM ST(i) and their popping forms: C3, C2, C0 as for a subtraction (SDM "FCOM").
     * FUCOM raises IE only for a signaling NaN, FCOM for any NaN.
     */
    private void compareRegisters(int sti, boolean unordered, int pops) {
        if (empty(0) || empty(sti)) {
            underflowCompare();
        } else {
            setCompare(get(0), get(sti), unordered);
        }
        for (int k = 0; k < pops; k++) {
            pop();
        }
    }

    private void underflowCompare() {
        f.fsw = (f.fsw & ~(C0 | C1 | C2 | C3)) | C0 | C2 | C3;
        raise(IE | SF);
    }

    private void setCompare(double a, double b, boolean unordered) {
        int cc;
        int flags = 0;
        if (Double.isNaN(a) || Double.isNaN(b)) {
            cc = C3 | C2 | C0;
            flags = unordered ? nanFlags(a, b) : IE;
        } else {
            cc = a > b ? 0 : a < b ? C0 : C3;
        }
        f.fsw = (f.fsw & ~(C0 | C1 | C2 | C3)) | cc;
        raise(flags);
    }

    /** FCOMI/FUCOMI and the P forms: ZF, PF, CF as for an unsigned compare; OF, SF, AF cleared. */
    private void compareToFlags(int sti, boolean unordered, boolean popAfter) {
        int bits;
        int flags = 0;
        if (empty(0) || empty(sti)) {
            flags = IE | SF;
            bits = Flags.ZF | Flags.PF | Flags.CF;
        } else {
            double a = get(0);
            double b = get(sti);
            if (Double.isNaN(a) || Double.isNaN(b)) {
                bits = Flags.ZF | Flags.PF | Flags.CF;
                flags = unordered ? nanFlags(a, b) : IE;
            } else {
                bits = a > b ? 0 : a < b ? Flags.CF : Flags.ZF;
            }
        }
        f.fsw &= ~C1;
        if (raise(flags)) {
            return;
        }
        cpu.flags.setEager(bits);
        if (popAfter) {
            pop();
        }
    }

    /** FCMOVcc's conditions, for DA /0-/3: B, E, BE, U (DB /0-/3 are their negations). */
    private boolean condition(int ext) {
        return switch (ext) {
            case 0 -> cpu.flags.cf();
            case 1 -> cpu.flags.zf();
            case 2 -> cpu.flags.cf() || cpu.flags.zf();
            default -> cpu.flags.pf();
        };
    }

    private void fcmov(int sti, boolean move) {
        if (empty(0) || empty(sti)) {
            underflow(0, false);
            return;
        }
        if (move) {
            copy(sti, 0);
        }
    }

    private void fxch(int sti) {
        if (empty(0) || empty(sti)) {
            f.fsw &= ~C1;
            if (raise(IE | SF)) {
                return;
            }
            // Masked: an empty one takes the QNaN indefinite, then they are exchanged.
            if (empty(0)) {
                putRaw(0, Fp80.INDEFINITE_MANT, Fp80.INDEFINITE_SE);
            }
            if (empty(sti)) {
                putRaw(sti, Fp80.INDEFINITE_MANT, Fp80.INDEFINITE_SE);
            }
        }
        int a = phys(0);
        int b = phys(sti);
        long m = f.st[2 * a];
        long se = f.st[2 * a + 1];
        f.st[2 * a] = f.st[2 * b];
        f.st[2 * a + 1] = f.st[2 * b + 1];
        f.st[2 * b] = m;
        f.st[2 * b + 1] = se;
        f.fsw &= ~C1;
    }

    /** FXAM: the class of ST(0) in C3, C2, C0 and its sign in C1 (SDM "FXAM"). */
    private void fxam() {
        int p = phys(0);
        long mant = f.st[2 * p];
        int se = (int) f.st[2 * p + 1];
        int exp = Fp80.exponent(se);
        int cc;
        if (empty(0)) {
            cc = C3 | C0;
        } else if (exp == 0x7fff) {
            cc = (mant & Fp80.INTEGER_BIT) == 0 ? 0 : (mant << 1) == 0 ? C2 | C0 : C0;
        } else if (exp == 0) {
            cc = mant == 0 ? C3 : C3 | C2;
        } else {
            cc = (mant & Fp80.INTEGER_BIT) == 0 ? 0 : C2;
        }
        f.fsw = (f.fsw & ~(C0 | C1 | C2 | C3)) | cc | (Fp80.sign(se) ? C1 : 0);
    }

    // ---- operations on the 80-bit format ----

    /** FRNDINT: rounds ST(0) to an integer as FCW.RC says, exactly in the 80-bit format. */
    private void frndint() {
        if (empty(0)) {
            underflow(0, false);
            return;
        }
        int p = phys(0);
        long mant = f.st[2 * p];
        int se = (int) f.st[2 * p + 1];
        int exp = Fp80.exponent(se);
        if (exp == 0x7fff) {
            if (Fp80.isSignalingNaN(mant, se) && !raise(IE)) {
                f.st[2 * p] = mant | (1L << 62);
            }
            return;
        }
        if (mant == 0 || (exp == 0 ? 1 : exp) - Fp80.BIAS >= 63) {
            return; // zero, or already an integer
        }
        long magnitude = Fp80.integerMagnitude(mant, se, roundingControl());
        putRaw(0, Fp80.mantissaOfInteger(magnitude), Fp80.signExpOfInteger(magnitude, Fp80.sign(se)));
    }

    /** FSCALE: ST(0) * 2^trunc(ST(1)); exact by exponent arithmetic for normal values. */
    private void fscale() {
        double s = get(1);
        int p = phys(0);
        long mant = f.st[2 * p];
        int se = (int) f.st[2 * p + 1];
        int exp = Fp80.exponent(se);
        if (!Double.isNaN(s) && !Double.isInfinite(s) && exp != 0 && exp != 0x7fff && mant < 0) {
            double n = s < 0 ? Math.ceil(s) : Math.floor(s);
            double e = exp + n;
            if (e > 0 && e < 0x7fff) {
                putRaw(0, mant, (se & 0x8000) | (int) e);
                f.fsw &= ~C1;
                return;
            }
        }
        double x = get(0);
        if (Double.isNaN(x) || Double.isNaN(s)) {
            store(0, propagateNaN(x, s), nanFlags(x, s));
            return;
        }
        if ((x == 0 && s == Double.POSITIVE_INFINITY) || (Double.isInfinite(x) && s == Double.NEGATIVE_INFINITY)) {
            store(0, INDEFINITE, IE);
            return;
        }
        int n = (int) Math.max(-70000, Math.min(70000, s));
        result(0, Math.scalb(x, n), x, 0);
    }

    /** FXTRACT: ST(0) becomes its exponent, and its significand (exponent 0, same sign) is pushed. */
    private void fxtract() {
        if (empty(0)) {
            underflow(0, false);
            return;
        }
        int p = phys(0);
        long mant = f.st[2 * p];
        int se = (int) f.st[2 * p + 1];
        int exp = Fp80.exponent(se);
        if (exp == 0x7fff && (mant << 1) != 0) {
            if (!raise(Fp80.isSignalingNaN(mant, se) ? IE : 0)) {
                mant |= 1L << 62;
                putRaw(0, mant, se);
                pushRaw(mant, se);
            }
            return;
        }
        if (mant == 0) {
            // Zero: ZE, the exponent is -infinity and the significand the zero itself.
            if (raise(ZE)) {
                return;
            }
            put(0, Double.NEGATIVE_INFINITY);
            pushRaw(0, se);
            return;
        }
        if (exp == 0x7fff) {
            put(0, Double.POSITIVE_INFINITY);
            pushRaw(mant, se);
            return;
        }
        int e = (exp == 0 ? 1 : exp) - Fp80.BIAS;
        int n = Long.numberOfLeadingZeros(mant);
        put(0, e - n);
        pushRaw(mant << n, (se & 0x8000) | Fp80.BIAS);
    }

    /**
     * FPREM (truncating) and FPREM1 (IEEE): the remainder, computed exactly on doubles in one
     * step, so C2 (incomplete) is always 0; the low three quotient bits go to C0, C3, C1.
     */
    private void partialRemainder(boolean ieee) {
        if (empty(0) || empty(1)) {
            underflow(0, false);
            return;
        }
        double a = get(0);
        double b = get(1);
        f.fsw &= ~(C0 | C1 | C2 | C3);
        if (Double.isNaN(a) || Double.isNaN(b)) {
            store(0, propagateNaN(a, b), nanFlags(a, b));
            return;
        }
        if (Double.isInfinite(a) || b == 0) {
            store(0, INDEFINITE, IE);
            return;
        }
        double r = ieee ? Math.IEEEremainder(a, b) : a % b;
        long q;
        double b8 = 8 * b;
        if (Double.isInfinite(b8) || Double.isInfinite(a)) {
            q = (long) Math.abs((a - r) / b);
        } else {
            // a - r = q * b and a % 8b = a - 8mb, so (a % 8b - r) / b = q - 8m: q's low bits.
            q = Math.abs(Math.round((a % b8 - r) / b));
        }
        int cc = ((q & 4) != 0 ? C0 : 0) | ((q & 2) != 0 ? C3 : 0) | ((q & 1) != 0 ? C1 : 0);
        f.fsw |= cc;
        put(0, r == 0 ? Math.copySign(0.0, a) : r);
    }

    private int roundingControl() {
        return (f.fcw >>> 10) & 3;
    }

    // ---- stores ----

    /** FST/FSTP m32/m64: rounded in one step from the 80-bit value, as FCW.RC says. */
    private void storeReal(long la, boolean single, boolean popAfter) {
        long bits;
        if (empty(0)) {
            f.fsw &= ~C1;
            if (raise(IE | SF)) {
                return;
            }
            bits = single ? 0xffc00000L : 0xfff8000000000000L;
        } else {
            int p = phys(0);
            long mant = f.st[2 * p];
            int se = (int) f.st[2 * p + 1];
            bits = Fp80.round(mant, se, roundingControl(), single);
            int flags = Fp80.isSignalingNaN(mant, se) ? IE : 0;
            long expMask = single ? 0x7f800000L : 0x7ff0000000000000L;
            if ((bits & expMask) == expMask && Fp80.exponent(se) != 0x7fff) {
                flags |= OE | PE;
            }
            f.fsw &= ~C1;
            if (raise(flags) && (flags & IE) != 0) {
                return;
            }
        }
        if (single) {
            cpu.write32(la, bits);
        } else {
            cpu.write64(la, bits);
        }
        if (popAfter) {
            pop();
        }
    }

    /** FSTP m80: the register exactly. */
    private void storeExtended(long la) {
        long mant;
        int se;
        if (empty(0)) {
            f.fsw &= ~C1;
            if (raise(IE | SF)) {
                return;
            }
            mant = Fp80.INDEFINITE_MANT;
            se = Fp80.INDEFINITE_SE;
        } else {
            int p = phys(0);
            mant = f.st[2 * p];
            se = (int) f.st[2 * p + 1];
        }
        cpu.mmu.probeWrite(la, 10);
        cpu.write64(la, mant);
        cpu.write16(la + 8, se);
        pop();
    }

    /**
     * FIST/FISTP (rounded as FCW.RC says) and FISTTP (truncated) to a {@code size}-byte
     * integer; NaN, infinity and out-of-range values raise IE and store the integer indefinite.
     */
    private void storeInteger(long la, int size, boolean truncate, boolean popAfter) {
        long indefinite = 1L << (8 * size - 1);
        long v;
        f.fsw &= ~C1;
        if (empty(0)) {
            if (raise(IE | SF)) {
                return;
            }
            v = indefinite;
        } else {
            int p = phys(0);
            long mant = f.st[2 * p];
            int se = (int) f.st[2 * p + 1];
            long magnitude = Fp80.integerMagnitude(mant, se, truncate ? Fp80.RC_ZERO : roundingControl());
            boolean negative = Fp80.sign(se);
            long limit = negative ? indefinite : indefinite - 1;
            if (Long.compareUnsigned(magnitude, limit) > 0) {
                if (raise(IE)) {
                    return;
                }
                v = indefinite;
            } else {
                v = negative ? -magnitude : magnitude;
            }
        }
        cpu.write(la, size, v);
        if (popAfter) {
            pop();
        }
    }

    // ---- packed BCD (FBLD/FBSTP m80: 18 digits and a sign byte, SDM vol. 1 §4.7) ----

    private void loadBcd(long la) {
        long digits = cpu.read64(la);
        int top = (int) cpu.read16(la + 8);
        long v = 0;
        for (int k = 1; k >= 0; k--) {
            v = v * 10 + ((top >>> (4 * k)) & 0xf);
        }
        for (int k = 15; k >= 0; k--) {
            v = v * 10 + ((digits >>> (4 * k)) & 0xf);
        }
        boolean negative = (top & 0x8000) != 0;
        pushRaw(Fp80.mantissaOfInteger(v), Fp80.signExpOfInteger(v, negative));
    }

    private void storeBcd(long la) {
        long lo;
        int hi;
        f.fsw &= ~C1;
        long magnitude = -1;
        boolean negative = false;
        if (!empty(0)) {
            int p = phys(0);
            int se = (int) f.st[2 * p + 1];
            magnitude = Fp80.integerMagnitude(f.st[2 * p], se, roundingControl());
            negative = Fp80.sign(se);
        } else {
            f.fsw |= SF;
        }
        if (Long.compareUnsigned(magnitude, 999_999_999_999_999_999L) > 0) {
            if (raise(IE)) {
                return;
            }
            // The packed BCD indefinite: FFFF C000 0000 0000 0000.
            lo = 0xc000000000000000L;
            hi = 0xffff;
        } else {
            lo = 0;
            for (int k = 0; k < 16; k++) {
                lo |= (magnitude % 10) << (4 * k);
                magnitude /= 10;
            }
            hi = (int) (magnitude % 10) | (int) (magnitude / 10) << 4 | (negative ? 0x8000 : 0);
        }
        cpu.mmu.probeWrite(la, 10);
        cpu.write64(la, lo);
        cpu.write16(la + 8, hi);
        pop();
    }

    // ---- environment (SDM vol. 1 §8.1.10, figures 8-9 and 8-10: protected-mode layouts) ----

    /** 28 bytes with a 32-bit operand size (also with REX.W in 64-bit mode), 14 with a 16-bit one. */
    private static int environmentSize(Insn i) {
        return i.osize == 2 ? 14 : 28;
    }

    private void storeEnvironment(Insn i, long la) {
        int w = i.osize == 2 ? 2 : 4;
        cpu.mmu.probeWrite(la, 7 * w);
        cpu.write(la, w, f.fcw);
        cpu.write(la + w, w, f.fsw);
        cpu.write(la + 2L * w, w, fullTagWord());
        cpu.write(la + 3L * w, w, f.fip);
        cpu.write(la + 4L * w, w, w == 4 ? ((long) (f.fop & 0x7ff) << 16) : 0);
        cpu.write(la + 5L * w, w, f.fdp);
        cpu.write(la + 6L * w, w, 0);
    }

    private void loadEnvironment(Insn i, long la) {
        int w = i.osize == 2 ? 2 : 4;
        int fcw = (int) cpu.read(la, 2);
        int fsw = (int) cpu.read(la + w, 2);
        int tags = (int) cpu.read(la + 2L * w, 2);
        long fip = cpu.read(la + 3L * w, w);
        long fop = w == 4 ? (cpu.read(la + 4L * w, 4) >>> 16) & 0x7ff : 0;
        long fdp = cpu.read(la + 5L * w, w);
        f.fcw = fcw;
        f.fsw = fsw;
        int ftw = 0;
        for (int p = 0; p < 8; p++) {
            if (((tags >>> (2 * p)) & 3) != 3) {
                ftw |= 1 << p;
            }
        }
        f.ftw = ftw;
        f.fip = fip;
        f.fop = (int) fop;
        f.fdp = fdp;
        updateSummary();
    }

    /** The full tag word, two bits per physical register: 0 valid, 1 zero, 2 special, 3 empty. */
    int fullTagWord() {
        return fullTagWord(f);
    }

    static int fullTagWord(FpuState f) {
        int tags = 0;
        for (int p = 0; p < 8; p++) {
            int tag;
            if ((f.ftw & (1 << p)) == 0) {
                tag = 3;
            } else {
                long mant = f.st[2 * p];
                int exp = (int) f.st[2 * p + 1] & 0x7fff;
                if (exp == 0 && mant == 0) {
                    tag = 1;
                } else if (exp == 0x7fff || exp == 0 || mant >= 0) {
                    tag = 2; // NaN, infinity, denormal, or unsupported (integer bit clear)
                } else {
                    tag = 0;
                }
            }
            tags |= tag << (2 * p);
        }
        return tags;
    }
}
