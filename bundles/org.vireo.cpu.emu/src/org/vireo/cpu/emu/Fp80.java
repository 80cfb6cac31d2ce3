package org.vireo.cpu.emu;

/**
 * The x87 80-bit double extended format (Intel SDM vol. 1 §4.2.2, §4.8): a 64-bit significand
 * with an explicit integer bit and a 16-bit sign and exponent (bias 16383). Exact conversions
 * to and from IEEE single and double, rounded as the FPU's rounding control says, and the
 * integer rounding behind FIST and FRNDINT. All static and allocation-free.
 */
final class Fp80 {

    /** Rounding control values, shared by FCW.RC and MXCSR.RC (SDM vol. 1 table 4-8). */
    static final int RC_NEAREST = 0, RC_DOWN = 1, RC_UP = 2, RC_ZERO = 3;

    static final int BIAS = 16383;
    static final long INTEGER_BIT = 1L << 63;
    /** The QNaN floating-point indefinite: negative, quiet, zero payload (SDM vol. 1 §4.8.3.7). */
    static final long INDEFINITE_MANT = 0xc000000000000000L;
    static final int INDEFINITE_SE = 0xffff;

    private Fp80() {
    }

    static boolean sign(int se) {
        return (se & 0x8000) != 0;
    }

    static int exponent(int se) {
        return se & 0x7fff;
    }

    static boolean isNaN(long mant, int se) {
        return (se & 0x7fff) == 0x7fff && (mant << 1) != 0;
    }

    static boolean isSignalingNaN(long mant, int se) {
        return isNaN(mant, se) && (mant & (1L << 62)) == 0;
    }

    static boolean isInfinite(long mant, int se) {
        return (se & 0x7fff) == 0x7fff && (mant << 1) == 0;
    }

    static boolean isZero(long mant, int se) {
        return (se & 0x7fff) == 0 && mant == 0;
    }

    /** The significand of {@code d} in 80-bit form: exact, since double's 53 bits fit in 64. */
    static long mantissa(double d) {
        return mantissaOfDouble(Double.doubleToRawLongBits(d));
    }

    /** As {@link #mantissa(double)}, from the IEEE bits (so that a signaling NaN stays one). */
    static long mantissaOfDouble(long bits) {
        int e = (int) (bits >>> 52) & 0x7ff;
        long f = bits & ((1L << 52) - 1);
        if (e == 0x7ff) {
            return INTEGER_BIT | (f << 11);
        }
        if (e == 0) {
            return f == 0 ? 0 : f << Long.numberOfLeadingZeros(f);
        }
        return INTEGER_BIT | (f << 11);
    }

    /** The sign and biased exponent of {@code d} in 80-bit form (a double denormal becomes a normal). */
    static int signExp(double d) {
        return signExpOfDouble(Double.doubleToRawLongBits(d));
    }

    static int signExpOfDouble(long bits) {
        int sign = (int) (bits >>> 48) & 0x8000;
        int e = (int) (bits >>> 52) & 0x7ff;
        long f = bits & ((1L << 52) - 1);
        if (e == 0x7ff) {
            return sign | 0x7fff;
        }
        if (e == 0) {
            // f * 2^-1074 with the leading one moved to bit 63: 1.x * 2^(-1011 - nlz).
            return f == 0 ? sign : sign | (BIAS - 1011 - Long.numberOfLeadingZeros(f));
        }
        return sign | (e - 1023 + BIAS);
    }

    /** The value as a double, rounded to nearest: the precision the x87 computes with here. */
    static double toDouble(long mant, int se) {
        return Double.longBitsToDouble(round(mant, se, RC_NEAREST, false));
    }

    /**
     * Rounds an 80-bit value to IEEE single ({@code single}) or double, as FST m32/m64 does:
     * in one step from the 64-bit significand, so that no double rounding occurs. Returns the
     * IEEE bits (a single in the low 32). NaNs keep the top of their payload and are quieted.
     */
    static long round(long mant, int se, int rc, boolean single) {
        int p = single ? 24 : 53;
        int emin = single ? -126 : -1022;
        int emax = single ? 127 : 1023;
        int fracBits = p - 1;
        long sign = sign(se) ? (single ? 1L << 31 : 1L << 63) : 0;
        long expAll = (single ? 0xffL : 0x7ffL) << fracBits;
        int exp = exponent(se);
        if (exp == 0x7fff) {
            if ((mant << 1) == 0) {
                return sign | expAll;
            }
            long payload = (mant << 1) >>> (64 - fracBits); // drop the integer bit
            return sign | expAll | payload | (1L << (fracBits - 1));
        }
        if (mant == 0) {
            return sign;
        }
        // value = mant * 2^(e - 63); denormals (exp 0) have e = 1 - bias.
        int e = (exp == 0 ? 1 : exp) - BIAS;
        int n = Long.numberOfLeadingZeros(mant);
        mant <<= n;
        e -= n;
        int shift = 64 - p;
        boolean normal = e >= emin;
        if (!normal) {
            shift += emin - e;
        }
        long q = roundShift(mant, shift, rc, sign != 0);
        if (normal) {
            if (q == 1L << p) {
                q >>>= 1;
                e++;
            }
            if (e > emax) {
                return overflow(sign, rc, expAll, fracBits);
            }
            return sign | ((long) (e + emax) << fracBits) | (q & ((1L << fracBits) - 1));
        }
        // A subnormal, or the smallest normal when rounding carried into the exponent field.
        return sign | q;
    }

    private static long overflow(long sign, int rc, long expAll, int fracBits) {
        boolean toInfinity = rc == RC_NEAREST || (rc == RC_UP && sign == 0) || (rc == RC_DOWN && sign != 0);
        return toInfinity ? sign | expAll : sign | (expAll - (1L << fracBits)) | ((1L << fracBits) - 1);
    }

    /**
     * {@code mant >>> shift} (shift >= 1) rounded as {@code rc} says, for a value of sign
     * {@code negative}; the result may carry into one more bit.
     */
    static long roundShift(long mant, int shift, int rc, boolean negative) {
        long q;
        long rem;
        if (shift < 64) {
            q = mant >>> shift;
            rem = mant << (64 - shift);
        } else if (shift == 64) {
            q = 0;
            rem = mant;
        } else {
            q = 0;
            rem = mant != 0 ? 1 : 0; // below one half: only stickiness matters
        }
        if (rem == 0) {
            return q;
        }
        boolean inc = switch (rc) {
            case RC_NEAREST -> Long.compareUnsigned(rem, INTEGER_BIT) > 0 || (rem == INTEGER_BIT && (q & 1) != 0);
            case RC_DOWN -> negative;
            case RC_UP -> !negative;
            default -> false;
        };
        return inc ? q + 1 : q;
    }

    /**
     * The magnitude of the 80-bit value rounded to an integer, as an unsigned long; -1 (the
     * largest unsigned value, beyond every integer format) for NaN, infinity, and values of
     * 2^64 and more. The caller checks the range of its format.
     */
    static long integerMagnitude(long mant, int se, int rc) {
        int exp = exponent(se);
        if (exp == 0x7fff) {
            return -1;
        }
        if (mant == 0) {
            return 0;
        }
        int e = (exp == 0 ? 1 : exp) - BIAS;
        if (e >= 64) {
            return -1;
        }
        if (e >= 63) {
            return mant;
        }
        return roundShift(mant, 63 - e, rc, sign(se));
    }

    /** Significand of an integer magnitude (unsigned) in 80-bit form; pair with {@link #signExpOfInteger}. */
    static long mantissaOfInteger(long magnitude) {
        return magnitude == 0 ? 0 : magnitude << Long.numberOfLeadingZeros(magnitude);
    }

    static int signExpOfInteger(long magnitude, boolean negative) {
        int sign = negative ? 0x8000 : 0;
        return magnitude == 0 ? sign : sign | (BIAS + 63 - Long.numberOfLeadingZeros(magnitude));
    }

    /** An IEEE single as an 80-bit significand (exact); NaNs keep their payload and quiet bit. */
    static long mantissaOfFloat(int bits) {
        if ((bits & 0x7f800000) == 0x7f800000 && (bits & 0x7fffff) != 0) {
            return INTEGER_BIT | ((long) (bits & 0x7fffff) << 40);
        }
        return mantissa(Float.intBitsToFloat(bits));
    }

    static int signExpOfFloat(int bits) {
        if ((bits & 0x7f800000) == 0x7f800000) {
            return ((bits >>> 16) & 0x8000) | 0x7fff;
        }
        return signExp(Float.intBitsToFloat(bits));
    }
}
