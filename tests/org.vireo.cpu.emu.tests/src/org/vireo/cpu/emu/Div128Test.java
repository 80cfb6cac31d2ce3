package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigInteger;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** The 128-bit division behind DIV/IDIV r/m64, checked against BigInteger on random and edge operands. */
class Div128Test {

    private static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);

    private static BigInteger unsigned(long v) {
        return v < 0 ? BigInteger.valueOf(v).add(TWO_64) : BigInteger.valueOf(v);
    }

    @Test
    void unsignedMatchesBigInteger() {
        Random r = new Random(42);
        long[] rem = new long[1];
        long[] edges = {1, 2, 3, 0xffffffffL, 0x100000000L, Long.MAX_VALUE, Long.MIN_VALUE, -1L, -2L};
        for (int k = 0; k < 200_000; k++) {
            long d = k < 81 ? edges[k % 9] : r.nextInt(4) == 0 ? r.nextLong() >>> r.nextInt(64) : r.nextLong();
            if (d == 0) {
                continue;
            }
            // Keep the quotient within 64 bits: hi below d.
            long hi = Long.remainderUnsigned(k < 81 ? edges[k / 9] : r.nextLong(), d);
            long lo = r.nextLong();
            BigInteger n = unsigned(hi).shiftLeft(64).or(unsigned(lo));
            BigInteger[] qr = n.divideAndRemainder(unsigned(d));
            long q = Div128.divideUnsigned(hi, lo, d, rem);
            assertEquals(qr[0].longValue(), q, Long.toHexString(hi) + ":" + Long.toHexString(lo) + " / " + d);
            assertEquals(qr[1].longValue(), rem[0]);
        }
    }

    @Test
    void signedMatchesBigIntegerAndOverflows() {
        Random r = new Random(7);
        long[] rem = new long[1];
        for (int k = 0; k < 200_000; k++) {
            long d = r.nextBoolean() ? r.nextLong() : r.nextLong() >> r.nextInt(63);
            if (d == 0) {
                continue;
            }
            long lo = r.nextLong();
            long hi = r.nextInt(3) == 0 ? lo >> 63 : r.nextLong() >> r.nextInt(64);
            BigInteger n = BigInteger.valueOf(hi).shiftLeft(64).or(unsigned(lo));
            BigInteger[] qr = n.divideAndRemainder(BigInteger.valueOf(d));
            boolean fits = qr[0].bitLength() <= 63;
            if (fits) {
                assertEquals(qr[0].longValue(), Div128.divideSigned(hi, lo, d, rem));
                assertEquals(qr[1].longValue(), rem[0]);
            } else {
                long h = hi;
                long l = lo;
                long dd = d;
                assertThrows(ArithmeticException.class, () -> Div128.divideSigned(h, l, dd, new long[1]));
            }
        }
        assertEquals(Long.MIN_VALUE, Div128.divideSigned(-1, Long.MIN_VALUE, 1, rem), "-2^63 / 1 fits");
        assertThrows(ArithmeticException.class, () -> Div128.divideSigned(0, Long.MIN_VALUE, 1, new long[1]));
        assertThrows(ArithmeticException.class, () -> Div128.divideSigned(-1, Long.MIN_VALUE, -1, new long[1]));
    }
}
