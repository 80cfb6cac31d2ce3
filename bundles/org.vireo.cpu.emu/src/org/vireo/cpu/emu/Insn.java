package org.vireo.cpu.emu;

/**
 * One decoded instruction: what the decoder learned from its bytes, so that executing it
 * needs no further look at them. Opcodes are numbered by map: {@code 0x000-0x0ff} the
 * one-byte map, {@code 0x100-0x1ff} the {@code 0F} map, {@code 0x200-0x2ff} {@code 0F 38} and
 * {@code 0x300-0x3ff} {@code 0F 3A} (Intel SDM vol. 2 appendix A).
 */
final class Insn {

    static final int MAP_0F = 0x100, MAP_0F38 = 0x200, MAP_0F3A = 0x300;

    // Prefix bits.
    static final int P_LOCK = 1, P_REP = 2, P_REPNE = 4, P_OPSIZE = 8, P_ADDRSIZE = 16;

    /** Segment override: none, or the segment register number (ES 0, CS 1, SS 2, DS 3, FS 4, GS 5). */
    static final int SEG_NONE = -1, SEG_ES = 0, SEG_CS = 1, SEG_SS = 2, SEG_DS = 3, SEG_FS = 4, SEG_GS = 5;

    /** Pseudo base register number for RIP-relative addressing. */
    static final int BASE_RIP = 16;

    int op;
    int prefixes;
    int segment = SEG_NONE;
    /** The REX byte, or 0 if none. */
    int rex;
    /** Operand size in bytes for non-byte forms: 2, 4 or 8. */
    int osize;
    /** Address size in bytes: 4 or 8. */
    int asize;

    boolean hasModrm;
    int mod;
    /** ModRM.reg with REX.R (0-15); for group opcodes the low three bits are the extension. */
    int reg;
    /** ModRM.rm with REX.B, the register operand when {@code mod == 3}. */
    int rm;
    /** The memory operand: base (-1 none, {@link #BASE_RIP}), index (-1 none), scale shift, displacement. */
    int base = -1, index = -1, scale;
    long disp;

    long imm;
    /** The second immediate (ENTER's nesting level). */
    int imm2;
    /** Length in bytes, 1-15. */
    int length;

    // The decode cache's key: the linear address, and the instruction's bytes as two masked longs.
    long address = -1;
    long bytes0, mask0, bytes1, mask1;

    boolean memory() {
        return mod != 3;
    }

    /** The opcode extension of group opcodes: ModRM.reg without REX.R. */
    int ext() {
        return reg & 7;
    }

    boolean has(int prefix) {
        return (prefixes & prefix) != 0;
    }

    /** The mandatory prefix an SSE opcode was given: 0, 0x66, 0xF3 or 0xF2 (the last one wins, as on hardware). */
    int ssePrefix() {
        if (lastRep != 0) {
            return lastRep;
        }
        return (prefixes & P_OPSIZE) != 0 ? 0x66 : 0;
    }

    /** The last of F2/F3 seen, 0 if neither. */
    int lastRep;

    boolean rexW() {
        return (rex & 8) != 0;
    }

    void clear() {
        op = 0;
        prefixes = 0;
        segment = SEG_NONE;
        rex = 0;
        osize = 4;
        asize = 8;
        hasModrm = false;
        mod = 3;
        reg = 0;
        rm = 0;
        base = -1;
        index = -1;
        scale = 0;
        disp = 0;
        imm = 0;
        imm2 = 0;
        length = 0;
        lastRep = 0;
    }
}
