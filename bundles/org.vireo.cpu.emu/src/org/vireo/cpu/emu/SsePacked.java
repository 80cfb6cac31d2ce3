package org.vireo.cpu.emu;

/**
 * The packed-integer operations of MMX and SSE2 on one 64-bit lane (SDM vol. 2, "PADDB" to
 * "PUNPCKL"): an MMX register is one lane, an XMM register two, and every operation here
 * except the packs, unpacks and whole-register shifts works on each lane independently.
 * Pure functions on longs, so the interpreter allocates nothing. Opcodes are the low byte of
 * the 0F-map opcode, the same for the MMX and the 66-prefixed XMM form.
 */
final class SsePacked {

    private static final long HIGH_BYTES = 0x8080808080808080L;
    private static final long LOW7_BYTES = 0x7f7f7f7f7f7f7f7fL;
    private static final long HIGH_WORDS = 0x8000800080008000L;
    private static final long LOW15_WORDS = 0x7fff7fff7fff7fffL;
    static final long M32 = 0xffffffffL;

    // Shift kinds, for shift().
    static final int SRL = 0, SRA = 1, SLL = 2;

    private SsePacked() {
    }

    /** Whether {@code op} is an element-wise operation that {@link #lane} computes. */
    static boolean isLaneOp(int op) {
        return switch (op) {
            case 0x64, 0x65, 0x66, 0x74, 0x75, 0x76, 0xd4, 0xd5, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
                    0xe0, 0xe3, 0xe4, 0xe5, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
                    0xf4, 0xf5, 0xf6, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe -> true;
            default -> false;
        };
    }

    /** One lane of an element-wise operation: {@code d op s}. */
    static long lane(int op, long d, long s) {
        return switch (op) {
            // The string functions' hot loop first: bitwise logic and compare-for-equal, SWAR.
            case 0xef -> d ^ s;
            case 0xdb -> d & s;
            case 0xdf -> ~d & s;
            case 0xeb -> d | s;
            case 0x74 -> cmpeqb(d, s);
            case 0x75 -> cmpeqw(d, s);
            case 0x76 -> cmpeqd(d, s);
            case 0xd4 -> d + s;
            case 0xfb -> d - s;
            case 0xf4 -> (d & M32) * (s & M32); // PMULUDQ: low dwords to a quadword
            case 0xf5 -> pmaddwd(d, s);
            case 0xf6 -> psadbw(d, s);
            case 0x66, 0xfa, 0xfe -> dwords(op, d, s);
            case 0x65, 0xd5, 0xd9, 0xdd, 0xe3, 0xe4, 0xe5, 0xe9, 0xea, 0xed, 0xee, 0xf9, 0xfd -> words(op, d, s);
            default -> bytes(op, d, s);
        };
    }

    /** PCMPEQB: 0xff in each byte where the two are equal, without a loop. */
    static long cmpeqb(long a, long b) {
        long x = a ^ b;
        // The high bit of each byte of t is set iff that byte of x is nonzero.
        long t = ((x & LOW7_BYTES) + LOW7_BYTES) | x;
        return ((~t & HIGH_BYTES) >>> 7) * 0xff;
    }

    static long cmpeqw(long a, long b) {
        long x = a ^ b;
        long t = ((x & LOW15_WORDS) + LOW15_WORDS) | x;
        return ((~t & HIGH_WORDS) >>> 15) * 0xffff;
    }

    static long cmpeqd(long a, long b) {
        long lo = (int) a == (int) b ? M32 : 0;
        long hi = (a >>> 32) == (b >>> 32) ? M32 << 32 : 0;
        return lo | hi;
    }

    /** PMOVMSKB of one lane: the top bit of each byte gathered into the low 8 bits. */
    static int moveMask(long v) {
        // Byte k's top bit moves to bit 56 + k; no two partial products meet, so nothing carries.
        return (int) ((((v & HIGH_BYTES) >>> 7) * 0x0102040810204080L) >>> 56);
    }

    private static long bytes(int op, long d, long s) {
        long r = 0;
        for (int k = 0; k < 64; k += 8) {
            int a = (int) (d >>> k) & 0xff;
            int b = (int) (s >>> k) & 0xff;
            int v = switch (op) {
                case 0x64 -> (byte) a > (byte) b ? 0xff : 0;               // PCMPGTB
                case 0xd8 -> Math.max(a - b, 0);                           // PSUBUSB
                case 0xda -> Math.min(a, b);                               // PMINUB
                case 0xdc -> Math.min(a + b, 0xff);                        // PADDUSB
                case 0xde -> Math.max(a, b);                               // PMAXUB
                case 0xe0 -> (a + b + 1) >>> 1;                            // PAVGB
                case 0xe8 -> saturate((byte) a - (byte) b, -128, 127);     // PSUBSB
                case 0xec -> saturate((byte) a + (byte) b, -128, 127);     // PADDSB
                case 0xf8 -> a - b;                                        // PSUBB
                case 0xfc -> a + b;                                        // PADDB
                default -> throw new IllegalArgumentException("not a byte operation: " + Integer.toHexString(op));
            };
            r |= (long) (v & 0xff) << k;
        }
        return r;
    }

    private static long words(int op, long d, long s) {
        long r = 0;
        for (int k = 0; k < 64; k += 16) {
            int a = (int) (d >>> k) & 0xffff;
            int b = (int) (s >>> k) & 0xffff;
            int v = switch (op) {
                case 0x65 -> (short) a > (short) b ? 0xffff : 0;            // PCMPGTW
                case 0xd5 -> a * b;                                          // PMULLW
                case 0xd9 -> Math.max(a - b, 0);                             // PSUBUSW
                case 0xdd -> Math.min(a + b, 0xffff);                        // PADDUSW
                case 0xe3 -> (a + b + 1) >>> 1;                              // PAVGW
                case 0xe4 -> (a * b) >>> 16;                                 // PMULHUW (a * b < 2^32)
                case 0xe5 -> ((short) a * (short) b) >> 16;                  // PMULHW
                case 0xe9 -> saturate((short) a - (short) b, -32768, 32767); // PSUBSW
                case 0xea -> Math.min((short) a, (short) b);                 // PMINSW
                case 0xed -> saturate((short) a + (short) b, -32768, 32767); // PADDSW
                case 0xee -> Math.max((short) a, (short) b);                 // PMAXSW
                case 0xf9 -> a - b;                                          // PSUBW
                default -> a + b;                                            // PADDW (FD)
            };
            r |= (long) (v & 0xffff) << k;
        }
        return r;
    }

    private static long dwords(int op, long d, long s) {
        long r = 0;
        for (int k = 0; k < 64; k += 32) {
            int a = (int) (d >>> k);
            int b = (int) (s >>> k);
            int v = switch (op) {
                case 0x66 -> a > b ? -1 : 0; // PCMPGTD
                case 0xfa -> a - b;          // PSUBD
                default -> a + b;            // PADDD (FE)
            };
            r |= (v & M32) << k;
        }
        return r;
    }

    /** PMADDWD: each dword the sum of two signed word products (0x8000 * 0x8000 * 2 wraps, as on hardware). */
    private static long pmaddwd(long d, long s) {
        long r = 0;
        for (int k = 0; k < 64; k += 32) {
            int v = (short) (d >>> k) * (short) (s >>> k) + (short) (d >>> (k + 16)) * (short) (s >>> (k + 16));
            r |= (v & M32) << k;
        }
        return r;
    }

    /** PSADBW: the sum of absolute byte differences in the low word of the lane. */
    private static long psadbw(long d, long s) {
        int sum = 0;
        for (int k = 0; k < 64; k += 8) {
            sum += Math.abs((int) ((d >>> k) & 0xff) - (int) ((s >>> k) & 0xff));
        }
        return sum;
    }

    static int saturate(int v, int min, int max) {
        return v < min ? min : Math.min(v, max);
    }

    /**
     * Shifts each {@code bits}-bit element (16, 32, 64) of a lane by {@code count}, an unsigned
     * 64-bit count: logical shifts beyond the element give zero, arithmetic ones fill with the sign.
     */
    static long shift(int bits, int kind, long v, long count) {
        if (Long.compareUnsigned(count, bits - 1) > 0) {
            if (kind != SRA) {
                return 0;
            }
            count = bits - 1;
        }
        int c = (int) count;
        if (bits == 64) {
            return kind == SRL ? v >>> c : kind == SLL ? v << c : v >> c;
        }
        long mask = bits == 32 ? M32 : 0xffff;
        long r = 0;
        for (int k = 0; k < 64; k += bits) {
            long e = (v >>> k) & mask;
            long out = switch (kind) {
                case SRL -> e >>> c;
                case SLL -> e << c;
                default -> (bits == 32 ? (long) (int) e : (long) (short) e) >> c;
            };
            r |= (out & mask) << k;
        }
        return r;
    }

    /**
     * Interleaves the elements ({@code size} bytes: 1, 2, 4) of two 32-bit halves, {@code a}'s
     * first: the core of PUNPCKL and PUNPCKH.
     */
    static long interleave(int size, long a, long b) {
        switch (size) {
            case 1 -> {
                long r = 0;
                for (int k = 0; k < 4; k++) {
                    r |= ((a >>> (8 * k)) & 0xff) << (16 * k) | ((b >>> (8 * k)) & 0xff) << (16 * k + 8);
                }
                return r;
            }
            case 2 -> {
                return (a & 0xffff) | (b & 0xffff) << 16 | ((a >>> 16) & 0xffff) << 32 | ((b >>> 16) & 0xffff) << 48;
            }
            default -> {
                return (a & M32) | (b << 32);
            }
        }
    }

    /**
     * The packs: {@code x}'s elements saturated into the low 32 bits, {@code y}'s into the high.
     * 63 PACKSSWB, 67 PACKUSWB (signed words to unsigned bytes), 6B PACKSSDW.
     */
    static long pack(int op, long x, long y) {
        return packHalf(op, x) | packHalf(op, y) << 32;
    }

    private static long packHalf(int op, long v) {
        long r = 0;
        if (op == 0x6b) {
            for (int k = 0; k < 2; k++) {
                r |= (long) (saturate((int) (v >>> (32 * k)), -32768, 32767) & 0xffff) << (16 * k);
            }
            return r;
        }
        int min = op == 0x67 ? 0 : -128;
        int max = op == 0x67 ? 255 : 127;
        for (int k = 0; k < 4; k++) {
            r |= (long) (saturate((short) (v >>> (16 * k)), min, max) & 0xff) << (8 * k);
        }
        return r;
    }

    /** PSHUFW, PSHUFLW, PSHUFHW: word k of the result is word {@code imm[2k+1:2k]} of {@code v}. */
    static long shuffleWords(long v, int imm) {
        long r = 0;
        for (int k = 0; k < 4; k++) {
            r |= ((v >>> (16 * ((imm >>> (2 * k)) & 3))) & 0xffff) << (16 * k);
        }
        return r;
    }

    /** Dword {@code n} (0-3) of the 128-bit value {@code lo}, {@code hi}. */
    static long dword(long lo, long hi, int n) {
        return ((n < 2 ? lo : hi) >>> (32 * (n & 1))) & M32;
    }
}
