package org.vireo.cpu.emu;

import java.nio.ByteBuffer;

import org.vireo.api.bus.IoBus;
import org.vireo.api.cpu.Segment;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.memory.GuestMemory;

/**
 * The architectural state of one x86-64 logical processor and the primitives instructions are
 * built from: register and memory operands, the stack, segment loads, and the delivery of
 * exceptions and interrupts through the 64-bit IDT (Intel SDM vol. 3 ch. 6).
 *
 * <p>Only 64-bit mode is implemented (the loader enters the kernel there and a 64-bit
 * userland never leaves it); a switch to another mode stops the VM with a clear error.
 */
final class Cpu {

    static final long CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_ET = 16, CR0_NE = 32,
            CR0_WP = 1L << 16, CR0_AM = 1L << 18, CR0_NW = 1L << 29, CR0_CD = 1L << 30, CR0_PG = 1L << 31;
    static final long CR4_PSE = 1 << 4, CR4_PAE = 1 << 5, CR4_PGE = 1 << 7, CR4_PCE = 1 << 8,
            CR4_OSFXSR = 1 << 9, CR4_OSXMMEXCPT = 1 << 10, CR4_TSD = 1 << 2, CR4_DE = 1 << 3, CR4_MCE = 1 << 6,
            CR4_UMIP = 1 << 11;
    /** The CR4 bits this CPU lets software set: those whose features CPUID reports. */
    static final long CR4_SUPPORTED = CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE
            | CR4_OSFXSR | CR4_OSXMMEXCPT;
    static final long EFER_SCE = 1, EFER_LME = 1 << 8, EFER_LMA = 1 << 10, EFER_NXE = 1 << 11;

    // ---- state ----

    final long[] r = new long[16];
    /** The address of the instruction being executed (of the next one between instructions). */
    long rip;
    /** RFLAGS without the six arithmetic flags, which live in {@link #flags}. Bit 1 is always set. */
    int rflags = 2;
    final Flags flags = new Flags();

    int cpl;
    Segment cs = Segment.NULL, ss = Segment.NULL, ds = Segment.NULL, es = Segment.NULL,
            fs = Segment.NULL, gs = Segment.NULL, tr = Segment.NULL, ldtr = Segment.NULL;
    long fsBase, gsBase;
    long gdtBase, idtBase;
    int gdtLimit, idtLimit;

    long cr0 = CR0_ET | CR0_NE, cr2, cr3, cr4, efer, xcr0 = 1;
    final long[] dr = new long[8];
    final Msrs msrs;
    final FpuState fpu = new FpuState();

    boolean halted;
    /**
     * Set (from any thread) when the execution loop must look up from instructions: an
     * interrupt may be pending, IF was set, a kick. Cleared by the loop before it looks.
     */
    volatile boolean attention;
    /** STI and MOV/POP SS block interrupts until the next instruction is done (SDM vol. 3 §6.8.3). */
    boolean interruptShadow;

    // ---- collaborators ----

    final Mmu mmu;
    final IoBus pio;
    final Platform platform;

    Cpu(GuestMemory memory, IoBus pio, IoBus mmio, Platform platform) {
        this.pio = pio;
        this.platform = platform;
        this.msrs = new Msrs(this);
        this.mmu = new Mmu(this, memory, mmio);
        dr[6] = 0xffff0ff0L;
        dr[7] = 0x400;
    }

    /**
     * What the CPU needs from the machine around it: its local APIC, the time, and the
     * interrupt controller's answer to "is there an interrupt for me?".
     */
    interface Platform {
        /** Guest time in nanoseconds, for the TSC. */
        long nanos();

        /** The vector of a deliverable external interrupt, or -1. */
        int pendingInterrupt();

        /** INTA: takes the pending interrupt and returns its vector. */
        int acknowledgeInterrupt();

        boolean takeNmi();

        boolean isApicPage(long physPage);

        long apicRead(int offset, int size);

        void apicWrite(int offset, int size, long value);

        long apicBaseMsr();

        void setApicBaseMsr(long value);

        int tpr();

        void setTpr(int tpr);
    }

    boolean isApicPage(long physPage) {
        return platform.isApicPage(physPage);
    }

    long apicRead(int offset, int size) {
        return platform.apicRead(offset, size);
    }

    void apicWrite(int offset, int size, long value) {
        platform.apicWrite(offset, size, value);
    }

    /** The TSC's rate: constant and invariant, reported in CPUID leaves 0x15 and 0x16. */
    static final long TSC_HZ = 2_500_000_000L;

    /** The core crystal clock of CPUID leaf 0x15, which also drives the local APIC timer (LocalApic.TIMER_HZ). */
    static final long CRYSTAL_HZ = 25_000_000L;

    /** The time-stamp counter: guest time at {@link #TSC_HZ}, plus the offset a WRMSR to it set. */
    long tsc() {
        return platform.nanos() * (TSC_HZ / 500_000_000L) / 2 + msrs.tscOffset;
    }

    // ---- registers ----

    long reg(int n, int size) {
        return switch (size) {
            case 8 -> r[n];
            case 4 -> r[n] & 0xffffffffL;
            case 2 -> r[n] & 0xffff;
            default -> throw new IllegalArgumentException("byte registers need the REX state");
        };
    }

    void setReg(int n, int size, long v) {
        switch (size) {
            case 8 -> r[n] = v;
            case 4 -> r[n] = v & 0xffffffffL;
            case 2 -> r[n] = (r[n] & ~0xffffL) | (v & 0xffff);
            default -> throw new IllegalArgumentException("byte registers need the REX state");
        }
    }

    /** Byte register {@code n}: without REX, 4-7 are AH, CH, DH, BH. */
    long reg8(int n, boolean rex) {
        if (!rex && n >= 4 && n < 8) {
            return (r[n - 4] >>> 8) & 0xff;
        }
        return r[n] & 0xff;
    }

    void setReg8(int n, boolean rex, long v) {
        if (!rex && n >= 4 && n < 8) {
            r[n - 4] = (r[n - 4] & ~0xff00L) | ((v & 0xff) << 8);
        } else {
            r[n] = (r[n] & ~0xffL) | (v & 0xff);
        }
    }

    /** Register {@code n} at operand size {@code size} (1, 2, 4, 8) as instruction {@code i} names it. */
    long getReg(Insn i, int n, int size) {
        return size == 1 ? reg8(n, i.rex != 0) : reg(n, size);
    }

    void putReg(Insn i, int n, int size, long v) {
        if (size == 1) {
            setReg8(n, i.rex != 0, v);
        } else {
            setReg(n, size, v);
        }
    }

    long rflags() {
        return (rflags & ~Flags.ARITH) | flags.bits() | 2;
    }

    /** Sets RFLAGS, changing only the bits in {@code writable}. */
    void setRflags(long value, int writable) {
        int v = (int) value;
        flags.setEager((flags.bits() & ~writable) | (v & writable));
        int other = writable & ~Flags.ARITH;
        boolean wasIf = (rflags & Flags.IF) != 0;
        rflags = ((rflags & ~other) | (v & other) | 2) & ~Flags.ARITH;
        if (!wasIf && (rflags & Flags.IF) != 0) {
            attention = true;
        }
    }

    boolean interruptsEnabled() {
        return (rflags & Flags.IF) != 0;
    }

    // ---- memory operands ----

    /** The linear address of {@code i}'s memory operand (segment base included). */
    long ea(Insn i) {
        long a = i.disp;
        if (i.base == Insn.BASE_RIP) {
            a += rip + i.length;
        } else if (i.base >= 0) {
            a += r[i.base];
        }
        if (i.index >= 0) {
            a += r[i.index] << i.scale;
        }
        if (i.asize == 4) {
            a &= 0xffffffffL;
        }
        return a + segBase(i.segment);
    }

    long segBase(int seg) {
        return seg == Insn.SEG_FS ? fsBase : seg == Insn.SEG_GS ? gsBase : 0;
    }

    long readRm(Insn i, int size) {
        return i.mod == 3 ? getReg(i, i.rm, size) : read(ea(i), size);
    }

    void writeRm(Insn i, int size, long v) {
        if (i.mod == 3) {
            putReg(i, i.rm, size, v);
        } else {
            write(ea(i), size, v);
        }
    }

    /** The address a read-modify-write instruction read its memory operand from. */
    private long rmwAddress;

    long readRmForUpdate(Insn i, int size) {
        if (i.mod == 3) {
            return getReg(i, i.rm, size);
        }
        rmwAddress = ea(i);
        return read(rmwAddress, size);
    }

    void writeRmAfterRead(Insn i, int size, long v) {
        if (i.mod == 3) {
            putReg(i, i.rm, size, v);
        } else {
            write(rmwAddress, size, v);
        }
    }

    // ---- linear memory: TLB hit inline, the rest in the MMU ----

    int priv() {
        return cpl == 3 ? 1 : 0;
    }

    long read(long la, int size) {
        return switch (size) {
            case 1 -> read8(la);
            case 2 -> read16(la);
            case 4 -> read32(la);
            default -> read64(la);
        };
    }

    void write(long la, int size, long v) {
        switch (size) {
            case 1 -> write8(la, v);
            case 2 -> write16(la, v);
            case 4 -> write32(la, v);
            default -> write64(la, v);
        }
    }

    long read8(long la) {
        int s = Mmu.slot(la, priv());
        if (mmu.readTag[s] == la >>> 12) {
            return mmu.buf[s].get(mmu.off[s] + (int) (la & 0xfff)) & 0xffL;
        }
        return mmu.readSlow(la, 1);
    }

    long read16(long la) {
        int s = Mmu.slot(la, priv());
        if (mmu.readTag[s] == la >>> 12 && (la & 0xfff) <= 0xffe) {
            return mmu.buf[s].getShort(mmu.off[s] + (int) (la & 0xfff)) & 0xffffL;
        }
        return mmu.readSlow(la, 2);
    }

    long read32(long la) {
        int s = Mmu.slot(la, priv());
        if (mmu.readTag[s] == la >>> 12 && (la & 0xfff) <= 0xffc) {
            return mmu.buf[s].getInt(mmu.off[s] + (int) (la & 0xfff)) & 0xffffffffL;
        }
        return mmu.readSlow(la, 4);
    }

    long read64(long la) {
        int s = Mmu.slot(la, priv());
        if (mmu.readTag[s] == la >>> 12 && (la & 0xfff) <= 0xff8) {
            return mmu.buf[s].getLong(mmu.off[s] + (int) (la & 0xfff));
        }
        return mmu.readSlow(la, 8);
    }

    void write8(long la, long v) {
        int s = Mmu.slot(la, priv());
        if (mmu.writeTag[s] == la >>> 12) {
            mmu.buf[s].put(mmu.off[s] + (int) (la & 0xfff), (byte) v);
            return;
        }
        mmu.writeSlow(la, 1, v);
    }

    void write16(long la, long v) {
        int s = Mmu.slot(la, priv());
        if (mmu.writeTag[s] == la >>> 12 && (la & 0xfff) <= 0xffe) {
            mmu.buf[s].putShort(mmu.off[s] + (int) (la & 0xfff), (short) v);
            return;
        }
        mmu.writeSlow(la, 2, v);
    }

    void write32(long la, long v) {
        int s = Mmu.slot(la, priv());
        if (mmu.writeTag[s] == la >>> 12 && (la & 0xfff) <= 0xffc) {
            mmu.buf[s].putInt(mmu.off[s] + (int) (la & 0xfff), (int) v);
            return;
        }
        mmu.writeSlow(la, 4, v);
    }

    void write64(long la, long v) {
        int s = Mmu.slot(la, priv());
        if (mmu.writeTag[s] == la >>> 12 && (la & 0xfff) <= 0xff8) {
            mmu.buf[s].putLong(mmu.off[s] + (int) (la & 0xfff), v);
            return;
        }
        mmu.writeSlow(la, 8, v);
    }

    int fetchByte(long la) {
        int s = Mmu.slot(la, priv());
        if (mmu.fetchTag[s] == la >>> 12) {
            ByteBuffer b = mmu.buf[s];
            return b.get(mmu.off[s] + (int) (la & 0xfff)) & 0xff;
        }
        return mmu.fetchSlow(la);
    }

    /** Reads memory as the given privilege would (implicit supervisor accesses: IDT, GDT, TSS). */
    long readSystem(long la, int size) {
        int saved = cpl;
        cpl = 0;
        try {
            return read(la, size);
        } finally {
            cpl = saved;
        }
    }

    void writeSystem(long la, int size, long v) {
        int saved = cpl;
        cpl = 0;
        try {
            write(la, size, v);
        } finally {
            cpl = saved;
        }
    }

    // ---- stack ----

    void push64(long v) {
        long sp = r[X86CpuState.RSP] - 8;
        write64(sp, v);
        r[X86CpuState.RSP] = sp;
    }

    long pop64() {
        long sp = r[X86CpuState.RSP];
        long v = read64(sp);
        r[X86CpuState.RSP] = sp + 8;
        return v;
    }

    void push(int size, long v) {
        long sp = r[X86CpuState.RSP] - size;
        write(sp, size, v);
        r[X86CpuState.RSP] = sp;
    }

    long pop(int size) {
        long sp = r[X86CpuState.RSP];
        long v = read(sp, size);
        r[X86CpuState.RSP] = sp + size;
        return v;
    }

    // ---- segments (SDM vol. 3 ch. 3.4, 5.5) ----

    /** Reads the 8-byte descriptor for {@code selector} from the GDT or LDT; #GP(selector) beyond the limit. */
    long descriptor(int selector) {
        long base;
        int limit;
        if ((selector & 4) != 0) {
            if (ldtr.unusable()) {
                throw CpuFault.gp(selector & 0xfffc);
            }
            base = ldtr.base();
            limit = ldtr.limit();
        } else {
            base = gdtBase;
            limit = gdtLimit;
        }
        int offset = selector & 0xfff8;
        if (offset + 7 > (limit & 0xffffffffL)) {
            throw CpuFault.gp(selector & 0xfffc);
        }
        return readSystem(base + offset, 8);
    }

    static Segment segmentOf(int selector, long desc) {
        long base = ((desc >>> 16) & 0xffffffL) | (((desc >>> 56) & 0xff) << 24);
        int limit = (int) ((desc & 0xffff) | ((desc >>> 32) & 0xf0000));
        int attributes = (int) (((desc >>> 40) & 0xff) | (((desc >>> 52) & 0xf) << 12));
        if ((attributes & Segment.GRANULARITY) != 0) {
            limit = (limit << 12) | 0xfff;
        }
        return new Segment(selector, base, limit, attributes);
    }

    /** MOV/POP to a data segment register: ES 0, SS 2, DS 3, FS 4, GS 5. */
    void loadSegment(int seg, int selector) {
        selector &= 0xffff;
        Segment s;
        if ((selector & 0xfffc) == 0) {
            // A null selector: allowed for data segments, and for SS at CPL < 3 in 64-bit mode.
            if (seg == Insn.SEG_SS && (cpl == 3 || (selector & 3) != cpl)) {
                throw CpuFault.gp(0);
            }
            s = new Segment(selector, 0, 0, Segment.UNUSABLE | (seg == Insn.SEG_SS ? cpl << Segment.DPL_SHIFT : 0));
        } else {
            long desc = descriptor(selector);
            s = segmentOf(selector, desc);
            int type = s.type();
            int rpl = selector & 3;
            if ((s.attributes() & Segment.S) == 0) {
                throw CpuFault.gp(selector & 0xfffc);
            }
            if (seg == Insn.SEG_SS) {
                // A writable data segment with RPL = DPL = CPL.
                if ((type & 8) != 0 || (type & 2) == 0 || rpl != cpl || s.dpl() != cpl) {
                    throw CpuFault.gp(selector & 0xfffc);
                }
                if (!s.present()) {
                    throw CpuFault.withCode(CpuFault.SS, selector & 0xfffc);
                }
            } else {
                // Data, or readable code; a non-conforming one must be reachable at max(CPL, RPL).
                boolean code = (type & 8) != 0;
                if (code && (type & 2) == 0) {
                    throw CpuFault.gp(selector & 0xfffc);
                }
                boolean conforming = code && (type & 4) != 0;
                if (!conforming && Math.max(cpl, rpl) > s.dpl()) {
                    throw CpuFault.gp(selector & 0xfffc);
                }
                if (!s.present()) {
                    throw CpuFault.withCode(CpuFault.NP, selector & 0xfffc);
                }
            }
            if ((s.attributes() & 1) == 0) {
                // Set the accessed bit in the descriptor, as the CPU does.
                long addr = ((selector & 4) != 0 ? ldtr.base() : gdtBase) + (selector & 0xfff8);
                writeSystem(addr, 8, desc | (1L << 40));
                s = new Segment(s.selector(), s.base(), s.limit(), s.attributes() | 1);
            }
        }
        switch (seg) {
            case Insn.SEG_ES -> es = s;
            case Insn.SEG_SS -> ss = s;
            case Insn.SEG_DS -> ds = s;
            case Insn.SEG_FS -> {
                fs = s;
                fsBase = s.base();
            }
            case Insn.SEG_GS -> {
                gs = s;
                gsBase = s.base();
            }
            default -> throw CpuFault.ud();
        }
    }

    Segment segment(int seg) {
        return switch (seg) {
            case Insn.SEG_ES -> es;
            case Insn.SEG_CS -> cs;
            case Insn.SEG_SS -> ss;
            case Insn.SEG_DS -> ds;
            case Insn.SEG_FS -> fs;
            case Insn.SEG_GS -> gs;
            default -> throw CpuFault.ud();
        };
    }

    /** Loads CS from a descriptor for a far transfer to privilege {@code newCpl}; only 64-bit code segments. */
    void loadCs(int selector, int newCpl) {
        if ((selector & 0xfffc) == 0) {
            throw CpuFault.gp(0);
        }
        long desc = descriptor(selector);
        Segment s = segmentOf(selector, desc);
        if ((s.attributes() & Segment.S) == 0 || (s.type() & 8) == 0) {
            throw CpuFault.gp(selector & 0xfffc);
        }
        if (!s.present()) {
            throw CpuFault.withCode(CpuFault.NP, selector & 0xfffc);
        }
        if (!s.longMode()) {
            throw new UnsupportedModeException("a far transfer to CS " + Integer.toHexString(selector)
                    + ", which is not a 64-bit code segment (compatibility mode is not implemented)");
        }
        cs = new Segment((selector & ~3) | newCpl, s.base(), s.limit(), s.attributes());
        cpl = newCpl;
    }

    /** The guest left 64-bit mode, which this CPU does not implement. */
    static final class UnsupportedModeException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UnsupportedModeException(String message) {
            super(message);
        }
    }

    // ---- exceptions and interrupts (SDM vol. 3 §6.14) ----

    /**
     * Delivers {@code vector} through the 64-bit IDT: switches to the handler's stack (the
     * TSS's RSPn on a privilege change, or an IST stack), pushes SS, RSP, RFLAGS, CS, RIP and
     * the error code, and jumps to the handler. {@code returnRip} is the RIP pushed: the
     * faulting instruction for faults, the next one for traps and software interrupts.
     *
     * @param software INT n, INT3, INTO: the gate's DPL must allow the current privilege
     */
    void deliver(int vector, int errorCode, long returnRip, boolean software, boolean external) {
        int ext = external ? 1 : 0;
        if (vector * 16 + 15 > idtLimit) {
            throw CpuFault.gp(vector * 8 + 2 + ext);
        }
        long lo = readSystem(idtBase + vector * 16L, 8);
        long hi = readSystem(idtBase + vector * 16L + 8, 8);
        int type = (int) (lo >>> 40) & 0xf;
        int dpl = (int) (lo >>> 45) & 3;
        boolean present = ((lo >>> 47) & 1) != 0;
        if (type != 0xe && type != 0xf) {
            throw CpuFault.gp(vector * 8 + 2 + ext);
        }
        if (software && dpl < cpl) {
            throw CpuFault.gp(vector * 8 + 2);
        }
        if (!present) {
            throw CpuFault.withCode(CpuFault.NP, vector * 8 + 2 + ext);
        }
        int selector = (int) (lo >>> 16) & 0xffff;
        long target = (lo & 0xffff) | ((lo >>> 32) & 0xffff0000L) | (hi << 32);
        int ist = (int) (lo >>> 32) & 7;

        if ((selector & 0xfffc) == 0) {
            throw CpuFault.gp(ext);
        }
        Segment code = segmentOf(selector, descriptor(selector));
        if ((code.type() & 8) == 0 || !code.longMode() || code.dpl() > cpl) {
            throw CpuFault.gp((selector & 0xfffc) + ext);
        }
        if (!code.present()) {
            throw CpuFault.withCode(CpuFault.NP, (selector & 0xfffc) + ext);
        }
        int newCpl = (code.type() & 4) != 0 ? cpl : code.dpl();

        long oldRsp = r[X86CpuState.RSP];
        Segment oldSs = ss;
        long newRsp = oldRsp;
        if (ist != 0) {
            newRsp = tssRead(36 + 8 * (ist - 1));
        } else if (newCpl < cpl) {
            newRsp = tssRead(4 + 8 * newCpl);
        }
        newRsp &= ~0xfL;

        long flagsValue = rflags();
        int oldCpl = cpl;
        // The frame is written at the new privilege (supervisor writes for a CPL 0 handler).
        cpl = newCpl;
        try {
            long sp = newRsp;
            sp -= 8;
            write64(sp, oldSs.selector());
            sp -= 8;
            write64(sp, oldRsp);
            sp -= 8;
            write64(sp, flagsValue);
            sp -= 8;
            write64(sp, cs.selector());
            sp -= 8;
            write64(sp, returnRip);
            if (errorCode >= 0) {
                sp -= 8;
                write64(sp, errorCode & 0xffffffffL);
            }
            newRsp = sp;
        } catch (CpuFault f) {
            cpl = oldCpl;
            throw f;
        }
        if (newCpl != oldCpl) {
            ss = new Segment(newCpl, 0, 0, Segment.UNUSABLE | (newCpl << Segment.DPL_SHIFT));
        }
        cs = new Segment((selector & ~3) | newCpl, code.base(), code.limit(), code.attributes());
        r[X86CpuState.RSP] = newRsp;
        rip = target;
        int clear = Flags.TF | Flags.NT | Flags.RF | Flags.VM | (type == 0xe ? Flags.IF : 0);
        rflags &= ~clear;
    }

    private long tssRead(int offset) {
        if (tr.unusable() || offset + 7 > (tr.limit() & 0xffffffffL)) {
            throw CpuFault.withCode(CpuFault.TS, tr.selector() & 0xfffc);
        }
        return readSystem(tr.base() + offset, 8);
    }

    /** Whether an exception with this vector is a fault whose pushed RIP is the faulting instruction's. */
    static boolean contributory(int vector) {
        return vector == CpuFault.DE || (vector >= CpuFault.TS && vector <= CpuFault.GP);
    }

    // ---- conversions from and to the portable state ----

    void setState(X86CpuState s) {
        System.arraycopy(s.gpr, 0, r, 0, 16);
        rip = s.rip;
        flags.setEager((int) s.rflags & Flags.ARITH);
        rflags = ((int) s.rflags & ~Flags.ARITH) | 2;
        cs = s.cs;
        ds = s.ds;
        es = s.es;
        fs = s.fs;
        gs = s.gs;
        ss = s.ss;
        tr = s.tr;
        ldtr = s.ldtr;
        fsBase = s.fs.base();
        gsBase = s.gs.base();
        cpl = s.cs.dpl();
        gdtBase = s.gdtBase;
        gdtLimit = s.gdtLimit;
        idtBase = s.idtBase;
        idtLimit = s.idtLimit;
        cr0 = s.cr0;
        cr2 = s.cr2;
        cr3 = s.cr3;
        cr4 = s.cr4;
        efer = s.efer;
        xcr0 = s.xcr0;
        System.arraycopy(s.dr, 0, dr, 0, 8);
        msrs.load(s.msrs);
        fpu.load(s.fxsave);
        halted = s.halted;
        interruptShadow = s.interruptShadow;
        if (s.cr8 != 0) {
            platform.setTpr((int) (s.cr8 & 0xf) << 4);
        }
        mmu.flushAll();
    }

    X86CpuState getState() {
        X86CpuState s = new X86CpuState();
        System.arraycopy(r, 0, s.gpr, 0, 16);
        s.rip = rip;
        s.rflags = rflags();
        s.cs = cs;
        s.ds = ds;
        s.es = es;
        s.fs = new Segment(fs.selector(), fsBase, fs.limit(), fs.attributes());
        s.gs = new Segment(gs.selector(), gsBase, gs.limit(), gs.attributes());
        s.ss = ss;
        s.tr = tr;
        s.ldtr = ldtr;
        s.gdtBase = gdtBase;
        s.gdtLimit = gdtLimit;
        s.idtBase = idtBase;
        s.idtLimit = idtLimit;
        s.cr0 = cr0;
        s.cr2 = cr2;
        s.cr3 = cr3;
        s.cr4 = cr4;
        s.cr8 = platform.tpr() >>> 4;
        s.efer = efer;
        s.xcr0 = xcr0;
        System.arraycopy(dr, 0, s.dr, 0, 8);
        msrs.save(s.msrs);
        fpu.save(s.fxsave);
        s.halted = halted;
        s.interruptShadow = interruptShadow;
        return s;
    }
}
