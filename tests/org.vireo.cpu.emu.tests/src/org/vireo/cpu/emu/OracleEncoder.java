package org.vireo.cpu.emu;

import java.io.ByteArrayOutputStream;

/**
 * Encodes 64-bit-mode instructions for the differential tests (Intel SDM vol. 2 ch. 2):
 * legacy prefixes, REX, opcode, ModRM, SIB, displacement and immediate. It does only what
 * the generator asks; choosing legal operands is the generator's job.
 */
final class OracleEncoder {

    static final String[] REG64 = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};

    /**
     * A memory operand: base register (-1 for none: disp32 only), index register (-1 for
     * none; never RSP), scale shift 0-3, displacement and its encoded size (0, 1 or 4).
     */
    record Memory(int base, int index, int scale, long disp, int dispSize) {
    }

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private int rex;
    private boolean forceRex;
    private int[] opcode = {};
    private boolean hasModrm;
    private int regField;
    private int rmRegister = -1;
    private Memory memory;
    private long imm;
    private int immSize;
    private final ByteArrayOutputStream prefixes = new ByteArrayOutputStream();

    OracleEncoder prefix(int... bytes) {
        for (int b : bytes) {
            prefixes.write(b);
        }
        return this;
    }

    /** Operand size: 2 adds 0x66, 8 sets REX.W, 1 and 4 add nothing. */
    OracleEncoder size(int bytes) {
        if (bytes == 2) {
            prefixes.write(0x66);
        } else if (bytes == 8) {
            rex |= 8;
        }
        return this;
    }

    /** Emits a REX prefix even when no bit needs one (byte registers SPL-DIL instead of AH-BH). */
    OracleEncoder forceRex() {
        forceRex = true;
        return this;
    }

    OracleEncoder opcode(int... bytes) {
        opcode = bytes;
        return this;
    }

    /** Notes the register an opcode carries in its low three bits (B8+r, C8+r, 90+r): R8-R15 need REX.B. */
    OracleEncoder opcodeRegister(int register) {
        if (register >= 8) {
            rex |= 1;
        }
        return this;
    }

    /** ModRM.reg: a register (0-15) or an opcode extension (0-7). */
    OracleEncoder reg(int field) {
        hasModrm = true;
        regField = field;
        if (field >= 8) {
            rex |= 4;
        }
        return this;
    }

    OracleEncoder rmRegister(int register) {
        hasModrm = true;
        rmRegister = register;
        memory = null;
        if (register >= 8) {
            rex |= 1;
        }
        return this;
    }

    OracleEncoder rmMemory(Memory m) {
        hasModrm = true;
        memory = m;
        rmRegister = -1;
        if (m.base() >= 8) {
            rex |= 1;
        }
        if (m.index() >= 8) {
            rex |= 2;
        }
        return this;
    }

    OracleEncoder imm(long value, int size) {
        imm = value;
        immSize = size;
        return this;
    }

    /** Whether the encoding carries a REX prefix (so byte registers 4-7 are SPL-DIL). */
    boolean hasRex() {
        return rex != 0 || forceRex;
    }

    byte[] bytes() {
        out.reset();
        out.writeBytes(prefixes.toByteArray());
        if (hasRex()) {
            out.write(0x40 | rex);
        }
        for (int b : opcode) {
            out.write(b);
        }
        if (hasModrm) {
            modrm();
        }
        for (int k = 0; k < immSize; k++) {
            out.write((int) (imm >>> (8 * k)));
        }
        return out.toByteArray();
    }

    private void modrm() {
        int reg = (regField & 7) << 3;
        if (memory == null) {
            out.write(0xc0 | reg | (rmRegister & 7));
            return;
        }
        Memory m = memory;
        int dispSize = m.dispSize();
        if (m.base() < 0) {
            // SIB with no base: mod 00, base 101, disp32.
            out.write(reg | 4);
            out.write(m.scale() << 6 | (m.index() < 0 ? 4 : m.index() & 7) << 3 | 5);
            disp(m.disp(), 4);
            return;
        }
        if ((m.base() & 7) == 5 && dispSize == 0) {
            dispSize = 1; // mod 00 with base RBP/R13 means something else: use disp8 0
        }
        int mod = dispSize == 0 ? 0 : dispSize == 1 ? 0x40 : 0x80;
        if (m.index() < 0 && (m.base() & 7) != 4) {
            out.write(mod | reg | (m.base() & 7));
        } else {
            out.write(mod | reg | 4);
            out.write(m.scale() << 6 | (m.index() < 0 ? 4 : m.index() & 7) << 3 | (m.base() & 7));
        }
        disp(m.disp(), dispSize);
    }

    private void disp(long value, int size) {
        for (int k = 0; k < size; k++) {
            out.write((int) (value >>> (8 * k)));
        }
    }
}
