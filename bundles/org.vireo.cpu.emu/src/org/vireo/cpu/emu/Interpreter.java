package org.vireo.cpu.emu;

import org.vireo.api.cpu.Segment;

/**
 * Executes decoded instructions: the general-purpose and system instruction set of 64-bit
 * mode (Intel SDM vol. 2). SSE, MMX and FXSAVE go to {@link Sse}, x87 to {@link X87}.
 *
 * <p>On entry {@code cpu.rip} is the instruction's address; a fault leaves it there (faults
 * restart the instruction) and a completed instruction moves it on.
 */
final class Interpreter {

    private static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    /** Iterations of a REP string instruction per call, so that interrupts are not held off for long. */
    private static final int REP_BATCH = 4096;

    private final Cpu cpu;
    private final Sse sse;
    private final X87 x87;
    final int apicId;
    /** What the CPU does on HLT; the vCPU loop sleeps. */
    boolean hltRequested;

    Interpreter(Cpu cpu, int apicId) {
        this.cpu = cpu;
        this.sse = new Sse(cpu);
        this.x87 = new X87(cpu);
        this.apicId = apicId;
    }

    void execute(Insn i) {
        long next = cpu.rip + i.length;
        int op = i.op;
        if (i.has(Insn.P_LOCK) && !lockable(i)) {
            throw CpuFault.ud();
        }
        if (op < 0x100) {
            executeOneByte(i, op, next);
        } else if (op < 0x200) {
            executeTwoByte(i, op & 0xff, next);
        } else {
            sse.execute(i);
            cpu.rip = next;
        }
    }

    /**
     * Whether LOCK may prefix {@code i}: only the read-modify-write instructions the SDM lists
     * under "LOCK", and only with a memory destination; anything else raises #UD.
     */
    private static boolean lockable(Insn i) {
        if (!i.memory()) {
            return false;
        }
        int op = i.op;
        if (op < 0x40) {
            return (op & 7) <= 1 && (op >>> 3) != 7; // ALU r/m, r except CMP
        }
        return switch (op) {
            case 0x80, 0x81, 0x83 -> i.ext() != 7;
            case 0x86, 0x87 -> true;
            case 0xf6, 0xf7 -> i.ext() == 2 || i.ext() == 3;
            case 0xfe, 0xff -> i.ext() <= 1;
            case Insn.MAP_0F | 0xab, Insn.MAP_0F | 0xb3, Insn.MAP_0F | 0xbb, Insn.MAP_0F | 0xb0, Insn.MAP_0F | 0xb1,
                    Insn.MAP_0F | 0xc0, Insn.MAP_0F | 0xc1 -> true;
            case Insn.MAP_0F | 0xba -> i.ext() >= 5;
            case Insn.MAP_0F | 0xc7 -> i.ext() == 1;
            default -> false;
        };
    }

    private static int size(Insn i, int op) {
        return (op & 1) == 0 ? 1 : i.osize;
    }

    private void executeOneByte(Insn i, int op, long next) {
        if (op < 0x40) {
            if ((op & 7) <= 5) {
                alu(i, op >>> 3, op & 7);
                cpu.rip = next;
                return;
            }
            throw CpuFault.ud();
        }
        switch (op) {
            case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 -> {
                int n = (op & 7) | ((i.rex & 1) << 3);
                if (i.osize == 2) {
                    cpu.push(2, cpu.r[n]);
                } else {
                    cpu.push64(cpu.r[n]);
                }
            }
            case 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f -> {
                int n = (op & 7) | ((i.rex & 1) << 3);
                if (i.osize == 2) {
                    long v = cpu.pop(2);
                    cpu.setReg(n, 2, v);
                } else {
                    long v = cpu.pop64();
                    cpu.r[n] = v;
                }
            }
            case 0x63 -> {
                // MOVSXD r, r/m32.
                long v = (int) cpu.readRm(i, 4);
                cpu.setReg(i.reg, i.osize, v);
            }
            case 0x68, 0x6a -> {
                if (i.osize == 2) {
                    cpu.push(2, i.imm);
                } else {
                    cpu.push64(i.imm);
                }
            }
            case 0x69, 0x6b -> {
                long v = imul(i.osize, cpu.readRm(i, i.osize), i.imm);
                cpu.setReg(i.reg, i.osize, v);
            }
            case 0x6c, 0x6d, 0x6e, 0x6f -> {
                stringIo(i, op, next);
                return;
            }
            case 0x80, 0x81, 0x83 -> {
                int size = op == 0x80 ? 1 : i.osize;
                aluRmImm(i, i.ext(), size, i.imm);
            }
            case 0x84, 0x85 -> {
                int size = size(i, op);
                long r = cpu.readRm(i, size) & cpu.getReg(i, i.reg, size);
                cpu.flags.set(Flags.LOGIC, size, 0, 0, r);
            }
            case 0x86, 0x87 -> {
                // XCHG with memory is always locked; a single thread makes that trivial.
                int size = size(i, op);
                long a = cpu.readRm(i, size);
                long b = cpu.getReg(i, i.reg, size);
                cpu.writeRm(i, size, b);
                cpu.putReg(i, i.reg, size, a);
            }
            case 0x88, 0x89 -> {
                int size = size(i, op);
                cpu.writeRm(i, size, cpu.getReg(i, i.reg, size));
            }
            case 0x8a, 0x8b -> {
                int size = size(i, op);
                cpu.putReg(i, i.reg, size, cpu.readRm(i, size));
            }
            case 0x8c -> {
                // MOV r/m, Sreg: a 16-bit store to memory; zero-extended into a register.
                int seg = i.ext();
                if (seg > 5) {
                    throw CpuFault.ud();
                }
                int sel = cpu.segment(seg).selector();
                if (i.memory()) {
                    cpu.write16(cpu.ea(i), sel);
                } else {
                    cpu.setReg(i.rm, i.osize == 2 ? 2 : 4, sel);
                }
            }
            case 0x8d -> {
                if (!i.memory()) {
                    throw CpuFault.ud();
                }
                long a = cpu.ea(i) - cpu.segBase(i.segment);
                cpu.setReg(i.reg, i.osize, a);
            }
            case 0x8e -> {
                int seg = i.ext();
                if (seg == Insn.SEG_CS || seg > 5) {
                    throw CpuFault.ud();
                }
                int sel = (int) cpu.readRm(i, 2);
                cpu.loadSegment(seg, sel);
                if (seg == Insn.SEG_SS) {
                    cpu.interruptShadow = true;
                }
            }
            case 0x8f -> {
                if (i.ext() != 0) {
                    throw CpuFault.ud();
                }
                // POP r/m: the address is computed after RSP is incremented (SDM "POP").
                int size = i.osize == 2 ? 2 : 8;
                long sp = cpu.r[RSP];
                long v = cpu.read(sp, size);
                cpu.r[RSP] = sp + size;
                try {
                    cpu.writeRm(i, size, v);
                } catch (CpuFault f) {
                    cpu.r[RSP] = sp;
                    throw f;
                }
            }
            case 0x90 -> {
                if ((i.rex & 1) != 0) {
                    xchgAx(i, 8);
                }
                // NOP, or PAUSE with F3: nothing to wait for.
            }
            case 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97 -> xchgAx(i, (op & 7) | ((i.rex & 1) << 3));
            case 0x98 -> {
                switch (i.osize) {
                    case 2 -> cpu.setReg(RAX, 2, (byte) cpu.r[RAX]);
                    case 4 -> cpu.setReg(RAX, 4, (short) cpu.r[RAX]);
                    default -> cpu.r[RAX] = (int) cpu.r[RAX];
                }
            }
            case 0x99 -> {
                switch (i.osize) {
                    case 2 -> cpu.setReg(RDX, 2, ((short) cpu.r[RAX]) >> 15);
                    case 4 -> cpu.setReg(RDX, 4, ((int) cpu.r[RAX]) >> 31);
                    default -> cpu.r[RDX] = cpu.r[RAX] >> 63;
                }
            }
            case 0x9b -> x87.fwait();
            case 0x9c -> {
                // PUSHF: VM and RF read as 0 in the pushed image.
                long f = cpu.rflags() & ~(Flags.VM | Flags.RF);
                if (i.osize == 2) {
                    cpu.push(2, f);
                } else {
                    cpu.push64(f);
                }
            }
            case 0x9d -> {
                long f = i.osize == 2 ? cpu.pop(2) : cpu.pop64();
                popf(f, i.osize == 2);
            }
            case 0x9e -> {
                int ah = (int) (cpu.r[RAX] >>> 8) & 0xff;
                int mask = Flags.SF | Flags.ZF | Flags.AF | Flags.PF | Flags.CF;
                cpu.flags.setEager((cpu.flags.bits() & ~mask) | (ah & mask));
            }
            case 0x9f -> {
                int ah = (cpu.flags.bits() & 0xff) | 2;
                cpu.r[RAX] = (cpu.r[RAX] & ~0xff00L) | ((long) ah << 8);
            }
            case 0xa0, 0xa1 -> {
                int size = size(i, op);
                long a = (i.asize == 4 ? i.disp & 0xffffffffL : i.disp) + cpu.segBase(i.segment);
                cpu.putReg(i, RAX, size, cpu.read(a, size));
            }
            case 0xa2, 0xa3 -> {
                int size = size(i, op);
                long a = (i.asize == 4 ? i.disp & 0xffffffffL : i.disp) + cpu.segBase(i.segment);
                cpu.write(a, size, cpu.getReg(i, RAX, size));
            }
            case 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf -> {
                string(i, op, next);
                return;
            }
            case 0xa8, 0xa9 -> {
                int size = size(i, op);
                long r = cpu.getReg(i, RAX, size) & i.imm;
                cpu.flags.set(Flags.LOGIC, size, 0, 0, r);
            }
            case 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7 ->
                    cpu.setReg8((op & 7) | ((i.rex & 1) << 3), i.rex != 0, i.imm);
            case 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf ->
                    cpu.setReg((op & 7) | ((i.rex & 1) << 3), i.osize, i.imm);
            case 0xc0, 0xc1 -> shift(i, size(i, op), (int) i.imm);
            case 0xd0, 0xd1 -> shift(i, size(i, op), 1);
            case 0xd2, 0xd3 -> shift(i, size(i, op), (int) cpu.r[RCX]);
            case 0xc2, 0xc3 -> {
                long target = i.osize == 2 ? cpu.pop(2) : cpu.pop64();
                if (op == 0xc2) {
                    cpu.r[RSP] += i.imm & 0xffff;
                }
                cpu.rip = target;
                return;
            }
            case 0xc6, 0xc7 -> {
                if (i.ext() != 0) {
                    throw CpuFault.ud();
                }
                cpu.writeRm(i, size(i, op), i.imm);
            }
            case 0xc8 -> enter(i);
            case 0xc9 -> {
                long sp = cpu.r[RBP];
                long v = cpu.read(sp, i.osize == 2 ? 2 : 8);
                cpu.r[RSP] = sp + (i.osize == 2 ? 2 : 8);
                if (i.osize == 2) {
                    cpu.setReg(RBP, 2, v);
                } else {
                    cpu.r[RBP] = v;
                }
            }
            case 0xca, 0xcb -> {
                farReturn(i, op == 0xca ? (int) (i.imm & 0xffff) : 0);
                return;
            }
            case 0xcc -> {
                cpu.rip = next;
                throw new SoftwareInterrupt(CpuFault.BP);
            }
            case 0xcd -> {
                cpu.rip = next;
                throw new SoftwareInterrupt((int) i.imm & 0xff);
            }
            case 0xcf -> {
                iret(i);
                return;
            }
            case 0xd7 -> {
                long a = cpu.r[RBX] + (cpu.r[RAX] & 0xff);
                if (i.asize == 4) {
                    a &= 0xffffffffL;
                }
                cpu.setReg8(RAX, false, cpu.read8(a + cpu.segBase(i.segment)));
            }
            case 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf -> x87.execute(i);
            case 0xe0, 0xe1, 0xe2 -> {
                long c = (cpu.reg(RCX, i.asize) - 1) & Flags.mask(i.asize);
                cpu.setReg(RCX, i.asize, c);
                boolean take = c != 0 && (op == 0xe2 || (op == 0xe1) == cpu.flags.zf());
                if (take) {
                    jump(i, next + i.imm);
                    return;
                }
            }
            case 0xe3 -> {
                if (cpu.reg(RCX, i.asize) == 0) {
                    jump(i, next + i.imm);
                    return;
                }
            }
            case 0xe4, 0xe5 -> in(i, size(i, op) == 1 ? 1 : Math.min(i.osize, 4), (int) i.imm & 0xff);
            case 0xe6, 0xe7 -> out(i, size(i, op) == 1 ? 1 : Math.min(i.osize, 4), (int) i.imm & 0xff);
            case 0xec, 0xed -> in(i, size(i, op) == 1 ? 1 : Math.min(i.osize, 4), (int) cpu.r[RDX] & 0xffff);
            case 0xee, 0xef -> out(i, size(i, op) == 1 ? 1 : Math.min(i.osize, 4), (int) cpu.r[RDX] & 0xffff);
            case 0xe8 -> {
                cpu.push64(next);
                cpu.rip = next + i.imm;
                return;
            }
            case 0xe9, 0xeb -> {
                jump(i, next + i.imm);
                return;
            }
            case 0xf1 -> {
                cpu.rip = next;
                throw new SoftwareInterrupt(CpuFault.DB, false);
            }
            case 0xf4 -> {
                requireCpl0();
                cpu.rip = next;
                cpu.halted = true;
                return;
            }
            case 0xf5 -> cpu.flags.setEager(cpu.flags.bits() ^ Flags.CF);
            case 0xf6, 0xf7 -> group3(i, size(i, op));
            case 0xf8 -> cpu.flags.setEager(cpu.flags.bits() & ~Flags.CF);
            case 0xf9 -> cpu.flags.setEager(cpu.flags.bits() | Flags.CF);
            case 0xfa -> {
                requireIopl();
                cpu.rflags &= ~Flags.IF;
            }
            case 0xfb -> {
                requireIopl();
                if ((cpu.rflags & Flags.IF) == 0) {
                    cpu.rflags |= Flags.IF;
                    cpu.interruptShadow = true;
                    cpu.attention = true;
                }
            }
            case 0xfc -> cpu.rflags &= ~Flags.DF;
            case 0xfd -> cpu.rflags |= Flags.DF;
            case 0xfe -> {
                switch (i.ext()) {
                    case 0 -> incDec(i, 1, true);
                    case 1 -> incDec(i, 1, false);
                    default -> throw CpuFault.ud();
                }
            }
            case 0xff -> {
                if (group5(i, next)) {
                    return;
                }
            }
            default -> {
                if (op >= 0x70 && op <= 0x7f) {
                    if (cpu.flags.condition(op & 0xf)) {
                        jump(i, next + i.imm);
                        return;
                    }
                } else {
                    throw CpuFault.ud();
                }
            }
        }
        cpu.rip = next;
    }

    /** A near jump: RIP is truncated to 16 bits with an operand-size prefix (SDM "JMP"); #GP if not canonical. */
    private void jump(Insn i, long target) {
        if (i.osize == 2 && i.op != 0xe8 && i.op != 0xe9 && (i.op < 0x180 || i.op > 0x18f)) {
            target &= 0xffff;
        }
        if ((target << 16 >> 16) != target) {
            throw CpuFault.gp(0);
        }
        cpu.rip = target;
    }

    private void xchgAx(Insn i, int n) {
        long a = cpu.reg(RAX, i.osize);
        cpu.setReg(RAX, i.osize, cpu.reg(n, i.osize));
        cpu.setReg(n, i.osize, a);
    }

    // ---- ALU ----

    /** The eight ALU operations of opcodes 00-3F and group 1: ADD OR ADC SBB AND SUB XOR CMP. */
    private void alu(Insn i, int kind, int form) {
        int size = (form & 1) == 0 ? 1 : i.osize;
        switch (form) {
            case 0, 1 -> {
                // op r/m, reg
                long b = cpu.getReg(i, i.reg, size);
                if (i.memory()) {
                    long a0 = cpu.ea(i);
                    long a = cpu.read(a0, size);
                    long r = aluOp(kind, size, a, b);
                    if (kind != 7) {
                        cpu.write(a0, size, r);
                    }
                } else {
                    long a = cpu.getReg(i, i.rm, size);
                    long r = aluOp(kind, size, a, b);
                    if (kind != 7) {
                        cpu.putReg(i, i.rm, size, r);
                    }
                }
            }
            case 2, 3 -> {
                long a = cpu.getReg(i, i.reg, size);
                long b = cpu.readRm(i, size);
                long r = aluOp(kind, size, a, b);
                if (kind != 7) {
                    cpu.putReg(i, i.reg, size, r);
                }
            }
            default -> {
                long a = cpu.getReg(i, RAX, size);
                long r = aluOp(kind, size, a, i.imm);
                if (kind != 7) {
                    cpu.putReg(i, RAX, size, r);
                }
            }
        }
    }

    private void aluRmImm(Insn i, int kind, int size, long imm) {
        if (i.memory()) {
            long a0 = cpu.ea(i);
            long a = cpu.read(a0, size);
            long r = aluOp(kind, size, a, imm);
            if (kind != 7) {
                cpu.write(a0, size, r);
            }
        } else {
            long a = cpu.getReg(i, i.rm, size);
            long r = aluOp(kind, size, a, imm);
            if (kind != 7) {
                cpu.putReg(i, i.rm, size, r);
            }
        }
    }

    long aluOp(int kind, int size, long a, long b) {
        long m = Flags.mask(size);
        a &= m;
        b &= m;
        Flags f = cpu.flags;
        switch (kind) {
            case 0 -> {
                long r = (a + b) & m;
                f.set(Flags.ADD, size, a, b, r);
                return r;
            }
            case 1 -> {
                long r = a | b;
                f.set(Flags.LOGIC, size, a, b, r);
                return r;
            }
            case 2 -> {
                long c = f.cf() ? 1 : 0;
                long r = (a + b + c) & m;
                f.set(Flags.ADC, size, a, b, r);
                f.extra = c;
                return r;
            }
            case 3 -> {
                long c = f.cf() ? 1 : 0;
                long r = (a - b - c) & m;
                f.set(Flags.SBB, size, a, b, r);
                f.extra = c;
                return r;
            }
            case 4 -> {
                long r = a & b;
                f.set(Flags.LOGIC, size, a, b, r);
                return r;
            }
            case 5, 7 -> {
                long r = (a - b) & m;
                f.set(Flags.SUB, size, a, b, r);
                return r;
            }
            default -> {
                long r = a ^ b;
                f.set(Flags.LOGIC, size, a, b, r);
                return r;
            }
        }
    }

    private void incDec(Insn i, int size, boolean inc) {
        long m = Flags.mask(size);
        long a = cpu.readRmForUpdate(i, size);
        long r = (inc ? a + 1 : a - 1) & m;
        long oldCf = cpu.flags.cf() ? 1 : 0;
        cpu.flags.set(inc ? Flags.INC : Flags.DEC, size, a & m, 1, r);
        cpu.flags.extra = oldCf;
        cpu.writeRmAfterRead(i, size, r);
    }

    // ---- shifts and rotates (SDM "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR") ----

    private void shift(Insn i, int size, int count) {
        int bits = size * 8;
        count &= size == 8 ? 0x3f : 0x1f;
        long a = cpu.readRmForUpdate(i, size);
        if (count == 0) {
            // Flags stay, but a 32-bit register destination is still written, which clears
            // its upper half (SDM vol. 1 §3.4.1.1; checked on AMD hardware by NativeOracleTest).
            if (size == 4 && !i.memory()) {
                cpu.writeRmAfterRead(i, size, a);
            }
            return;
        }
        long m = Flags.mask(size);
        long sign = Flags.sign(size);
        a &= m;
        int f = cpu.flags.bits();
        long r;
        boolean cf;
        boolean of;
        switch (i.ext()) {
            case 0 -> { // ROL
                int c = count % bits;
                r = c == 0 ? a : ((a << c) | (a >>> (bits - c))) & m;
                cf = (r & 1) != 0;
                of = ((r & sign) != 0) != cf;
                cpu.flags.setEager((f & ~(Flags.CF | Flags.OF)) | (cf ? Flags.CF : 0) | (of ? Flags.OF : 0));
                cpu.writeRmAfterRead(i, size, r);
                return;
            }
            case 1 -> { // ROR
                int c = count % bits;
                r = c == 0 ? a : ((a >>> c) | (a << (bits - c))) & m;
                cf = (r & sign) != 0;
                of = ((r & sign) != 0) != ((r & (sign >>> 1)) != 0);
                cpu.flags.setEager((f & ~(Flags.CF | Flags.OF)) | (cf ? Flags.CF : 0) | (of ? Flags.OF : 0));
                cpu.writeRmAfterRead(i, size, r);
                return;
            }
            case 2 -> { // RCL: a (bits + 1)-bit rotate through CF
                int c = size <= 2 ? count % (bits + 1) : count;
                boolean carry = (f & Flags.CF) != 0;
                r = a;
                for (int k = 0; k < c; k++) {
                    boolean out = (r & sign) != 0;
                    r = ((r << 1) | (carry ? 1 : 0)) & m;
                    carry = out;
                }
                cf = carry;
                of = ((r & sign) != 0) != cf;
                cpu.flags.setEager((f & ~(Flags.CF | Flags.OF)) | (cf ? Flags.CF : 0) | (of ? Flags.OF : 0));
                cpu.writeRmAfterRead(i, size, r);
                return;
            }
            case 3 -> { // RCR
                int c = size <= 2 ? count % (bits + 1) : count;
                boolean carry = (f & Flags.CF) != 0;
                r = a;
                // OF is the XOR of the two top bits after the rotate; for a count of 1 that is
                // the original top bit against the carry in.
                for (int k = 0; k < c; k++) {
                    boolean out = (r & 1) != 0;
                    r = (r >>> 1) | (carry ? sign : 0);
                    carry = out;
                }
                cf = carry;
                of = ((r & sign) != 0) != ((r & (sign >>> 1)) != 0);
                cpu.flags.setEager((f & ~(Flags.CF | Flags.OF)) | (cf ? Flags.CF : 0) | (of ? Flags.OF : 0));
                cpu.writeRmAfterRead(i, size, r);
                return;
            }
            case 4, 6 -> { // SHL/SAL
                r = count >= 64 ? 0 : (a << count) & m;
                cf = count <= bits && ((a >>> (bits - count)) & 1) != 0;
                of = ((r & sign) != 0) != cf;
            }
            case 5 -> { // SHR
                r = count >= 64 ? 0 : a >>> count;
                cf = count <= bits && ((a >>> (count - 1)) & 1) != 0;
                of = (a & sign) != 0;
            }
            default -> { // SAR
                long s = (a << (64 - bits)) >> (64 - bits);
                r = (s >> Math.min(count, 63)) & m;
                cf = ((s >> Math.min(count - 1, 63)) & 1) != 0;
                of = false;
            }
        }
        cpu.flags.setEager(Flags.szp(r, size) | (cf ? Flags.CF : 0) | (of ? Flags.OF : 0));
        cpu.writeRmAfterRead(i, size, r);
    }

    /** SHLD/SHRD r/m, r, count (0F A4/A5/AC/AD). */
    private void doubleShift(Insn i, boolean left, int count) {
        int size = i.osize;
        int bits = size * 8;
        count &= size == 8 ? 0x3f : 0x1f;
        long a = cpu.readRmForUpdate(i, size);
        if (count == 0) {
            // Flags stay, but a 32-bit register destination is still written, which clears
            // its upper half (SDM vol. 1 §3.4.1.1; checked on AMD hardware by NativeOracleTest).
            if (size == 4 && !i.memory()) {
                cpu.writeRmAfterRead(i, size, a);
            }
            return;
        }
        long m = Flags.mask(size);
        long sign = Flags.sign(size);
        a &= m;
        long b = cpu.reg(i.reg, size);
        long r;
        boolean cf;
        if (count > bits) {
            // Undefined result for 16-bit operands with counts over 16: treat as a 32-bit
            // shift of b:a, as Intel processors do, keeping the low 16 bits.
            count = count % bits == 0 ? bits : count % bits;
        }
        if (left) {
            r = count == bits ? b : ((a << count) | (b >>> (bits - count))) & m;
            cf = ((a >>> (bits - count)) & 1) != 0;
        } else {
            r = count == bits ? b : ((a >>> count) | (b << (bits - count))) & m;
            cf = ((a >>> (count - 1)) & 1) != 0;
        }
        boolean of = ((r ^ a) & sign) != 0;
        cpu.flags.setEager(Flags.szp(r, size) | (cf ? Flags.CF : 0) | (of ? Flags.OF : 0));
        cpu.writeRmAfterRead(i, size, r);
    }

    // ---- multiply and divide ----

    private long imul(int size, long a, long b) {
        long r;
        boolean overflow;
        switch (size) {
            case 2 -> {
                long p = (long) (short) a * (short) b;
                r = p & 0xffff;
                overflow = p != (short) p;
            }
            case 4 -> {
                long p = (long) (int) a * (int) b;
                r = p & 0xffffffffL;
                overflow = p != (int) p;
            }
            default -> {
                r = a * b;
                long hi = Math.multiplyHigh(a, b);
                overflow = hi != (r >> 63);
            }
        }
        int f = Flags.szp(r, size) & ~Flags.ZF | (overflow ? Flags.CF | Flags.OF : 0);
        // ZF is undefined after IMUL; hardware of this family clears it. SF follows the result.
        cpu.flags.setEager(f);
        return r;
    }

    static long unsignedMultiplyHigh(long a, long b) {
        return Math.multiplyHigh(a, b) + ((a >> 63) & b) + ((b >> 63) & a);
    }

    private void group3(Insn i, int size) {
        long m = Flags.mask(size);
        switch (i.ext()) {
            case 0, 1 -> {
                long r = cpu.readRm(i, size) & i.imm & m;
                cpu.flags.set(Flags.LOGIC, size, 0, 0, r);
            }
            case 2 -> {
                long a = cpu.readRmForUpdate(i, size);
                cpu.writeRmAfterRead(i, size, ~a & m);
            }
            case 3 -> {
                long a = cpu.readRmForUpdate(i, size) & m;
                long r = (-a) & m;
                cpu.flags.set(Flags.SUB, size, 0, a, r);
                cpu.writeRmAfterRead(i, size, r);
            }
            case 4 -> mul(i, size);
            case 5 -> imulAx(i, size);
            case 6 -> div(i, size);
            default -> idiv(i, size);
        }
    }

    private void mul(Insn i, int size) {
        long b = cpu.readRm(i, size);
        long lo;
        long hi;
        switch (size) {
            case 1 -> {
                long p = (cpu.r[RAX] & 0xff) * b;
                cpu.setReg(RAX, 2, p);
                lo = p & 0xff;
                hi = p >>> 8;
            }
            case 2 -> {
                long p = (cpu.r[RAX] & 0xffff) * b;
                lo = p & 0xffff;
                hi = p >>> 16;
                cpu.setReg(RAX, 2, lo);
                cpu.setReg(RDX, 2, hi);
            }
            case 4 -> {
                long p = (cpu.r[RAX] & 0xffffffffL) * b;
                lo = p & 0xffffffffL;
                hi = p >>> 32;
                cpu.setReg(RAX, 4, lo);
                cpu.setReg(RDX, 4, hi);
            }
            default -> {
                long a = cpu.r[RAX];
                lo = a * b;
                hi = unsignedMultiplyHigh(a, b);
                cpu.r[RAX] = lo;
                cpu.r[RDX] = hi;
            }
        }
        boolean high = hi != 0;
        cpu.flags.setEager((Flags.szp(lo, size) & ~Flags.ZF) | (high ? Flags.CF | Flags.OF : 0));
    }

    private void imulAx(Insn i, int size) {
        long b = cpu.readRm(i, size);
        long lo;
        boolean overflow;
        switch (size) {
            case 1 -> {
                long p = (long) (byte) cpu.r[RAX] * (byte) b;
                cpu.setReg(RAX, 2, p);
                lo = p & 0xff;
                overflow = p != (byte) p;
            }
            case 2 -> {
                long p = (long) (short) cpu.r[RAX] * (short) b;
                cpu.setReg(RAX, 2, p);
                cpu.setReg(RDX, 2, p >> 16);
                lo = p & 0xffff;
                overflow = p != (short) p;
            }
            case 4 -> {
                long p = (long) (int) cpu.r[RAX] * (int) b;
                cpu.setReg(RAX, 4, p);
                cpu.setReg(RDX, 4, p >> 32);
                lo = p & 0xffffffffL;
                overflow = p != (int) p;
            }
            default -> {
                long a = cpu.r[RAX];
                lo = a * b;
                long hi = Math.multiplyHigh(a, b);
                cpu.r[RAX] = lo;
                cpu.r[RDX] = hi;
                overflow = hi != (lo >> 63);
            }
        }
        cpu.flags.setEager((Flags.szp(lo, size) & ~Flags.ZF) | (overflow ? Flags.CF | Flags.OF : 0));
    }

    private void div(Insn i, int size) {
        long d = cpu.readRm(i, size);
        if (d == 0) {
            throw CpuFault.of(CpuFault.DE);
        }
        switch (size) {
            case 1 -> {
                long n = cpu.r[RAX] & 0xffff;
                long q = n / d;
                if (q > 0xff) {
                    throw CpuFault.of(CpuFault.DE);
                }
                cpu.setReg(RAX, 2, ((n % d) << 8) | q);
            }
            case 2 -> {
                long n = ((cpu.r[RDX] & 0xffff) << 16) | (cpu.r[RAX] & 0xffff);
                long q = n / d;
                if (q > 0xffff) {
                    throw CpuFault.of(CpuFault.DE);
                }
                cpu.setReg(RAX, 2, q);
                cpu.setReg(RDX, 2, n % d);
            }
            case 4 -> {
                long n = ((cpu.r[RDX] & 0xffffffffL) << 32) | (cpu.r[RAX] & 0xffffffffL);
                long q = Long.divideUnsigned(n, d);
                if (q > 0xffffffffL || q < 0) {
                    throw CpuFault.of(CpuFault.DE);
                }
                cpu.setReg(RAX, 4, q);
                cpu.setReg(RDX, 4, Long.remainderUnsigned(n, d));
            }
            default -> {
                long hi = cpu.r[RDX];
                long lo = cpu.r[RAX];
                if (hi == 0) {
                    cpu.r[RAX] = Long.divideUnsigned(lo, d);
                    cpu.r[RDX] = Long.remainderUnsigned(lo, d);
                    return;
                }
                if (Long.compareUnsigned(hi, d) >= 0) {
                    throw CpuFault.of(CpuFault.DE);
                }
                cpu.r[RAX] = Div128.divideUnsigned(hi, lo, d, remainder);
                cpu.r[RDX] = remainder[0];
            }
        }
    }

    private void idiv(Insn i, int size) {
        long d = cpu.readRm(i, size);
        switch (size) {
            case 1 -> {
                long dv = (byte) d;
                if (dv == 0) {
                    throw CpuFault.of(CpuFault.DE);
                }
                long n = (short) cpu.r[RAX];
                long q = n / dv;
                if (q != (byte) q) {
                    throw CpuFault.of(CpuFault.DE);
                }
                cpu.setReg(RAX, 2, (((n % dv) & 0xff) << 8) | (q & 0xff));
            }
            case 2 -> {
                long dv = (short) d;
                if (dv == 0) {
                    throw CpuFault.of(CpuFault.DE);
                }
                long n = (long) (int) (((cpu.r[RDX] & 0xffff) << 16) | (cpu.r[RAX] & 0xffff));
                long q = n / dv;
                if (q != (short) q) {
                    throw CpuFault.of(CpuFault.DE);
                }
                cpu.setReg(RAX, 2, q);
                cpu.setReg(RDX, 2, n % dv);
            }
            case 4 -> {
                long dv = (int) d;
                if (dv == 0) {
                    throw CpuFault.of(CpuFault.DE);
                }
                long n = ((cpu.r[RDX] & 0xffffffffL) << 32) | (cpu.r[RAX] & 0xffffffffL);
                if (n == Long.MIN_VALUE && dv == -1) {
                    throw CpuFault.of(CpuFault.DE);
                }
                long q = n / dv;
                if (q != (int) q) {
                    throw CpuFault.of(CpuFault.DE);
                }
                cpu.setReg(RAX, 4, q);
                cpu.setReg(RDX, 4, n % dv);
            }
            default -> {
                if (d == 0) {
                    throw CpuFault.of(CpuFault.DE);
                }
                long hi = cpu.r[RDX];
                long lo = cpu.r[RAX];
                if (hi == (lo >> 63)) {
                    if (lo == Long.MIN_VALUE && d == -1) {
                        throw CpuFault.of(CpuFault.DE);
                    }
                    cpu.r[RAX] = lo / d;
                    cpu.r[RDX] = lo % d;
                    return;
                }
                long q;
                try {
                    q = Div128.divideSigned(hi, lo, d, remainder);
                } catch (ArithmeticException e) {
                    throw CpuFault.of(CpuFault.DE);
                }
                cpu.r[RAX] = q;
                cpu.r[RDX] = remainder[0];
            }
        }
    }

    /** Scratch for the remainder of 128-bit divisions. */
    private final long[] remainder = new long[1];

    // ---- group 5: INC, DEC, CALL, JMP, PUSH ----

    /** Returns true if it set RIP itself. */
    private boolean group5(Insn i, long next) {
        switch (i.ext()) {
            case 0 -> incDec(i, i.osize, true);
            case 1 -> incDec(i, i.osize, false);
            case 2 -> {
                long target = i.osize == 2 ? cpu.readRm(i, 2) : cpu.readRm(i, 8);
                if ((target << 16 >> 16) != target) {
                    throw CpuFault.gp(0);
                }
                if (i.osize == 2) {
                    cpu.push(2, next);
                } else {
                    cpu.push64(next);
                }
                cpu.rip = target;
                return true;
            }
            case 4 -> {
                long target = i.osize == 2 ? cpu.readRm(i, 2) : cpu.readRm(i, 8);
                if ((target << 16 >> 16) != target) {
                    throw CpuFault.gp(0);
                }
                cpu.rip = target;
                return true;
            }
            case 3, 5 -> {
                // CALL/JMP far through a memory operand: m16:64 with REX.W, m16:32 otherwise.
                if (!i.memory()) {
                    throw CpuFault.ud();
                }
                long a = cpu.ea(i);
                int osize = i.osize == 2 ? 2 : i.osize;
                long offset = cpu.read(a, osize);
                int selector = (int) cpu.read16(a + osize);
                if (i.ext() == 3) {
                    long oldCs = cpu.cs.selector();
                    cpu.loadCs(selector, cpu.cpl);
                    cpu.push64(oldCs);
                    cpu.push64(next);
                } else {
                    cpu.loadCs(selector, cpu.cpl);
                }
                cpu.rip = offset;
                return true;
            }
            case 6 -> {
                long v = cpu.readRm(i, i.osize == 2 ? 2 : 8);
                if (i.osize == 2) {
                    cpu.push(2, v);
                } else {
                    cpu.push64(v);
                }
            }
            default -> throw CpuFault.ud();
        }
        return false;
    }

    // ---- stack frames and far transfers ----

    private void enter(Insn i) {
        int frameSize = (int) (i.imm & 0xffff);
        int level = i.imm2 & 31;
        int size = i.osize == 2 ? 2 : 8;
        long rbp = cpu.r[RBP];
        long sp = cpu.r[RSP];
        // Check the whole frame is writable before anything changes.
        long frameTop = sp - size;
        sp = frameTop;
        cpu.write(sp, size, rbp);
        for (int k = 1; k < level; k++) {
            rbp -= size;
            sp -= size;
            cpu.write(sp, size, cpu.read(rbp, size));
        }
        if (level > 0) {
            sp -= size;
            cpu.write(sp, size, frameTop);
        }
        sp -= frameSize;
        cpu.mmu.probeWrite(sp, 1);
        if (size == 2) {
            cpu.setReg(RBP, 2, frameTop);
        } else {
            cpu.r[RBP] = frameTop;
        }
        cpu.r[RSP] = sp;
    }

    /** RETF (SDM "RET"): to the same privilege, or to an outer one popping RSP and SS too. */
    private void farReturn(Insn i, int release) {
        int size = i.rexW() ? 8 : i.osize == 2 ? 2 : 4;
        long sp = cpu.r[RSP];
        long target = cpu.read(sp, size);
        int selector = (int) cpu.read(sp + size, size) & 0xffff;
        int rpl = selector & 3;
        if (rpl < cpu.cpl) {
            throw CpuFault.gp(selector & 0xfffc);
        }
        if (rpl == cpu.cpl) {
            cpu.loadCs(selector, rpl);
            cpu.r[RSP] = sp + 2L * size + release;
        } else {
            long newSp = cpu.read(sp + 2L * size + release, size);
            int newSs = (int) cpu.read(sp + 3L * size + release, size) & 0xffff;
            cpu.loadCs(selector, rpl);
            cpu.loadSegment(Insn.SEG_SS, newSs);
            cpu.r[RSP] = newSp + release;
            nullDataSegmentsAbovePrivilege();
        }
        cpu.rip = target;
    }

    /** IRET (SDM "IRET"): in 64-bit mode it always pops RIP, CS, RFLAGS, RSP and SS. */
    private void iret(Insn i) {
        int size = i.rexW() ? 8 : i.osize == 2 ? 2 : 4;
        long sp = cpu.r[RSP];
        long target = cpu.read(sp, size);
        int selector = (int) cpu.read(sp + size, size) & 0xffff;
        long newFlags = cpu.read(sp + 2L * size, size);
        long newSp = cpu.read(sp + 3L * size, size);
        int newSs = (int) cpu.read(sp + 4L * size, size) & 0xffff;
        if ((newFlags & Flags.NT) != 0) {
            throw CpuFault.gp(0); // no task switches in long mode
        }
        int rpl = selector & 3;
        if (rpl < cpu.cpl) {
            throw CpuFault.gp(selector & 0xfffc);
        }
        int oldCpl = cpu.cpl;
        cpu.loadCs(selector, rpl);
        if ((newSs & 0xfffc) == 0 && rpl < 3) {
            cpu.ss = new Segment(newSs, 0, 0, Segment.UNUSABLE | (rpl << Segment.DPL_SHIFT));
        } else {
            try {
                cpu.loadSegment(Insn.SEG_SS, newSs);
            } catch (CpuFault f) {
                cpu.cpl = oldCpl;
                throw f;
            }
        }
        // RFLAGS: IOPL only changes at CPL 0, IF only when CPL <= IOPL (SDM "IRET" operation).
        int writable = Flags.ARITH | Flags.TF | Flags.DF | Flags.NT | Flags.RF | Flags.AC | Flags.ID;
        if (oldCpl == 0) {
            writable |= Flags.IOPL | Flags.IF;
        } else if (oldCpl <= ((cpu.rflags >>> 12) & 3)) {
            writable |= Flags.IF;
        }
        cpu.setRflags(newFlags, writable);
        cpu.r[RSP] = newSp;
        if (rpl > oldCpl) {
            nullDataSegmentsAbovePrivilege();
        }
        cpu.rip = target;
    }

    /** On a return to an outer privilege, data segment registers it may not use become null. */
    private void nullDataSegmentsAbovePrivilege() {
        cpu.ds = nullIfPrivileged(cpu.ds);
        cpu.es = nullIfPrivileged(cpu.es);
        Segment f = nullIfPrivileged(cpu.fs);
        if (f != cpu.fs) {
            cpu.fs = new Segment(0, cpu.fsBase, 0, Segment.UNUSABLE);
        }
        Segment g = nullIfPrivileged(cpu.gs);
        if (g != cpu.gs) {
            cpu.gs = new Segment(0, cpu.gsBase, 0, Segment.UNUSABLE);
        }
    }

    private Segment nullIfPrivileged(Segment s) {
        boolean conformingCode = (s.type() & 0xc) == 0xc;
        if (!s.unusable() && !conformingCode && s.dpl() < cpu.cpl) {
            return Segment.NULL;
        }
        return s;
    }

    private void popf(long value, boolean word) {
        int writable = Flags.ARITH | Flags.TF | Flags.DF | Flags.NT;
        if (!word) {
            writable |= Flags.AC | Flags.ID;
        }
        int iopl = (cpu.rflags >>> 12) & 3;
        if (cpu.cpl == 0) {
            writable |= Flags.IOPL | Flags.IF;
        } else if (cpu.cpl <= iopl) {
            writable |= Flags.IF;
        }
        if (word) {
            value = (cpu.rflags() & ~0xffffL) | (value & 0xffff);
        }
        cpu.setRflags(value, writable);
    }

    // ---- string instructions (SDM vol. 1 §7.3.9) ----

    private void string(Insn i, int op, long next) {
        int size = (op & 1) == 0 ? 1 : i.osize;
        boolean rep = i.has(Insn.P_REP) || i.has(Insn.P_REPNE);
        boolean compares = op == 0xa6 || op == 0xa7 || op == 0xae || op == 0xaf;
        long amask = i.asize == 4 ? 0xffffffffL : -1L;
        long step = (cpu.rflags & Flags.DF) != 0 ? -size : size;
        long srcBase = cpu.segBase(i.segment);
        int iterations = 0;
        while (true) {
            if (rep) {
                if ((cpu.r[RCX] & amask) == 0) {
                    break;
                }
                if (iterations++ == REP_BATCH) {
                    // Come back to this instruction so pending interrupts can be taken in between.
                    return;
                }
            }
            long si = cpu.r[RSI] & amask;
            long di = cpu.r[RDI] & amask;
            switch (op) {
                case 0xa4, 0xa5 -> {
                    long v = cpu.read(srcBase + si, size);
                    cpu.write(di, size, v);
                    advance(RSI, step, amask);
                    advance(RDI, step, amask);
                }
                case 0xa6, 0xa7 -> {
                    long a = cpu.read(srcBase + si, size);
                    long b = cpu.read(di, size);
                    aluOp(7, size, a, b);
                    advance(RSI, step, amask);
                    advance(RDI, step, amask);
                }
                case 0xaa, 0xab -> {
                    cpu.write(di, size, cpu.getReg(i, RAX, size));
                    advance(RDI, step, amask);
                }
                case 0xac, 0xad -> {
                    cpu.putReg(i, RAX, size, cpu.read(srcBase + si, size));
                    advance(RSI, step, amask);
                }
                default -> {
                    long b = cpu.read(di, size);
                    aluOp(7, size, cpu.getReg(i, RAX, size), b);
                    advance(RDI, step, amask);
                }
            }
            if (!rep) {
                break;
            }
            cpu.r[RCX] = (cpu.r[RCX] - 1) & amask;
            if (compares) {
                boolean zf = cpu.flags.zf();
                if (i.lastRep == 0xf3 ? !zf : zf) {
                    break;
                }
            }
        }
        cpu.rip = next;
    }

    /**
     * Steps RSI or RDI. With a 32-bit address size the instruction writes ESI/EDI (and ECX),
     * which clears their upper halves like any 32-bit register write (SDM vol. 1 §3.4.1.1;
     * checked against AMD hardware by NativeOracleTest).
     */
    private void advance(int reg, long step, long amask) {
        cpu.r[reg] = (cpu.r[reg] + step) & amask;
    }

    private void stringIo(Insn i, int op, long next) {
        int size = (op & 1) == 0 ? 1 : Math.min(i.osize, 4);
        int port = (int) cpu.r[RDX] & 0xffff;
        checkIo(port, size);
        boolean rep = i.has(Insn.P_REP) || i.has(Insn.P_REPNE);
        long amask = i.asize == 4 ? 0xffffffffL : -1L;
        long step = (cpu.rflags & Flags.DF) != 0 ? -size : size;
        int iterations = 0;
        while (!rep || (cpu.r[RCX] & amask) != 0) {
            if (rep && iterations++ == REP_BATCH) {
                return;
            }
            if (op <= 0x6d) {
                long di = cpu.r[RDI] & amask;
                cpu.mmu.probeWrite(di, size);
                long v = cpu.pio.read(port, size);
                cpu.write(di, size, v);
                advance(RDI, step, amask);
            } else {
                long si = cpu.r[RSI] & amask;
                long v = cpu.read(cpu.segBase(i.segment) + si, size);
                cpu.pio.write(port, size, v);
                advance(RSI, step, amask);
            }
            if (!rep) {
                break;
            }
            cpu.r[RCX] = (cpu.r[RCX] - 1) & amask;
        }
        cpu.rip = next;
    }

    // ---- port I/O ----

    private void checkIo(int port, int size) {
        // The I/O permission bitmap is not consulted: with CPL > IOPL every port is denied.
        if (cpu.cpl > ((cpu.rflags >>> 12) & 3)) {
            throw CpuFault.gp(0);
        }
    }

    private void in(Insn i, int size, int port) {
        checkIo(port, size);
        long v = cpu.pio.read(port, size);
        if (size == 1) {
            cpu.setReg8(RAX, false, v);
        } else {
            cpu.setReg(RAX, size, v);
        }
    }

    private void out(Insn i, int size, int port) {
        checkIo(port, size);
        long v = size == 1 ? cpu.r[RAX] & 0xff : cpu.reg(RAX, size);
        cpu.pio.write(port, size, v);
    }

    private void requireCpl0() {
        if (cpu.cpl != 0) {
            throw CpuFault.gp(0);
        }
    }

    private void requireIopl() {
        if (cpu.cpl > ((cpu.rflags >>> 12) & 3)) {
            throw CpuFault.gp(0);
        }
    }

    // ---- the 0F map ----

    private void executeTwoByte(Insn i, int op, long next) {
        switch (op) {
            case 0x00 -> group6(i);
            case 0x01 -> {
                if (group7(i, next)) {
                    return;
                }
            }
            case 0x02, 0x03 -> larLsl(i, op == 0x02);
            case 0x05 -> {
                syscall(next);
                return;
            }
            case 0x06 -> {
                requireCpl0();
                cpu.cr0 &= ~Cpu.CR0_TS;
            }
            case 0x07 -> {
                sysret(i);
                return;
            }
            case 0x08, 0x09 -> requireCpl0(); // INVD, WBINVD: no caches to write back
            case 0x0b -> throw CpuFault.ud();
            case 0x0d, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f -> {
                // Prefetch hints and the long NOP (0F 1F /0): nothing to do, but the operand must decode.
            }
            case 0x20 -> {
                requireCpl0();
                cpu.r[i.rm] = readCr(i.reg);
            }
            case 0x22 -> {
                requireCpl0();
                writeCr(i.reg, cpu.r[i.rm]);
            }
            case 0x21 -> {
                requireCpl0();
                cpu.r[i.rm] = readDr(i.reg);
            }
            case 0x23 -> {
                requireCpl0();
                writeDr(i.reg, cpu.r[i.rm]);
            }
            case 0x30 -> {
                requireCpl0();
                cpu.msrs.write((int) cpu.r[RCX], (cpu.r[RDX] << 32) | (cpu.r[RAX] & 0xffffffffL));
            }
            case 0x31 -> {
                if ((cpu.cr4 & Cpu.CR4_TSD) != 0 && cpu.cpl != 0) {
                    throw CpuFault.gp(0);
                }
                long t = cpu.tsc();
                cpu.r[RAX] = t & 0xffffffffL;
                cpu.r[RDX] = t >>> 32;
            }
            case 0x32 -> {
                requireCpl0();
                long v = cpu.msrs.read((int) cpu.r[RCX]);
                cpu.r[RAX] = v & 0xffffffffL;
                cpu.r[RDX] = v >>> 32;
            }
            case 0xa2 -> Cpuid.execute(cpu, apicId);
            case 0xa0, 0xa8 -> {
                int sel = (op == 0xa0 ? cpu.fs : cpu.gs).selector();
                if (i.osize == 2) {
                    cpu.push(2, sel);
                } else {
                    cpu.push64(sel);
                }
            }
            case 0xa1, 0xa9 -> {
                int size = i.osize == 2 ? 2 : 8;
                long sp = cpu.r[RSP];
                int sel = (int) cpu.read(sp, size) & 0xffff;
                cpu.loadSegment(op == 0xa1 ? Insn.SEG_FS : Insn.SEG_GS, sel);
                cpu.r[RSP] = sp + size;
            }
            case 0xa3, 0xab, 0xb3, 0xbb -> bitTest(i, (op >>> 3) & 3, cpu.reg(i.reg, i.osize), true);
            case 0xba -> {
                if (i.ext() < 4) {
                    throw CpuFault.ud();
                }
                bitTest(i, i.ext() & 3, i.imm & 0xff, false);
            }
            case 0xa4 -> doubleShift(i, true, (int) i.imm);
            case 0xa5 -> doubleShift(i, true, (int) cpu.r[RCX]);
            case 0xac -> doubleShift(i, false, (int) i.imm);
            case 0xad -> doubleShift(i, false, (int) cpu.r[RCX]);
            case 0xae -> group15(i);
            case 0xaf -> cpu.setReg(i.reg, i.osize, imul(i.osize, cpu.reg(i.reg, i.osize), cpu.readRm(i, i.osize)));
            case 0xb0, 0xb1 -> cmpxchg(i, op == 0xb0 ? 1 : i.osize);
            case 0xb2, 0xb4, 0xb5 -> {
                // LSS/LFS/LGS r, m16:xx.
                if (!i.memory()) {
                    throw CpuFault.ud();
                }
                long a = cpu.ea(i);
                long offset = cpu.read(a, i.osize);
                int sel = (int) cpu.read16(a + i.osize);
                cpu.loadSegment(op == 0xb2 ? Insn.SEG_SS : op == 0xb4 ? Insn.SEG_FS : Insn.SEG_GS, sel);
                cpu.setReg(i.reg, i.osize, offset);
            }
            case 0xb6 -> cpu.setReg(i.reg, i.osize, cpu.readRm(i, 1));
            case 0xb7 -> cpu.setReg(i.reg, i.osize, cpu.readRm(i, 2));
            case 0xbe -> cpu.setReg(i.reg, i.osize, (byte) cpu.readRm(i, 1));
            case 0xbf -> cpu.setReg(i.reg, i.osize, (short) cpu.readRm(i, 2));
            case 0xb8 -> {
                if (i.lastRep != 0xf3) {
                    throw CpuFault.ud();
                }
                long v = cpu.readRm(i, i.osize);
                long r = Long.bitCount(v);
                cpu.setReg(i.reg, i.osize, r);
                cpu.flags.setEager(v == 0 ? Flags.ZF : 0);
            }
            case 0xbc, 0xbd -> bitScan(i, op == 0xbc);
            case 0xc0, 0xc1 -> {
                int size = op == 0xc0 ? 1 : i.osize;
                long a = cpu.readRmForUpdate(i, size);
                long b = cpu.getReg(i, i.reg, size);
                long r = aluOp(0, size, a, b);
                // SRC <- DEST, then DEST <- sum (SDM "XADD"): with one register for both, the sum
                // wins. Memory is written first so that a faulting write leaves the register as it was.
                if (i.memory()) {
                    cpu.writeRmAfterRead(i, size, r);
                    cpu.putReg(i, i.reg, size, a);
                } else {
                    cpu.putReg(i, i.reg, size, a);
                    cpu.writeRmAfterRead(i, size, r);
                }
            }
            case 0xc7 -> group9(i);
            case 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf -> {
                int n = (op & 7) | ((i.rex & 1) << 3);
                if (i.osize == 8) {
                    cpu.r[n] = Long.reverseBytes(cpu.r[n]);
                } else if (i.osize == 4) {
                    cpu.setReg(n, 4, Integer.reverseBytes((int) cpu.r[n]));
                } else {
                    cpu.setReg(n, 2, 0); // BSWAP of a 16-bit register: undefined; zero as Intel parts do.
                }
            }
            default -> {
                if (op >= 0x40 && op <= 0x4f) {
                    // CMOVcc: the source is read either way; a 32-bit destination is zero-extended even when not moved.
                    long v = cpu.readRm(i, i.osize);
                    if (cpu.flags.condition(op & 0xf)) {
                        cpu.setReg(i.reg, i.osize, v);
                    } else if (i.osize == 4) {
                        cpu.setReg(i.reg, 4, cpu.r[i.reg]);
                    }
                } else if (op >= 0x80 && op <= 0x8f) {
                    if (cpu.flags.condition(op & 0xf)) {
                        jump(i, next + i.imm);
                        return;
                    }
                } else if (op >= 0x90 && op <= 0x9f) {
                    cpu.writeRm(i, 1, cpu.flags.condition(op & 0xf) ? 1 : 0);
                } else if (Sse.handles(op)) {
                    sse.execute(i);
                } else {
                    throw CpuFault.ud();
                }
            }
        }
        cpu.rip = next;
    }

    private void bitTest(Insn i, int kind, long offset, boolean registerOffset) {
        int size = i.osize;
        int bits = size * 8;
        long bit;
        long addr = 0;
        long v;
        if (i.memory()) {
            long a = cpu.ea(i);
            if (registerOffset) {
                // A register bit offset addresses memory beyond the operand (SDM "BT"): signed.
                long signed = (offset << (64 - bits)) >> (64 - bits);
                a += (signed >> 3) & ~(size - 1L);
                bit = signed & (bits - 1);
            } else {
                bit = offset & (bits - 1);
            }
            addr = a;
            v = cpu.read(a, size);
        } else {
            bit = offset & (bits - 1);
            v = cpu.reg(i.rm, size);
        }
        boolean cf = ((v >>> bit) & 1) != 0;
        long r = switch (kind) {
            case 1 -> v | (1L << bit);
            case 2 -> v & ~(1L << bit);
            case 3 -> v ^ (1L << bit);
            default -> v;
        };
        if (kind != 0) {
            if (i.memory()) {
                cpu.write(addr, size, r);
            } else {
                cpu.setReg(i.rm, size, r);
            }
        }
        cpu.flags.setEager((cpu.flags.bits() & ~Flags.CF) | (cf ? Flags.CF : 0));
    }

    private void bitScan(Insn i, boolean forward) {
        long v = cpu.readRm(i, i.osize) & Flags.mask(i.osize);
        if (v == 0) {
            // The destination keeps its value (documented by AMD, done by Intel): ZF set.
            cpu.flags.setEager(Flags.ZF);
            return;
        }
        int r = forward ? Long.numberOfTrailingZeros(v) : 63 - Long.numberOfLeadingZeros(v);
        cpu.setReg(i.reg, i.osize, r);
        cpu.flags.setEager(0);
    }

    private void cmpxchg(Insn i, int size) {
        long m = Flags.mask(size);
        long dst;
        long addr = 0;
        if (i.memory()) {
            addr = cpu.ea(i);
            dst = cpu.read(addr, size);
        } else {
            dst = cpu.getReg(i, i.rm, size);
        }
        long acc = cpu.getReg(i, RAX, size);
        aluOp(7, size, acc, dst);
        if ((acc & m) == (dst & m)) {
            long src = cpu.getReg(i, i.reg, size);
            if (i.memory()) {
                cpu.write(addr, size, src);
            } else {
                cpu.putReg(i, i.rm, size, src);
            }
        } else {
            // The destination is written back unchanged on a memory operand (the locked cycle).
            if (i.memory()) {
                cpu.write(addr, size, dst);
            }
            cpu.putReg(i, RAX, size, dst);
        }
    }

    private void group9(Insn i) {
        if (i.ext() != 1 || !i.memory()) {
            throw CpuFault.ud();
        }
        long a = cpu.ea(i);
        if (i.rexW()) {
            // CMPXCHG16B m128: the operand must be 16-byte aligned.
            if ((a & 15) != 0) {
                throw CpuFault.gp(0);
            }
            cpu.mmu.probeWrite(a, 16);
            long lo = cpu.read64(a);
            long hi = cpu.read64(a + 8);
            boolean equal = lo == cpu.r[RAX] && hi == cpu.r[RDX];
            if (equal) {
                cpu.write64(a, cpu.r[RBX]);
                cpu.write64(a + 8, cpu.r[RCX]);
            } else {
                cpu.write64(a, lo);
                cpu.write64(a + 8, hi);
                cpu.r[RAX] = lo;
                cpu.r[RDX] = hi;
            }
            cpu.flags.setEager((cpu.flags.bits() & ~Flags.ZF) | (equal ? Flags.ZF : 0));
        } else {
            long v = cpu.read64(a);
            long expected = (cpu.r[RDX] << 32) | (cpu.r[RAX] & 0xffffffffL);
            boolean equal = v == expected;
            if (equal) {
                cpu.write64(a, (cpu.r[RCX] << 32) | (cpu.r[RBX] & 0xffffffffL));
            } else {
                cpu.write64(a, v);
                cpu.r[RAX] = v & 0xffffffffL;
                cpu.r[RDX] = v >>> 32;
            }
            cpu.flags.setEager((cpu.flags.bits() & ~Flags.ZF) | (equal ? Flags.ZF : 0));
        }
    }

    private void group15(Insn i) {
        if (!i.memory()) {
            switch (i.ext()) {
                case 5, 6, 7 -> {
                    // LFENCE, MFENCE, SFENCE: one CPU in order, nothing to order.
                    return;
                }
                default -> throw CpuFault.ud();
            }
        }
        switch (i.ext()) {
            case 7 -> {
                // CLFLUSH: the line must be readable; no cache to flush.
                cpu.read8(cpu.ea(i));
            }
            default -> sse.group15(i);
        }
    }

    // ---- system instructions ----

    private void group6(Insn i) {
        switch (i.ext()) {
            case 0 -> storeSelector(i, cpu.ldtr.selector());
            case 1 -> storeSelector(i, cpu.tr.selector());
            case 2 -> {
                requireCpl0();
                int sel = (int) cpu.readRm(i, 2);
                if ((sel & 0xfffc) == 0) {
                    cpu.ldtr = Segment.NULL;
                } else {
                    if ((sel & 4) != 0) {
                        throw CpuFault.gp(sel & 0xfffc);
                    }
                    Segment s = systemSegment(sel, 2);
                    cpu.ldtr = s;
                }
            }
            case 3 -> {
                requireCpl0();
                int sel = (int) cpu.readRm(i, 2);
                if ((sel & 0xfffc) == 0 || (sel & 4) != 0) {
                    throw CpuFault.gp(sel & 0xfffc);
                }
                Segment s = systemSegment(sel, 9);
                // Mark the TSS busy in the GDT.
                long addr = cpu.gdtBase + (sel & 0xfff8);
                long desc = cpu.readSystem(addr, 8);
                cpu.writeSystem(addr, 8, desc | (2L << 40));
                cpu.tr = new Segment(sel, s.base(), s.limit(), s.attributes() | 2);
            }
            case 4, 5 -> {
                // VERR/VERW: report whether the segment is readable/writable at CPL.
                int sel = (int) cpu.readRm(i, 2);
                boolean ok = false;
                if ((sel & 0xfffc) != 0) {
                    try {
                        Segment s = Cpu.segmentOf(sel, cpu.descriptor(sel));
                        boolean code = (s.type() & 8) != 0;
                        boolean conforming = code && (s.type() & 4) != 0;
                        boolean privOk = conforming || Math.max(cpu.cpl, sel & 3) <= s.dpl();
                        boolean access = i.ext() == 4 ? (!code || (s.type() & 2) != 0) : (!code && (s.type() & 2) != 0);
                        ok = (s.attributes() & Segment.S) != 0 && privOk && access;
                    } catch (CpuFault f) {
                        if (f.vector != CpuFault.GP) {
                            throw f;
                        }
                    }
                }
                cpu.flags.setEager((cpu.flags.bits() & ~Flags.ZF) | (ok ? Flags.ZF : 0));
            }
            default -> throw CpuFault.ud();
        }
    }

    /**
     * LAR/LSL (SDM "LAR", "LSL"): the access rights or the limit of the descriptor a selector
     * names, with ZF=1, if the descriptor is visible at CPL and RPL; otherwise ZF=0 and the
     * destination is unchanged. Linux's vDSO reads the CPU number with LSL.
     */
    private void larLsl(Insn i, boolean lar) {
        int sel = (int) cpu.readRm(i, 2);
        boolean ok = false;
        long value = 0;
        if ((sel & 0xfffc) != 0) {
            try {
                long desc = cpu.descriptor(sel);
                Segment s = Cpu.segmentOf(sel, desc);
                boolean system = (s.attributes() & Segment.S) == 0;
                int type = s.type();
                boolean typeOk = !system || (lar ? (type == 2 || type == 9 || type == 0xb || type == 0xc)
                        : (type == 2 || type == 9 || type == 0xb));
                boolean conforming = !system && (type & 0xc) == 0xc;
                boolean privOk = conforming || Math.max(cpu.cpl, sel & 3) <= s.dpl();
                if (typeOk && privOk) {
                    ok = true;
                    value = lar ? desc >>> 32 & 0x00f0ff00L : s.limit() & 0xffffffffL;
                }
            } catch (CpuFault f) {
                if (f.vector != CpuFault.GP) {
                    throw f;
                }
            }
        }
        if (ok) {
            cpu.setReg(i.reg, i.osize == 2 ? 2 : i.osize, value);
        }
        cpu.flags.setEager((cpu.flags.bits() & ~Flags.ZF) | (ok ? Flags.ZF : 0));
    }

    private void storeSelector(Insn i, int selector) {
        if (i.memory()) {
            cpu.write16(cpu.ea(i), selector);
        } else {
            cpu.setReg(i.rm, i.osize, selector);
        }
    }

    /** Reads a 16-byte system descriptor (LDT type 2, available TSS type 9) from the GDT. */
    private Segment systemSegment(int sel, int type) {
        long lo = cpu.descriptor(sel);
        Segment s = Cpu.segmentOf(sel, lo);
        if ((s.attributes() & Segment.S) != 0 || s.type() != type) {
            throw CpuFault.gp(sel & 0xfffc);
        }
        if (!s.present()) {
            throw CpuFault.withCode(CpuFault.NP, sel & 0xfffc);
        }
        long hi = cpu.readSystem(cpu.gdtBase + (sel & 0xfff8) + 8, 8);
        long base = s.base() | ((hi & 0xffffffffL) << 32);
        return new Segment(sel, base, s.limit(), s.attributes());
    }

    /** Group 7 (0F 01). Returns true if it set RIP itself. */
    private boolean group7(Insn i, long next) {
        if (!i.memory()) {
            int modrm = 0xc0 | (i.ext() << 3) | (i.rm & 7);
            switch (modrm) {
                case 0xd0 -> { // XGETBV
                    if ((int) cpu.r[RCX] != 0) {
                        throw CpuFault.gp(0);
                    }
                    throw CpuFault.ud(); // OSXSAVE is not offered
                }
                case 0xf8 -> { // SWAPGS
                    requireCpl0();
                    long t = cpu.gsBase;
                    cpu.gsBase = cpu.msrs.kernelGsBase;
                    cpu.msrs.kernelGsBase = t;
                }
                case 0xf9 -> { // RDTSCP
                    if ((cpu.cr4 & Cpu.CR4_TSD) != 0 && cpu.cpl != 0) {
                        throw CpuFault.gp(0);
                    }
                    long t = cpu.tsc();
                    cpu.r[RAX] = t & 0xffffffffL;
                    cpu.r[RDX] = t >>> 32;
                    cpu.r[RCX] = cpu.msrs.tscAux;
                }
                default -> throw CpuFault.ud();
            }
            return false;
        }
        long a = cpu.ea(i);
        switch (i.ext()) {
            case 0, 1 -> {
                // SGDT/SIDT: limit then a 64-bit base.
                cpu.write16(a, i.ext() == 0 ? cpu.gdtLimit : cpu.idtLimit);
                cpu.write64(a + 2, i.ext() == 0 ? cpu.gdtBase : cpu.idtBase);
            }
            case 2, 3 -> {
                requireCpl0();
                int limit = (int) cpu.read16(a);
                long base = cpu.read64(a + 2);
                if ((base << 16 >> 16) != base) {
                    throw CpuFault.gp(0);
                }
                if (i.ext() == 2) {
                    cpu.gdtBase = base;
                    cpu.gdtLimit = limit;
                } else {
                    cpu.idtBase = base;
                    cpu.idtLimit = limit;
                }
            }
            case 4 -> cpu.write16(a, cpu.cr0 & 0xffff);
            case 6 -> {
                requireCpl0();
                // LMSW changes PE, MP, EM, TS only, and cannot clear PE.
                long v = cpu.read16(a) & 0xf;
                writeCr(0, (cpu.cr0 & ~0xeL) | v | (cpu.cr0 & 1));
            }
            case 7 -> {
                requireCpl0();
                cpu.mmu.flushPage(a);
            }
            default -> throw CpuFault.ud();
        }
        return false;
    }

    long readCr(int n) {
        return switch (n) {
            case 0 -> cpu.cr0;
            case 2 -> cpu.cr2;
            case 3 -> cpu.cr3;
            case 4 -> cpu.cr4;
            case 8 -> cpu.platform.tpr() >>> 4;
            default -> throw CpuFault.ud();
        };
    }

    void writeCr(int n, long v) {
        switch (n) {
            case 0 -> {
                if ((v >>> 32) != 0 || ((v & Cpu.CR0_PG) != 0 && (v & Cpu.CR0_PE) == 0)
                        || ((v & Cpu.CR0_NW) != 0 && (v & Cpu.CR0_CD) == 0)) {
                    throw CpuFault.gp(0);
                }
                if ((v & Cpu.CR0_PG) == 0 && (cpu.efer & Cpu.EFER_LMA) != 0) {
                    throw new Cpu.UnsupportedModeException("the guest turned paging off, leaving long mode"
                            + " (only 64-bit mode is implemented)");
                }
                long changed = v ^ cpu.cr0;
                cpu.cr0 = v | Cpu.CR0_ET;
                if ((changed & (Cpu.CR0_PG | Cpu.CR0_WP)) != 0) {
                    cpu.mmu.flushAll();
                }
            }
            case 2 -> cpu.cr2 = v;
            case 3 -> {
                if ((v & ~((1L << Mmu.PHYS_ADDR_BITS) - 1)) != 0) {
                    throw CpuFault.gp(0);
                }
                cpu.cr3 = v;
                cpu.mmu.flushNonGlobal();
            }
            case 4 -> {
                if ((v & ~Cpu.CR4_SUPPORTED) != 0 || ((v & Cpu.CR4_PAE) == 0 && (cpu.efer & Cpu.EFER_LMA) != 0)) {
                    throw CpuFault.gp(0);
                }
                long changed = v ^ cpu.cr4;
                cpu.cr4 = v;
                if ((changed & (Cpu.CR4_PGE | Cpu.CR4_PAE | Cpu.CR4_PSE)) != 0) {
                    cpu.mmu.flushAll();
                }
            }
            case 8 -> {
                if ((v & ~0xfL) != 0) {
                    throw CpuFault.gp(0);
                }
                cpu.platform.setTpr((int) v << 4);
                cpu.attention = true;
            }
            default -> throw CpuFault.ud();
        }
    }

    private long readDr(int n) {
        return switch (n) {
            case 0, 1, 2, 3 -> cpu.dr[n];
            case 4, 6 -> cpu.dr[6];
            case 5, 7 -> cpu.dr[7];
            default -> throw CpuFault.ud();
        };
    }

    /** Debug registers hold their values; breakpoints are not implemented (no #DB from them). */
    private void writeDr(int n, long v) {
        switch (n) {
            case 0, 1, 2, 3 -> cpu.dr[n] = v;
            case 4, 6 -> {
                if ((v >>> 32) != 0) {
                    throw CpuFault.gp(0);
                }
                cpu.dr[6] = (v & 0xe00f) | 0xffff0ff0L;
            }
            case 5, 7 -> {
                if ((v >>> 32) != 0) {
                    throw CpuFault.gp(0);
                }
                cpu.dr[7] = (v & ~0xd800L) | 0x400;
            }
            default -> throw CpuFault.ud();
        }
    }

    /** SYSCALL (SDM "SYSCALL"): RCX = next RIP, R11 = RFLAGS, CS/SS from STAR, RIP = LSTAR, RFLAGS &= ~SFMASK. */
    private void syscall(long next) {
        if ((cpu.efer & Cpu.EFER_SCE) == 0) {
            throw CpuFault.ud();
        }
        cpu.r[RCX] = next;
        cpu.r[11] = cpu.rflags() & ~Flags.RF;
        int sel = (int) (cpu.msrs.star >>> 32) & 0xfffc;
        // Flat 64-bit code and data segments are loaded without reading the GDT.
        cpu.cs = new Segment(sel, 0, 0xffffffff, 0xb | Segment.S | Segment.PRESENT | Segment.LONG | Segment.GRANULARITY);
        cpu.ss = new Segment(sel + 8, 0, 0xffffffff, 0x3 | Segment.S | Segment.PRESENT | Segment.DB | Segment.GRANULARITY);
        cpu.cpl = 0;
        cpu.setRflags(cpu.rflags() & ~cpu.msrs.sfmask & ~Flags.RF, -1);
        cpu.rip = cpu.msrs.lstar;
    }

    /** SYSRET (SDM "SYSRET"): to 64-bit user code with REX.W; the 32-bit form needs compatibility mode. */
    private void sysret(Insn i) {
        if ((cpu.efer & Cpu.EFER_SCE) == 0) {
            throw CpuFault.ud();
        }
        requireCpl0();
        if (!i.rexW()) {
            throw new Cpu.UnsupportedModeException("SYSRET to 32-bit code (compatibility mode is not implemented)");
        }
        long target = cpu.r[RCX];
        if ((target << 16 >> 16) != target) {
            throw CpuFault.gp(0);
        }
        int base = (int) (cpu.msrs.star >>> 48) & 0xffff;
        cpu.cs = new Segment((base + 16) | 3, 0, 0xffffffff,
                0xb | Segment.S | Segment.PRESENT | (3 << Segment.DPL_SHIFT) | Segment.LONG | Segment.GRANULARITY);
        cpu.ss = new Segment((base + 8) | 3, 0, 0xffffffff,
                0x3 | Segment.S | Segment.PRESENT | (3 << Segment.DPL_SHIFT) | Segment.DB | Segment.GRANULARITY);
        cpu.cpl = 3;
        cpu.setRflags((cpu.r[11] & 0x3c7fd7L) | 2, -1);
        cpu.rip = target;
    }

    /** INT n, INT3, INT1: delivered by the execution loop after RIP has moved past the instruction. */
    static final class SoftwareInterrupt extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int vector;
        /** Whether the gate's DPL is checked against CPL (INT n, INT3: yes; INT1: no). */
        final boolean checkDpl;

        SoftwareInterrupt(int vector) {
            this(vector, true);
        }

        SoftwareInterrupt(int vector, boolean checkDpl) {
            super(null, null, false, false);
            this.vector = vector;
            this.checkDpl = checkDpl;
        }
    }
}
