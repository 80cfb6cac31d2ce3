package org.vireo.cpu.emu;

/**
 * The arithmetic flags, computed lazily (Intel SDM vol. 1 §3.4.3.1). Most instructions that
 * set flags are followed by one that reads at most one of them, or by none, so the CPU keeps
 * the last flag-setting operation, its size, its operands and result, and derives CF, PF, AF,
 * ZF, SF and OF only when asked. Operations whose flags are awkward to recover (shifts,
 * multiplies, POPF) store them eagerly.
 */
final class Flags {

    static final int CF = 1, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8, IF = 1 << 9,
            DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18,
            VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;
    static final int ARITH = CF | PF | AF | ZF | SF | OF;

    // Kinds of the last flag-setting operation.
    static final int EAGER = 0, ADD = 1, ADC = 2, SUB = 3, SBB = 4, LOGIC = 5, INC = 6, DEC = 7;

    private static final long[] MASK = {0xffL, 0xffffL, 0xffffffffL, -1L};
    private static final long[] SIGN = {0x80L, 0x8000L, 0x80000000L, 1L << 63};

    int op = EAGER;
    /** log2 of the operand size in bytes: 0 byte, 1 word, 2 dword, 3 qword. */
    int size;
    long a;
    long b;
    long result;
    /** ADC/SBB: the carry in; INC/DEC: the CF they leave alone; EAGER: the six flags. */
    long extra;

    static int sizeIndex(int bytes) {
        return switch (bytes) {
            case 1 -> 0;
            case 2 -> 1;
            case 4 -> 2;
            default -> 3;
        };
    }

    void set(int kind, int bytes, long a, long b, long result) {
        this.op = kind;
        this.size = sizeIndex(bytes);
        this.a = a;
        this.b = b;
        this.result = result;
    }

    /** Makes the flags exactly {@code bits} (only the six arithmetic flags are looked at). */
    void setEager(int bits) {
        op = EAGER;
        extra = bits & ARITH;
    }

    boolean cf() {
        long m = MASK[size];
        return switch (op) {
            case EAGER -> (extra & CF) != 0;
            case ADD -> Long.compareUnsigned(result & m, a & m) < 0;
            case ADC -> extra != 0 ? Long.compareUnsigned(result & m, a & m) <= 0
                    : Long.compareUnsigned(result & m, a & m) < 0;
            case SUB -> Long.compareUnsigned(a & m, b & m) < 0;
            case SBB -> extra != 0 ? Long.compareUnsigned(a & m, b & m) <= 0
                    : Long.compareUnsigned(a & m, b & m) < 0;
            case LOGIC -> false;
            default -> extra != 0; // INC, DEC keep CF
        };
    }

    boolean zf() {
        return op == EAGER ? (extra & ZF) != 0 : (result & MASK[size]) == 0;
    }

    boolean sf() {
        return op == EAGER ? (extra & SF) != 0 : (result & SIGN[size]) != 0;
    }

    boolean pf() {
        return op == EAGER ? (extra & PF) != 0 : (Long.bitCount(result & 0xff) & 1) == 0;
    }

    boolean af() {
        return switch (op) {
            case EAGER -> (extra & AF) != 0;
            case LOGIC -> false;
            case INC, DEC -> ((a ^ 1 ^ result) & 0x10) != 0;
            default -> ((a ^ b ^ result) & 0x10) != 0;
        };
    }

    boolean of() {
        long s = SIGN[size];
        return switch (op) {
            case EAGER -> (extra & OF) != 0;
            case ADD, ADC -> ((a ^ result) & (b ^ result) & s) != 0;
            case SUB, SBB -> ((a ^ b) & (a ^ result) & s) != 0;
            case LOGIC -> false;
            case INC -> (result & MASK[size]) == s;
            default -> (result & MASK[size]) == s - 1; // DEC: from the minimum to the maximum
        };
    }

    /** The six arithmetic flags as RFLAGS bits. */
    int bits() {
        if (op == EAGER) {
            return (int) extra;
        }
        return (cf() ? CF : 0) | (pf() ? PF : 0) | (af() ? AF : 0) | (zf() ? ZF : 0) | (sf() ? SF : 0)
                | (of() ? OF : 0);
    }

    /**
     * Condition code {@code cc} of Jcc/SETcc/CMOVcc (SDM vol. 1 appendix B): O, NO, B, AE, E, NE,
     * BE, A, S, NS, P, NP, L, GE, LE, G.
     */
    boolean condition(int cc) {
        boolean r = switch (cc >>> 1) {
            case 0 -> of();
            case 1 -> cf();
            case 2 -> zf();
            case 3 -> cf() || zf();
            case 4 -> sf();
            case 5 -> pf();
            case 6 -> sf() != of();
            default -> zf() || sf() != of();
        };
        return (cc & 1) == 0 ? r : !r;
    }

    static long mask(int bytes) {
        return bytes == 8 ? -1L : (1L << (8 * bytes)) - 1;
    }

    static long sign(int bytes) {
        return 1L << (8 * bytes - 1);
    }

    /** ZF, SF and PF of {@code result} at {@code bytes}, as RFLAGS bits. */
    static int szp(long result, int bytes) {
        long m = mask(bytes);
        return ((result & m) == 0 ? ZF : 0) | ((result & sign(bytes)) != 0 ? SF : 0)
                | ((Long.bitCount(result & 0xff) & 1) == 0 ? PF : 0);
    }
}
