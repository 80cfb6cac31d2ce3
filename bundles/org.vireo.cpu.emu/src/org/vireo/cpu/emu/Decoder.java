package org.vireo.cpu.emu;

/**
 * Decodes one 64-bit-mode instruction: legacy and REX prefixes, the opcode maps, ModRM, SIB,
 * displacement and immediates (Intel SDM vol. 2 ch. 2 and appendix A). It only finds the
 * instruction's parts and length; what an opcode means is the interpreter's business, and an
 * opcode nobody implements is left for the interpreter to answer with #UD.
 */
final class Decoder {

    /** Longest legal instruction (SDM vol. 2 §2.3.11); longer raises #GP(0). */
    static final int MAX_LENGTH = 15;

    // Operand form of each opcode.
    private static final byte MODRM = 1, IMM8 = 2, IMMZ = 4, IMM16 = 8, IMMV = 16, MOFFS = 32;

    private static final byte[] ONE_BYTE = new byte[256];
    private static final byte[] TWO_BYTE = new byte[256];

    static {
        for (int op = 0; op < 0x40; op++) {
            // ALU rows: op r/m,r ; op r,r/m ; op AL,imm8 ; op eAX,immz.
            switch (op & 7) {
                case 0, 1, 2, 3 -> ONE_BYTE[op] = MODRM;
                case 4 -> ONE_BYTE[op] = IMM8;
                case 5 -> ONE_BYTE[op] = IMMZ;
                default -> { }
            }
        }
        set(ONE_BYTE, MODRM, 0x62, 0x63, 0xc4, 0xc5, 0xd0, 0xd1, 0xd2, 0xd3,
                0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xfe, 0xff);
        for (int op = 0x84; op <= 0x8f; op++) {
            ONE_BYTE[op] = MODRM;
        }
        set(ONE_BYTE, IMM8, 0x6a, 0xa8, 0xcd, 0xd4, 0xd5, 0xe4, 0xe5, 0xe6, 0xe7, 0xeb);
        for (int op = 0x70; op <= 0x7f; op++) {
            ONE_BYTE[op] = IMM8;
        }
        for (int op = 0xb0; op <= 0xb7; op++) {
            ONE_BYTE[op] = IMM8;
        }
        for (int op = 0xe0; op <= 0xe3; op++) {
            ONE_BYTE[op] = IMM8;
        }
        set(ONE_BYTE, IMMZ, 0x68, 0xa9, 0xe8, 0xe9);
        for (int op = 0xb8; op <= 0xbf; op++) {
            ONE_BYTE[op] = IMMV;
        }
        set(ONE_BYTE, (byte) (MODRM | IMM8), 0x6b, 0x80, 0x82, 0x83, 0xc0, 0xc1, 0xc6);
        set(ONE_BYTE, (byte) (MODRM | IMMZ), 0x69, 0x81, 0xc7);
        set(ONE_BYTE, IMM16, 0xc2, 0xca);
        set(ONE_BYTE, MOFFS, 0xa0, 0xa1, 0xa2, 0xa3);
        // F6/F7 take an immediate only for TEST (/0, /1): decided after ModRM.
        set(ONE_BYTE, MODRM, 0xf6, 0xf7);

        for (int op = 0; op < 256; op++) {
            TWO_BYTE[op] = MODRM;
        }
        set(TWO_BYTE, (byte) 0, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
                0x37, 0x77, 0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa);
        for (int op = 0xc8; op <= 0xcf; op++) {
            TWO_BYTE[op] = 0;
        }
        for (int op = 0x80; op <= 0x8f; op++) {
            TWO_BYTE[op] = IMMZ;
        }
        set(TWO_BYTE, (byte) (MODRM | IMM8), 0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6);
    }

    private static void set(byte[] table, byte form, int... ops) {
        for (int op : ops) {
            table[op] = form;
        }
    }

    private final Cpu cpu;
    private long start;
    private int pos;

    Decoder(Cpu cpu) {
        this.cpu = cpu;
    }

    /**
     * Decodes the instruction at linear address {@code rip} into {@code insn}.
     *
     * @throws CpuFault #PF for an unmapped byte, #GP(0) beyond 15 bytes
     */
    void decode(long rip, Insn insn) {
        insn.clear();
        start = rip;
        pos = 0;
        int b;
        prefixes:
        while (true) {
            b = next();
            if ((b & 0xf0) == 0x40) {
                // REX counts only directly before the opcode; of several, the last one.
                insn.rex = b;
                continue;
            }
            switch (b) {
                case 0xf0 -> insn.prefixes |= Insn.P_LOCK;
                case 0xf2 -> {
                    insn.prefixes |= Insn.P_REPNE;
                    insn.lastRep = 0xf2;
                }
                case 0xf3 -> {
                    insn.prefixes |= Insn.P_REP;
                    insn.lastRep = 0xf3;
                }
                case 0x66 -> insn.prefixes |= Insn.P_OPSIZE;
                case 0x67 -> insn.prefixes |= Insn.P_ADDRSIZE;
                // ES, CS, SS and DS overrides are ignored in 64-bit mode (SDM vol. 1 §3.3.7.1).
                case 0x26, 0x2e, 0x36, 0x3e -> { }
                case 0x64 -> insn.segment = Insn.SEG_FS;
                case 0x65 -> insn.segment = Insn.SEG_GS;
                default -> {
                    break prefixes;
                }
            }
            insn.rex = 0;
        }
        insn.osize = insn.rexW() ? 8 : insn.has(Insn.P_OPSIZE) ? 2 : 4;
        insn.asize = insn.has(Insn.P_ADDRSIZE) ? 4 : 8;

        byte form;
        if (b == 0x0f) {
            b = next();
            if (b == 0x38) {
                insn.op = Insn.MAP_0F38 | next();
                form = MODRM;
            } else if (b == 0x3a) {
                insn.op = Insn.MAP_0F3A | next();
                form = MODRM | IMM8;
            } else {
                insn.op = Insn.MAP_0F | b;
                form = TWO_BYTE[b];
            }
        } else {
            insn.op = b;
            form = ONE_BYTE[b];
        }

        if ((form & MODRM) != 0) {
            modrm(insn);
            if ((insn.op == 0xf6 || insn.op == 0xf7) && insn.ext() < 2) {
                form |= insn.op == 0xf6 ? IMM8 : IMMZ;
            }
        }
        if ((form & IMM8) != 0) {
            insn.imm = (byte) next();
        } else if ((form & IMMZ) != 0) {
            insn.imm = insn.osize == 2 && !isNear64(insn.op) ? (short) next16() : next32();
        } else if ((form & IMM16) != 0) {
            insn.imm = next16();
        } else if ((form & IMMV) != 0) {
            insn.imm = switch (insn.osize) {
                case 2 -> next16();
                case 4 -> next32() & 0xffffffffL;
                default -> next64();
            };
        } else if ((form & MOFFS) != 0) {
            insn.disp = insn.asize == 8 ? next64() : next32() & 0xffffffffL;
        }
        if (insn.op == 0xc8) {
            // ENTER imm16, imm8.
            insn.imm = next16();
            insn.imm2 = next();
        }
        insn.length = pos;
    }

    /** CALL/JMP rel32 and Jcc rel32 ignore the operand-size prefix for their displacement's size in 64-bit mode. */
    private static boolean isNear64(int op) {
        return op == 0xe8 || op == 0xe9 || (op >= 0x180 && op <= 0x18f);
    }

    private void modrm(Insn insn) {
        int m = next();
        insn.hasModrm = true;
        insn.mod = m >>> 6;
        insn.reg = ((m >>> 3) & 7) | ((insn.rex & 4) << 1);
        int rm = m & 7;
        if (insn.mod == 3) {
            insn.rm = rm | ((insn.rex & 1) << 3);
            return;
        }
        if (rm == 4) {
            int sib = next();
            insn.scale = sib >>> 6;
            int idx = ((sib >>> 3) & 7) | ((insn.rex & 2) << 2);
            insn.index = idx == 4 ? -1 : idx;
            int base = sib & 7;
            if (base == 5 && insn.mod == 0) {
                insn.base = -1;
                insn.disp = next32();
            } else {
                insn.base = base | ((insn.rex & 1) << 3);
            }
        } else if (rm == 5 && insn.mod == 0) {
            insn.base = Insn.BASE_RIP;
            insn.disp = next32();
        } else {
            insn.base = rm | ((insn.rex & 1) << 3);
        }
        if (insn.mod == 1) {
            insn.disp = (byte) next();
        } else if (insn.mod == 2) {
            insn.disp = next32();
        }
    }

    private int next() {
        if (pos >= MAX_LENGTH) {
            throw CpuFault.gp(0);
        }
        return cpu.fetchByte(start + pos++);
    }

    private int next16() {
        int lo = next();
        return lo | (next() << 8);
    }

    private int next32() {
        int lo = next16();
        return lo | (next16() << 16);
    }

    private long next64() {
        long lo = next32() & 0xffffffffL;
        return lo | ((long) next32() << 32);
    }
}
