package org.vireo.cpu.emu;

/**
 * The x87, MMX and SSE register state of the CPU, and its 512-byte FXSAVE image (Intel SDM
 * vol. 1 §10.5.1, table 10-2).
 */
final class FpuState {

    /** XMM0-15, two longs each: {@code xmm[2 * n]} the low quadword, {@code xmm[2 * n + 1]} the high one. */
    final long[] xmm = new long[32];
    int mxcsr = 0x1f80;

    /** FCW, FSW (TOP in bits 11-13), and the abridged tag word of FXSAVE: bit n set = physical register n valid. */
    int fcw = 0x37f;
    int fsw;
    int ftw;
    int fop;
    long fip;
    long fdp;
    /**
     * The eight physical x87 registers as 80-bit values: mantissa in {@code st[2 * n]}, sign and
     * exponent in the low 16 bits of {@code st[2 * n + 1]}. MMX register n aliases the mantissa of
     * physical register n.
     */
    final long[] st = new long[16];

    static final int MXCSR_MASK = 0xffff;

    void reset() {
        java.util.Arrays.fill(xmm, 0);
        java.util.Arrays.fill(st, 0);
        mxcsr = 0x1f80;
        fcw = 0x37f;
        fsw = 0;
        ftw = 0;
        fop = 0;
        fip = 0;
        fdp = 0;
    }

    /** Writes the 64-bit FXSAVE image (REX.W form: 64-bit FPU IP and DP) into {@code image}. */
    void save(byte[] image) {
        java.util.Arrays.fill(image, 0, 512, (byte) 0);
        putShort(image, 0, fcw);
        putShort(image, 2, fsw);
        image[4] = (byte) ftw;
        putShort(image, 6, fop);
        putLong(image, 8, fip);
        putLong(image, 16, fdp);
        putInt(image, 24, mxcsr);
        putInt(image, 28, MXCSR_MASK);
        for (int n = 0; n < 8; n++) {
            putLong(image, 32 + 16 * n, st[2 * n]);
            putShort(image, 40 + 16 * n, (int) st[2 * n + 1]);
        }
        for (int n = 0; n < 16; n++) {
            putLong(image, 160 + 16 * n, xmm[2 * n]);
            putLong(image, 168 + 16 * n, xmm[2 * n + 1]);
        }
    }

    /**
     * Loads an FXSAVE image. The caller checks MXCSR's reserved bits first (FXRSTOR raises
     * #GP for them); this copies.
     */
    void load(byte[] image) {
        fcw = getShort(image, 0);
        fsw = getShort(image, 2);
        ftw = image[4] & 0xff;
        fop = getShort(image, 6);
        fip = getLong(image, 8);
        fdp = getLong(image, 16);
        mxcsr = getInt(image, 24);
        for (int n = 0; n < 8; n++) {
            st[2 * n] = getLong(image, 32 + 16 * n);
            st[2 * n + 1] = getShort(image, 40 + 16 * n);
        }
        for (int n = 0; n < 16; n++) {
            xmm[2 * n] = getLong(image, 160 + 16 * n);
            xmm[2 * n + 1] = getLong(image, 168 + 16 * n);
        }
    }

    static int mxcsrFromImage(byte[] image) {
        return getInt(image, 24);
    }

    private static void putShort(byte[] b, int o, int v) {
        b[o] = (byte) v;
        b[o + 1] = (byte) (v >>> 8);
    }

    private static void putInt(byte[] b, int o, int v) {
        putShort(b, o, v);
        putShort(b, o + 2, v >>> 16);
    }

    private static void putLong(byte[] b, int o, long v) {
        putInt(b, o, (int) v);
        putInt(b, o + 4, (int) (v >>> 32));
    }

    private static int getShort(byte[] b, int o) {
        return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8;
    }

    private static int getInt(byte[] b, int o) {
        return getShort(b, o) | getShort(b, o + 2) << 16;
    }

    private static long getLong(byte[] b, int o) {
        return (getInt(b, o) & 0xffffffffL) | ((long) getInt(b, o + 4) << 32);
    }
}
