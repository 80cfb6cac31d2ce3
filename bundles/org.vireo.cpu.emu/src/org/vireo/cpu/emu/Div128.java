package org.vireo.cpu.emu;

/**
 * 128-by-64-bit division for DIV and IDIV with a 64-bit operand, in plain long arithmetic:
 * the normalized long division of Knuth (TAOCP vol. 2, algorithm D) on 32-bit digits, as
 * Hacker's Delight §9.4 describes it. Bignum code (RSA signature checks in the kernel) runs
 * this in its inner loop, so it must not allocate.
 */
final class Div128 {

    private static final long DIGIT = 1L << 32;
    private static final long MASK = DIGIT - 1;

    private Div128() {
    }

    /**
     * Divides the unsigned 128-bit {@code hi:lo} by {@code d}. The caller guarantees
     * {@code hi <u d} (so the quotient fits in 64 bits and {@code d != 0}).
     *
     * @param remainder receives the remainder in element 0
     * @return the quotient
     */
    static long divideUnsigned(long hi, long lo, long d, long[] remainder) {
        int s = Long.numberOfLeadingZeros(d);
        d <<= s;
        long un32 = s == 0 ? hi : (hi << s) | (lo >>> (64 - s));
        long un10 = lo << s;
        long dh = d >>> 32;
        long dl = d & MASK;
        long un1 = un10 >>> 32;
        long un0 = un10 & MASK;

        long q1 = Long.divideUnsigned(un32, dh);
        long rhat = un32 - q1 * dh;
        while (Long.compareUnsigned(q1, MASK) > 0
                || Long.compareUnsigned(q1 * dl, (rhat << 32) | un1) > 0) {
            q1--;
            rhat += dh;
            if (Long.compareUnsigned(rhat, MASK) > 0) {
                break;
            }
        }
        long un21 = ((un32 << 32) | un1) - q1 * d;

        long q0 = Long.divideUnsigned(un21, dh);
        rhat = un21 - q0 * dh;
        while (Long.compareUnsigned(q0, MASK) > 0
                || Long.compareUnsigned(q0 * dl, (rhat << 32) | un0) > 0) {
            q0--;
            rhat += dh;
            if (Long.compareUnsigned(rhat, MASK) > 0) {
                break;
            }
        }
        remainder[0] = (((un21 << 32) | un0) - q0 * d) >>> s;
        return (q1 << 32) | q0;
    }

    /**
     * Divides the signed 128-bit {@code hi:lo} by the signed {@code d} (truncating, as IDIV).
     *
     * @param remainder receives the remainder (with the dividend's sign) in element 0
     * @return the quotient
     * @throws ArithmeticException if {@code d} is 0 or the quotient does not fit in 64 signed bits
     */
    static long divideSigned(long hi, long lo, long d, long[] remainder) {
        if (d == 0) {
            throw new ArithmeticException("divide by zero");
        }
        boolean negativeDividend = hi < 0;
        if (negativeDividend) {
            // Two's complement negation of the 128-bit value.
            lo = -lo;
            hi = lo == 0 ? -hi : ~hi;
        }
        long ad = d < 0 ? -d : d;
        if (Long.compareUnsigned(hi, ad) >= 0) {
            throw new ArithmeticException("quotient overflow");
        }
        long q = divideUnsigned(hi, lo, ad, remainder);
        boolean negativeQuotient = negativeDividend != (d < 0);
        if (negativeQuotient ? Long.compareUnsigned(q, Long.MIN_VALUE) > 0 : q < 0) {
            throw new ArithmeticException("quotient overflow");
        }
        if (negativeDividend) {
            remainder[0] = -remainder[0];
        }
        return negativeQuotient ? -q : q;
    }
}
