package org.vireo.cpu.emu;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Generates deterministic pseudo-random {@link OracleCase}s, one group of instructions at a
 * time. Operand values lean towards the edges where flags and carries change (0, 1, -1, the
 * sign bit and its neighbours); every register and buffer byte not chosen is random.
 *
 * <p>Safety rules the oracle relies on: no case names RSP; a memory operand's base and index
 * registers point into the data buffer (base) or hold a small number (index) and no explicit
 * operand of the case names them, so the case cannot move them; and the implicit operands of
 * an instruction (RAX, RCX, RDX, and RBX for CMPXCHG8B) are never base or index.
 */
final class OracleCaseGenerator {

    private static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
    private static final int ALL = OracleCase.ALL, CF = OracleCase.CF, PF = OracleCase.PF, AF = OracleCase.AF,
            ZF = OracleCase.ZF, SF = OracleCase.SF, OF = OracleCase.OF, DF = OracleCase.DF;

    /** The groups {@link #generate} knows, in the order the test runs them. */
    static final List<String> GROUPS = List.of("alu", "inc-dec-neg-not", "test", "mov", "shift-rotate",
            "shld-shrd", "mul-imul", "div-idiv", "bit-test", "bsf-bsr", "bswap", "movzx-movsx",
            "cbw-cwd", "xchg", "xadd", "cmpxchg", "cmpxchg8b-16b", "cmovcc", "setcc", "lea", "popcnt",
            "flag-ops", "string", "lock-prefix", "jcc-loop", "push-pop");

    private final Random rnd;
    private final String group;

    // The case being built.
    private OracleCase c;
    private OracleEncoder enc;
    /** Registers no explicit operand may name: RSP, and the memory operand's base and index. */
    private boolean[] reserved;
    /** No REX prefix in this case: byte registers 4-7 are AH-BH and only registers 0-7 exist. */
    private boolean legacy;
    /** Offset of the last memory operand chosen by {@link #rmOperand}, or -1 for a register. */
    private int lastMemoryOffset = -1;

    private OracleCaseGenerator(String group, long seed) {
        this.group = group;
        this.rnd = new Random(seed);
    }

    static List<OracleCase> generate(String group, int count) {
        OracleCaseGenerator g = new OracleCaseGenerator(group, 0x5eed_0000L + group.hashCode());
        Supplier<OracleCase> one = switch (group) {
            case "alu" -> g::alu;
            case "inc-dec-neg-not" -> g::incDecNegNot;
            case "test" -> g::test;
            case "mov" -> g::mov;
            case "shift-rotate" -> g::shift;
            case "shld-shrd" -> g::doubleShift;
            case "mul-imul" -> g::multiply;
            case "div-idiv" -> g::divide;
            case "bit-test" -> g::bitTest;
            case "bsf-bsr" -> g::bitScan;
            case "bswap" -> g::bswap;
            case "movzx-movsx" -> g::moveExtend;
            case "cbw-cwd" -> g::convert;
            case "xchg" -> g::xchg;
            case "xadd" -> g::xadd;
            case "cmpxchg" -> g::cmpxchg;
            case "cmpxchg8b-16b" -> g::cmpxchgWide;
            case "cmovcc" -> g::cmov;
            case "setcc" -> g::setcc;
            case "lea" -> g::lea;
            case "popcnt" -> g::popcnt;
            case "flag-ops" -> g::flagOps;
            case "string" -> g::string;
            case "lock-prefix" -> g::lockPrefix;
            case "jcc-loop" -> g::jump;
            case "push-pop" -> g::pushPop;
            default -> throw new IllegalArgumentException("no generator for group " + group);
        };
        List<OracleCase> cases = new ArrayList<>(count);
        for (int k = 0; k < count; k++) {
            cases.add(one.get());
        }
        return cases;
    }

    // ---- case scaffolding ----

    private void begin(int definedFlags) {
        c = new OracleCase(group);
        for (int k = 0; k < 16; k++) {
            c.regs[k] = k == RSP ? 0 : rnd.nextLong();
        }
        rnd.nextBytes(c.data);
        c.flags = rnd.nextInt() & ALL;
        c.definedFlags = definedFlags;
        enc = new OracleEncoder();
        reserved = new boolean[16];
        reserved[RSP] = true;
        legacy = false;
        lastMemoryOffset = -1;
    }

    private OracleCase finish() {
        c.code = enc.bytes();
        return c;
    }

    private int pick(int... choices) {
        return choices[rnd.nextInt(choices.length)];
    }

    private int anySize() {
        return pick(1, 2, 4, 8);
    }

    private int wideSize() {
        return pick(2, 4, 8);
    }

    /** A value at the edges of {@code size}-byte arithmetic more often than chance would give. */
    private long value(int size) {
        long sign = size == 8 ? Long.MIN_VALUE : 1L << (8 * size - 1);
        return switch (rnd.nextInt(10)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> -1;
            case 3 -> sign;
            case 4 -> sign - 1;
            case 5 -> sign + rnd.nextInt(3) - 1;
            case 6 -> rnd.nextInt(256);
            case 7 -> 1L << rnd.nextInt(8 * size);
            case 8 -> -rnd.nextInt(256);
            default -> rnd.nextLong();
        };
    }

    private static long mask(int size) {
        return size == 8 ? -1L : (1L << (8 * size)) - 1;
    }

    /** Gives register {@code n} (as a {@code size}-byte operand) the value {@code v}, other bits random. */
    private void setOperand(int n, int size, long v) {
        if (size == 1 && legacy && n >= 4 && n < 8) {
            c.regs[n - 4] = (c.regs[n - 4] & ~0xff00L) | ((v & 0xff) << 8);
        } else {
            c.regs[n] = (c.regs[n] & ~mask(size)) | (v & mask(size));
        }
    }

    private void putData(int offset, int size, long v) {
        for (int k = 0; k < size; k++) {
            c.data[offset + k] = (byte) (v >>> (8 * k));
        }
    }

    /** A register an explicit operand may name. */
    private int register(int size) {
        while (true) {
            int n = rnd.nextInt(legacy ? 8 : 16);
            if (size == 1 && legacy && n >= 4) {
                if (!reserved[n - 4]) {
                    return n; // AH, CH, DH, BH
                }
            } else if (!reserved[n]) {
                return n;
            }
        }
    }

    /** Chooses a register for ModRM.reg, gives it an edge value and encodes it. */
    private int regOperand(int size) {
        int n = register(size);
        setOperand(n, size, value(size));
        enc.reg(n);
        return n;
    }

    /**
     * Chooses the r/m operand (a register, or memory when {@code memory}), gives it an edge
     * value and encodes it; returns the register or the data offset of the memory operand.
     */
    private int rmOperand(int size, boolean memory) {
        if (memory) {
            int offset = memoryOperand(size, 0);
            putData(offset, size, value(size));
            lastMemoryOffset = offset;
            return offset;
        }
        lastMemoryOffset = -1;
        int n = register(size);
        setOperand(n, size, value(size));
        enc.rmRegister(n);
        return n;
    }

    /**
     * Encodes a memory operand that addresses {@code size} bytes of the data buffer (at an
     * offset {@code alignment}-aligned when it is not 0) and returns that offset. The base is
     * never RAX, RCX or RDX, which many instructions use implicitly.
     */
    private int memoryOperand(int size, int alignment) {
        int[] bases = legacy ? new int[] {RBX, RBP, RSI, RDI} : new int[] {RBX, RBP, RSI, RDI, 8, 9, 10, 11, 12, 13, 14, 15};
        return memoryOperand(size, alignment, bases);
    }

    private int memoryOperand(int size, int alignment, int[] bases) {
        int base = pick(bases);
        reserved[base] = true;
        c.pointers |= 1 << base;
        c.regs[base] = 64 + rnd.nextInt(96);
        int index = -1;
        int scale = 0;
        long indexValue = 0;
        if (rnd.nextInt(3) == 0) {
            do {
                index = pick(bases);
            } while (index == base);
            reserved[index] = true;
            scale = rnd.nextInt(4);
            indexValue = rnd.nextInt(8);
            c.regs[index] = indexValue;
        }
        int offset = 16 + rnd.nextInt(OracleCase.DATA_SIZE - 32 - size);
        if (alignment > 0) {
            offset &= -alignment;
        }
        long disp = offset - c.regs[base] - (indexValue << scale);
        int dispSize = disp == 0 && rnd.nextBoolean() ? 0 : disp == (byte) disp && rnd.nextInt(4) != 0 ? 1 : 4;
        if (rnd.nextInt(8) == 0) {
            // 32-bit address size: junk in the upper halves of base and index must not count.
            enc.prefix(0x67);
            c.regs[base] |= (long) rnd.nextInt() << 32;
            if (index >= 0) {
                c.regs[index] |= (long) rnd.nextInt() << 32;
            }
        }
        enc.rmMemory(new OracleEncoder.Memory(base, index, scale, disp, dispSize));
        return offset;
    }

    /** Byte operations choose up front between the legacy AH-BH registers and the REX ones. */
    private void chooseByteRegisters(int size) {
        if (size == 1 && rnd.nextBoolean()) {
            legacy = true;
        } else if (size == 1 || rnd.nextInt(8) == 0) {
            enc.forceRex();
        }
    }

    private long immediate(int size, boolean byteForm) {
        return byteForm ? (byte) value(1) : size == 2 ? (short) value(2) : (int) value(4);
    }

    private static int immSize(int size, boolean byteForm) {
        return byteForm || size == 1 ? 1 : size == 2 ? 2 : 4;
    }

    // ---- groups ----

    /** ADD OR ADC SBB AND SUB XOR CMP in all their encodings. */
    private OracleCase alu() {
        int kind = rnd.nextInt(8);
        boolean logic = kind == 1 || kind == 4 || kind == 6;
        begin(logic ? ALL & ~AF : ALL);
        int form = rnd.nextInt(5); // 0 r/m,r  1 r,r/m  2 AL/eAX,imm  3 80/81 imm  4 83 imm8
        int size = form == 4 ? wideSize() : anySize();
        chooseByteRegisters(size);
        enc.size(size);
        boolean memory = rnd.nextInt(3) == 0;
        int w = size == 1 ? 0 : 1;
        switch (form) {
            case 0, 1 -> {
                enc.opcode(kind << 3 | form << 1 | w);
                rmOperand(size, memory);
                regOperand(size);
            }
            case 2 -> {
                enc.opcode(kind << 3 | 4 | w);
                setOperand(RAX, size, value(size));
                enc.imm(immediate(size, false), immSize(size, false));
            }
            case 3 -> {
                enc.opcode(size == 1 ? 0x80 : 0x81).reg(kind);
                rmOperand(size, memory);
                enc.imm(immediate(size, false), immSize(size, false));
            }
            default -> {
                enc.opcode(0x83).reg(kind);
                rmOperand(size, memory);
                enc.imm(immediate(size, true), 1);
            }
        }
        return finish();
    }

    private OracleCase incDecNegNot() {
        begin(ALL);
        int size = anySize();
        chooseByteRegisters(size);
        enc.size(size);
        int w = size == 1 ? 0 : 1;
        if (rnd.nextBoolean()) {
            enc.opcode(0xfe | w).reg(rnd.nextInt(2)); // INC, DEC
        } else {
            enc.opcode(0xf6 | w).reg(2 + rnd.nextInt(2)); // NOT, NEG
        }
        rmOperand(size, rnd.nextInt(3) == 0);
        return finish();
    }

    private OracleCase test() {
        begin(ALL & ~AF);
        int size = anySize();
        chooseByteRegisters(size);
        enc.size(size);
        int w = size == 1 ? 0 : 1;
        switch (rnd.nextInt(3)) {
            case 0 -> {
                enc.opcode(0x84 | w);
                rmOperand(size, rnd.nextInt(3) == 0);
                regOperand(size);
            }
            case 1 -> {
                enc.opcode(0xa8 | w);
                setOperand(RAX, size, value(size));
                enc.imm(immediate(size, false), immSize(size, false));
            }
            default -> {
                enc.opcode(0xf6 | w).reg(0);
                rmOperand(size, rnd.nextInt(3) == 0);
                enc.imm(immediate(size, false), immSize(size, false));
            }
        }
        return finish();
    }

    private OracleCase mov() {
        begin(ALL);
        int size = anySize();
        chooseByteRegisters(size);
        enc.size(size);
        int w = size == 1 ? 0 : 1;
        switch (rnd.nextInt(4)) {
            case 0 -> {
                enc.opcode(0x88 | w);
                rmOperand(size, rnd.nextBoolean());
                regOperand(size);
            }
            case 1 -> {
                enc.opcode(0x8a | w);
                rmOperand(size, rnd.nextBoolean());
                regOperand(size);
            }
            case 2 -> {
                enc.opcode(0xc6 | w).reg(0);
                rmOperand(size, rnd.nextBoolean());
                enc.imm(immediate(size, false), immSize(size, false));
            }
            default -> {
                // B0+r imm8, B8+r imm16/32/64.
                int n = register(size);
                enc.opcode((size == 1 ? 0xb0 : 0xb8) + (n & 7)).opcodeRegister(n);
                enc.imm(rnd.nextLong(), size);
            }
        }
        return finish();
    }

    /** ROL ROR RCL RCR SHL SHR SAL SAR by 1, CL and imm8, with counts around 0, 1 and the width. */
    private OracleCase shift() {
        int size = anySize();
        int bits = 8 * size;
        int ext = rnd.nextInt(8);
        int count = pick(0, 1, 2, bits - 1, bits, bits + 1, 9, 17, 31, 32, 33, 63, 64, 65, rnd.nextInt(256));
        int form = rnd.nextInt(3); // 0 by 1, 1 by CL, 2 by imm8
        if (form == 0) {
            count = 1;
        }
        int masked = count & (size == 8 ? 63 : 31);
        int defined;
        if (masked == 0) {
            defined = ALL; // nothing changes
        } else if (ext < 4) {
            // Rotates change CF and OF only; OF is defined for a count of 1 (SDM "RCL/RCR/ROL/ROR").
            defined = masked == 1 ? ALL : ALL & ~OF;
        } else {
            // Shifts: AF undefined, OF only for a count of 1, and CF for SHL/SHR only while the
            // count is below the width (SDM "SAL/SAR/SHL/SHR" flags affected).
            defined = CF | SF | ZF | PF | OF;
            if (masked != 1) {
                defined &= ~OF;
            }
            if (ext != 7 && masked >= bits) {
                defined &= ~CF;
            }
        }
        begin(defined);
        chooseByteRegisters(size);
        enc.size(size);
        int w = size == 1 ? 0 : 1;
        switch (form) {
            case 0 -> enc.opcode(0xd0 | w);
            case 1 -> enc.opcode(0xd2 | w);
            default -> enc.opcode(0xc0 | w).imm(count, 1);
        }
        enc.reg(ext);
        rmOperand(size, rnd.nextInt(3) == 0);
        if (form == 1) {
            // CL is set last, so that when the operand is CL or RCX itself the count is still as planned.
            c.regs[RCX] = (c.regs[RCX] & ~0xffL) | count;
        }
        return finish();
    }

    /** SHLD and SHRD by imm8 and CL; 16-bit counts above 16 leave the result undefined and are not generated. */
    private OracleCase doubleShift() {
        int size = wideSize();
        int bits = 8 * size;
        int count;
        do {
            count = pick(0, 1, 2, bits - 1, bits, 15, 16, 31, 32, 33, 63, 64, rnd.nextInt(256));
        } while (size == 2 && (count & 31) > 16);
        int masked = count & (size == 8 ? 63 : 31);
        int defined = masked == 0 ? ALL : masked == 1 ? CF | SF | ZF | PF | OF : CF | SF | ZF | PF;
        begin(defined);
        if (rnd.nextInt(8) == 0) {
            enc.forceRex();
        }
        enc.size(size);
        boolean byCl = rnd.nextBoolean();
        boolean left = rnd.nextBoolean();
        enc.opcode(0x0f, (left ? 0xa4 : 0xac) | (byCl ? 1 : 0));
        if (!byCl) {
            enc.imm(count, 1);
        }
        rmOperand(size, rnd.nextInt(3) == 0);
        regOperand(size);
        if (byCl) {
            // Set last: the count stays as planned even when an operand is RCX.
            c.regs[RCX] = (c.regs[RCX] & ~0xffL) | count;
        }
        return finish();
    }

    /** MUL and IMUL in their one-, two- and three-operand forms; only CF and OF are defined. */
    private OracleCase multiply() {
        begin(CF | OF);
        int form = rnd.nextInt(4); // 0 F6/F7 /4 /5, 1 0F AF, 2 69, 3 6B
        int size = form == 0 ? anySize() : wideSize();
        chooseByteRegisters(size);
        enc.size(size);
        switch (form) {
            case 0 -> {
                enc.opcode(size == 1 ? 0xf6 : 0xf7).reg(4 + rnd.nextInt(2));
                setOperand(RAX, size, value(size));
                rmOperand(size, rnd.nextInt(3) == 0);
            }
            case 1 -> {
                enc.opcode(0x0f, 0xaf);
                rmOperand(size, rnd.nextInt(3) == 0);
                regOperand(size);
            }
            case 2 -> {
                enc.opcode(0x69);
                rmOperand(size, rnd.nextInt(3) == 0);
                regOperand(size);
                enc.imm(immediate(size, false), immSize(size, false));
            }
            default -> {
                enc.opcode(0x6b);
                rmOperand(size, rnd.nextInt(3) == 0);
                regOperand(size);
                enc.imm(immediate(size, true), 1);
            }
        }
        return finish();
    }

    /** DIV and IDIV: in-range quotients, quotient overflow and division by zero (#DE). */
    private OracleCase divide() {
        begin(0); // all six flags are undefined
        int size = anySize();
        chooseByteRegisters(size);
        enc.size(size);
        boolean signed = rnd.nextBoolean();
        enc.opcode(size == 1 ? 0xf6 : 0xf7).reg(signed ? 7 : 6);
        int target = rmOperand(size, rnd.nextInt(3) == 0);
        long divisor = switch (rnd.nextInt(6)) {
            case 0 -> 0;
            case 1 -> -1;
            default -> value(size);
        };
        // The dividend: usually its high half is the sign (IDIV) or zero-ish (DIV) so the quotient fits.
        long low = value(size);
        long high = switch (rnd.nextInt(4)) {
            case 0 -> value(size);
            case 1 -> signed ? (low << (64 - 8 * size) >> 63) : 0;
            case 2 -> signed ? (low << (64 - 8 * size) >> 63) : rnd.nextLong() & 0xf;
            default -> signed ? -1 : 1;
        };
        if (size == 1) {
            setOperand(RAX, 2, (low & 0xff) | (high & 0xff) << 8);
        } else {
            setOperand(RAX, size, low);
            setOperand(RDX, size, high);
        }
        // The divisor goes in last, as the r/m operand may itself be AL/AH/RAX/RDX.
        if (lastMemoryOffset >= 0) {
            putData(lastMemoryOffset, size, divisor);
        } else if (rnd.nextInt(4) != 0) {
            setOperand(target, size, divisor);
        }
        return finish();
    }

    /** BT BTS BTR BTC with register and immediate offsets, on registers and memory (offsets beyond the operand). */
    private OracleCase bitTest() {
        begin(CF | ZF); // OF SF AF PF undefined, ZF unaffected (SDM "BT")
        int size = wideSize();
        if (rnd.nextInt(8) == 0) {
            enc.forceRex();
        }
        enc.size(size);
        int kind = rnd.nextInt(4);
        boolean memory = rnd.nextBoolean();
        if (rnd.nextBoolean()) {
            enc.opcode(0x0f, 0xa3 | kind << 3);
            if (memory) {
                // Centre the operand so that bit offsets of +-60 bytes stay inside the buffer.
                int offset = memoryOperandNear(size, 120);
                putData(offset, size, value(size));
            } else {
                rmOperand(size, false);
            }
            int n = register(size);
            enc.reg(n);
            long bit = memory ? rnd.nextInt(960) - 480 : rnd.nextLong();
            // Bits above the operand size are random: only the operand-size offset counts.
            c.regs[n] = (rnd.nextLong() & ~mask(size)) | (bit & mask(size));
        } else {
            enc.opcode(0x0f, 0xba).reg(4 + kind);
            rmOperand(size, memory);
            enc.imm(rnd.nextInt(256), 1);
        }
        return finish();
    }

    private int memoryOperandNear(int size, int centre) {
        int base = pick(RBX, RBP, RSI, RDI, 8, 9, 12, 13, 14, 15);
        reserved[base] = true;
        c.pointers |= 1 << base;
        c.regs[base] = centre - 32 + rnd.nextInt(32);
        int offset = centre + rnd.nextInt(16) - 8;
        long disp = offset - c.regs[base];
        enc.rmMemory(new OracleEncoder.Memory(base, -1, 0, disp, disp == (byte) disp ? 1 : 4));
        return offset;
    }

    /** BSF and BSR; a zero source leaves the destination unchanged with ZF set. */
    private OracleCase bitScan() {
        begin(ZF);
        int size = wideSize();
        if (rnd.nextInt(8) == 0) {
            enc.forceRex();
        }
        enc.size(size);
        enc.opcode(0x0f, rnd.nextBoolean() ? 0xbc : 0xbd);
        int src = rmOperand(size, rnd.nextInt(3) == 0);
        regOperand(size);
        if (rnd.nextInt(4) == 0) {
            if (lastMemoryOffset >= 0) {
                putData(lastMemoryOffset, size, 0);
            } else {
                setOperand(src, size, 0);
            }
        }
        return finish();
    }

    private OracleCase bswap() {
        begin(ALL);
        int size = rnd.nextBoolean() ? 4 : 8;
        enc.size(size);
        int n = register(size);
        enc.opcode(0x0f, 0xc8 + (n & 7)).opcodeRegister(n);
        return finish();
    }

    /** MOVZX, MOVSX and MOVSXD with every source and destination size. */
    private OracleCase moveExtend() {
        begin(ALL);
        int form = rnd.nextInt(5); // B6 B7 BE BF 63
        int srcSize = form == 0 || form == 2 ? 1 : form == 4 ? 4 : 2;
        int dstSize = wideSize();
        if (srcSize == 1 && dstSize != 8) {
            chooseByteRegisters(1);
        }
        enc.size(dstSize);
        switch (form) {
            case 0 -> enc.opcode(0x0f, 0xb6);
            case 1 -> enc.opcode(0x0f, 0xb7);
            case 2 -> enc.opcode(0x0f, 0xbe);
            case 3 -> enc.opcode(0x0f, 0xbf);
            default -> enc.opcode(0x63);
        }
        rmOperand(srcSize, rnd.nextInt(3) == 0);
        int n = register(dstSize);
        enc.reg(n);
        return finish();
    }

    /** CBW CWDE CDQE CWD CDQ CQO. */
    private OracleCase convert() {
        begin(ALL);
        int size = wideSize();
        enc.size(size);
        enc.opcode(rnd.nextBoolean() ? 0x98 : 0x99);
        setOperand(RAX, size, value(size));
        return finish();
    }

    private OracleCase xchg() {
        begin(ALL);
        if (rnd.nextInt(3) == 0) {
            int size = wideSize();
            enc.size(size);
            int n = register(size);
            enc.opcode(0x90 + (n & 7)).opcodeRegister(n);
            setOperand(n, size, value(size));
        } else {
            int size = anySize();
            chooseByteRegisters(size);
            enc.size(size);
            enc.opcode(size == 1 ? 0x86 : 0x87);
            rmOperand(size, rnd.nextInt(3) == 0);
            regOperand(size);
        }
        return finish();
    }

    private OracleCase xadd() {
        begin(ALL);
        int size = anySize();
        chooseByteRegisters(size);
        enc.size(size);
        enc.opcode(0x0f, size == 1 ? 0xc0 : 0xc1);
        rmOperand(size, rnd.nextInt(3) == 0);
        regOperand(size);
        return finish();
    }

    private OracleCase cmpxchg() {
        begin(ALL);
        int size = anySize();
        chooseByteRegisters(size);
        enc.size(size);
        enc.opcode(0x0f, size == 1 ? 0xb0 : 0xb1);
        int dst = rmOperand(size, rnd.nextInt(2) == 0);
        regOperand(size);
        long acc = value(size);
        setOperand(RAX, size, acc);
        if (rnd.nextBoolean()) {
            // Make the comparison succeed.
            if (lastMemoryOffset >= 0) {
                putData(lastMemoryOffset, size, acc);
            } else {
                setOperand(dst, size, acc);
            }
        }
        return finish();
    }

    /** CMPXCHG8B and CMPXCHG16B (16-byte alignment required: misaligned ones must fault). */
    private OracleCase cmpxchgWide() {
        begin(ALL);
        boolean wide = rnd.nextBoolean();
        int size = wide ? 16 : 8;
        if (wide) {
            enc.size(8);
        }
        enc.opcode(0x0f, 0xc7).reg(1);
        int alignment = wide && rnd.nextInt(8) != 0 ? 16 : 0;
        int offset = memoryOperand(size, alignment, new int[] {RBP, RSI, RDI, 8, 9, 10, 11, 12, 13, 14, 15});
        if (rnd.nextBoolean()) {
            // Make the comparison succeed: RDX:RAX (EDX:EAX) equals memory.
            long lo = wide ? c.regs[RAX] : c.regs[RAX] & 0xffffffffL | c.regs[RDX] << 32;
            putData(offset, 8, lo);
            if (wide) {
                putData(offset + 8, 8, c.regs[RDX]);
            }
        }
        return finish();
    }

    private OracleCase cmov() {
        begin(ALL);
        int size = wideSize();
        if (rnd.nextInt(8) == 0) {
            enc.forceRex();
        }
        enc.size(size);
        enc.opcode(0x0f, 0x40 + rnd.nextInt(16));
        rmOperand(size, rnd.nextInt(3) == 0);
        regOperand(size);
        return finish();
    }

    private OracleCase setcc() {
        begin(ALL);
        chooseByteRegisters(1);
        enc.opcode(0x0f, 0x90 + rnd.nextInt(16)).reg(0);
        rmOperand(1, rnd.nextInt(3) == 0);
        return finish();
    }

    /** LEA with every addressing form, operand size and address size; nothing is accessed. */
    private OracleCase lea() {
        begin(ALL);
        int size = wideSize();
        if (rnd.nextInt(8) == 0) {
            enc.forceRex();
        }
        if (rnd.nextInt(3) == 0) {
            enc.prefix(0x67);
        }
        enc.size(size);
        enc.opcode(0x8d);
        int base = rnd.nextInt(8) == 0 ? -1 : pickNot(RSP);
        int index = rnd.nextBoolean() ? -1 : pickNot(RSP);
        long disp = switch (rnd.nextInt(4)) {
            case 0 -> 0;
            case 1 -> (byte) rnd.nextInt();
            case 2 -> rnd.nextInt();
            default -> value(4);
        };
        int dispSize = base < 0 ? 4 : disp == 0 && rnd.nextBoolean() ? 0 : disp == (byte) disp && rnd.nextBoolean() ? 1 : 4;
        if (dispSize == 1) {
            disp = (byte) disp;
        } else if (dispSize == 4) {
            disp = (int) disp;
        }
        enc.rmMemory(new OracleEncoder.Memory(base, index, rnd.nextInt(4), disp, dispSize));
        enc.reg(pickNot(RSP));
        return finish();
    }

    private int pickNot(int excluded) {
        int n;
        do {
            n = rnd.nextInt(16);
        } while (n == excluded);
        return n;
    }

    private OracleCase popcnt() {
        begin(ALL);
        int size = wideSize();
        enc.prefix(0xf3);
        if (rnd.nextInt(8) == 0) {
            enc.forceRex();
        }
        enc.size(size);
        enc.opcode(0x0f, 0xb8);
        rmOperand(size, rnd.nextInt(3) == 0);
        regOperand(size);
        return finish();
    }

    /** LAHF SAHF CLC STC CMC CLD STD. */
    private OracleCase flagOps() {
        begin(ALL);
        c.flags |= rnd.nextBoolean() ? DF : 0;
        enc.opcode(pick(0x9e, 0x9f, 0xf8, 0xf9, 0xf5, 0xfc, 0xfd));
        return finish();
    }

    /**
     * LOCK on the read-modify-write instructions the SDM allows it for ("LOCK"): fine with a
     * memory destination, #UD with a register one, and #UD on instructions that cannot be locked.
     */
    private OracleCase lockPrefix() {
        begin(ALL);
        enc.prefix(0xf0);
        int size = wideSize();
        enc.size(size);
        boolean memory = rnd.nextInt(3) != 0;
        switch (rnd.nextInt(8)) {
            case 0 -> { // ALU r/m, r including CMP (not lockable)
                enc.opcode(rnd.nextInt(8) << 3 | 1);
                rmOperand(size, memory);
                regOperand(size);
                c.definedFlags = ALL & ~AF;
            }
            case 1 -> { // group 1 with an immediate
                enc.opcode(0x83).reg(rnd.nextInt(8));
                rmOperand(size, memory);
                enc.imm(immediate(size, true), 1);
                c.definedFlags = ALL & ~AF;
            }
            case 2 -> { // INC DEC NOT NEG
                boolean incDec = rnd.nextBoolean();
                enc.opcode(incDec ? 0xff : 0xf7).reg(incDec ? rnd.nextInt(2) : 2 + rnd.nextInt(2));
                rmOperand(size, memory);
            }
            case 3 -> { // BTS BTR BTC BT with an immediate
                enc.opcode(0x0f, 0xba).reg(4 + rnd.nextInt(4));
                rmOperand(size, memory);
                enc.imm(rnd.nextInt(256), 1);
                c.definedFlags = CF | ZF;
            }
            case 4 -> { // XADD, CMPXCHG
                enc.opcode(0x0f, rnd.nextBoolean() ? 0xc1 : 0xb1);
                rmOperand(size, memory);
                regOperand(size);
            }
            case 5 -> { // XCHG
                enc.opcode(0x87);
                rmOperand(size, memory);
                regOperand(size);
            }
            case 6 -> { // MOV, TEST: never lockable
                enc.opcode(rnd.nextBoolean() ? 0x89 : 0x85);
                rmOperand(size, memory);
                regOperand(size);
                c.definedFlags = ALL & ~AF;
            }
            default -> { // ignored segment overrides and LOCK in front of a lockable memory form
                enc.prefix(pick(0x26, 0x2e, 0x36, 0x3e));
                enc.opcode(pick(0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31));
                rmOperand(size, memory);
                regOperand(size);
                c.definedFlags = ALL & ~AF;
            }
        }
        return finish();
    }

    /**
     * Jcc (rel8, rel32), JMP, LOOP/LOOPE/LOOPNE and JRCXZ/JECXZ, each jumping forwards over an
     * INC RBX: RBX tells whether the branch was taken, RCX what LOOP did with it.
     */
    private OracleCase jump() {
        begin(ALL);
        int[] skipped = {0x48, 0xff, 0xc3}; // inc rbx
        int kind = rnd.nextInt(5);
        int[] branch = switch (kind) {
            case 0 -> new int[] {0x70 + rnd.nextInt(16), skipped.length};
            case 1 -> new int[] {0x0f, 0x80 + rnd.nextInt(16), skipped.length, 0, 0, 0};
            case 2 -> new int[] {pick(0xeb, 0xe9)};
            case 3 -> new int[] {0xe0 + rnd.nextInt(3), skipped.length};
            default -> new int[] {0xe3, skipped.length};
        };
        if (kind == 2) {
            branch = branch[0] == 0xeb ? new int[] {0xeb, skipped.length} : new int[] {0xe9, skipped.length, 0, 0, 0};
        }
        if (kind >= 3) {
            if (rnd.nextBoolean()) {
                enc.prefix(0x67); // ECX instead of RCX
            }
            c.regs[RCX] = switch (rnd.nextInt(5)) {
                case 0 -> 0;
                case 1 -> 1;
                case 2 -> 2;
                case 3 -> (long) rnd.nextInt(3) | (long) rnd.nextInt() << 32;
                default -> rnd.nextLong();
            };
        }
        int[] code = new int[branch.length + skipped.length];
        System.arraycopy(branch, 0, code, 0, branch.length);
        System.arraycopy(skipped, 0, code, branch.length, skipped.length);
        enc.opcode(code);
        return finish();
    }

    /**
     * PUSH and POP of registers, immediates and memory (RSP-relative memory included: POP
     * computes its address after RSP moves), PUSHF and POPF, with the stack in the data
     * buffer. Only what the case can compare is generated: nothing pushes a pointer (RSP,
     * RBP in ENTER/LEAVE) whose value differs between host and emulator, and POPF loads only
     * the arithmetic flags and DF (TF or AC would trap or check alignment on the host).
     */
    private OracleCase pushPop() {
        begin(ALL);
        int stack = 96 + rnd.nextInt(80);
        if (rnd.nextInt(4) != 0) {
            stack &= -8;
        }
        c.pointers |= 1 << RSP;
        c.regs[RSP] = stack;
        boolean word = rnd.nextInt(4) == 0;
        int size = word ? 2 : 8;
        if (word) {
            enc.prefix(0x66);
        }
        if (rnd.nextInt(8) == 0) {
            enc.forceRex();
        }
        switch (rnd.nextInt(7)) {
            case 0, 1 -> { // PUSH r, POP r
                int n = register(8);
                enc.opcode((rnd.nextBoolean() ? 0x50 : 0x58) + (n & 7)).opcodeRegister(n);
            }
            case 2 -> { // PUSH imm8 / imm16 / imm32 (sign-extended)
                boolean byteForm = rnd.nextBoolean();
                enc.opcode(byteForm ? 0x6a : 0x68).imm(immediate(size, byteForm), byteForm ? 1 : size == 2 ? 2 : 4);
            }
            case 3, 4 -> { // PUSH r/m (FF /6), POP r/m (8F /0)
                boolean push = rnd.nextBoolean();
                enc.opcode(push ? 0xff : 0x8f).reg(push ? 6 : 0);
                if (rnd.nextInt(3) == 0) {
                    rmOperand(size, false);
                } else if (rnd.nextBoolean()) {
                    // [rsp + disp8]: for POP, relative to RSP after the pop.
                    int disp = rnd.nextInt(48) - 16;
                    enc.rmMemory(new OracleEncoder.Memory(RSP, -1, 0, disp, 1));
                } else {
                    int offset = memoryOperand(size, 0, new int[] {RBX, RBP, RSI, RDI, 8, 9, 10, 11});
                    putData(offset, size, value(size));
                }
            }
            case 5 -> enc.opcode(0x9c); // PUSHF
            default -> { // POPF: the stack holds flags the host lets user code load
                enc.opcode(0x9d);
                c.definedFlags = ALL;
                long image = (rnd.nextInt() & (ALL | DF)) | 2;
                putData(stack, size, image);
            }
        }
        return finish();
    }

    /** MOVS CMPS STOS LODS SCAS with and without REP/REPE/REPNE, forwards and backwards. */
    private OracleCase string() {
        int op = pick(0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf);
        begin(ALL);
        int size = (op & 1) == 0 ? 1 : wideSize();
        if ((op & 1) != 0) {
            enc.size(size);
        }
        int rep = pick(0, 0xf3, 0xf3, 0xf2);
        if (rep != 0) {
            enc.prefix(rep);
        }
        if (rnd.nextInt(8) == 0) {
            enc.forceRex();
        }
        boolean shortAddresses = rnd.nextInt(4) == 0;
        if (shortAddresses) {
            enc.prefix(0x67);
        }
        enc.opcode(op);
        boolean down = rnd.nextBoolean();
        c.flags |= down ? DF : 0;
        int count = rnd.nextInt(7);
        if (rep != 0) {
            c.regs[RCX] = count;
        }
        int span = 8 * 8;
        int si = down ? 96 + span - size + rnd.nextInt(32) : 64 + rnd.nextInt(32);
        int di = down ? 96 + span - size + rnd.nextInt(32) : 64 + rnd.nextInt(32);
        if (rnd.nextBoolean()) {
            di = Math.max(0, Math.min(OracleCase.DATA_SIZE - 8, di + (down ? -span : span)));
        }
        c.regs[RSI] = si;
        c.regs[RDI] = di;
        c.pointers = 1 << RSI | 1 << RDI;
        if (shortAddresses) {
            // ESI, EDI and ECX only: the upper halves are junk the instruction must ignore (and clear).
            c.regs[RSI] |= (long) rnd.nextInt() << 32;
            c.regs[RDI] |= (long) rnd.nextInt() << 32;
            if (rep != 0) {
                c.regs[RCX] |= (long) rnd.nextInt() << 32;
            }
        }
        long step = down ? -size : size;
        if (op == 0xa6 || op == 0xa7) {
            // CMPS: equal elements with one difference somewhere, so REPE/REPNE stop in the middle.
            for (int k = 0; k < count; k++) {
                int s = (int) (si + k * step);
                int d = (int) (di + k * step);
                if (s >= 0 && d >= 0 && s + size <= OracleCase.DATA_SIZE && d + size <= OracleCase.DATA_SIZE
                        && rnd.nextInt(count + 1) != 0) {
                    System.arraycopy(c.data, s, c.data, d, size);
                }
            }
        } else if (op == 0xae || op == 0xaf) {
            long v = value(size);
            setOperand(RAX, size, v);
            for (int k = 0; k < count; k++) {
                int d = (int) (di + k * step);
                if (d >= 0 && d + size <= OracleCase.DATA_SIZE && rnd.nextInt(count + 1) != 0) {
                    putData(d, size, v);
                }
            }
        }
        return finish();
    }
}
