package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** FXSAVE/FXRSTOR (SDM vol. 1 §10.5.1): the image layout, the round trip, the checks. */
class FxsaveTest {

    private static final long AREA = CpuHarness.DATA + 0x100;

    @Test
    void roundTripRestoresEveryRegister() {
        CpuHarness h = new CpuHarness();
        h.cpu.r[3] = AREA;
        FpuState f = h.cpu.fpu;
        for (int k = 0; k < 32; k++) {
            f.xmm[k] = 0x0101010101010101L * k;
        }
        f.mxcsr = 0x3f80 | Sse.IE;
        f.fcw = 0x27f;
        f.fsw = 3 << 11;
        f.ftw = 0x38;
        f.st[6] = 0xc000000000000000L;
        f.st[7] = 0x4000;
        h.memory.writeLong(AREA + 464, 0x5a5a5a5a5a5a5a5aL); // software's bytes stay untouched
        SseTest.exec(h, 0x48, 0x0f, 0xae, 0x03); // fxsave64 [rbx]
        assertEquals(-1, h.exceptionTaken());
        assertEquals(0x27f, h.memory.readShort(AREA) & 0xffff);
        assertEquals(3 << 11, h.memory.readShort(AREA + 2) & 0xffff);
        assertEquals(0x38, h.memory.readByte(AREA + 4) & 0xff);
        assertEquals(0x3f81, h.memory.readInt(AREA + 24));
        assertEquals(0xffff, h.memory.readInt(AREA + 28));
        assertEquals(0xc000000000000000L, h.memory.readLong(AREA + 32 + 48));
        assertEquals(0x4000, h.memory.readShort(AREA + 40 + 48));
        assertEquals(0x0f0f0f0f0f0f0f0fL, h.memory.readLong(AREA + 160 + 16 * 7 + 8));
        assertEquals(0x5a5a5a5a5a5a5a5aL, h.memory.readLong(AREA + 464));

        CpuHarness g = new CpuHarness();
        g.cpu.r[3] = AREA;
        for (long k = 0; k < 512; k += 8) {
            g.memory.writeLong(AREA + k, h.memory.readLong(AREA + k));
        }
        SseTest.exec(g, 0x48, 0x0f, 0xae, 0x0b); // fxrstor64 [rbx]
        assertEquals(-1, g.exceptionTaken());
        FpuState r = g.cpu.fpu;
        assertEquals(java.util.Arrays.toString(f.xmm), java.util.Arrays.toString(r.xmm));
        assertEquals(java.util.Arrays.toString(f.st), java.util.Arrays.toString(r.st));
        assertEquals(f.mxcsr, r.mxcsr);
        assertEquals(f.fcw, r.fcw);
        assertEquals(f.fsw, r.fsw);
        assertEquals(f.ftw, r.ftw);
    }

    @Test
    void misalignedAreaRaisesGp() {
        CpuHarness h = new CpuHarness();
        h.cpu.r[3] = AREA + 8;
        SseTest.exec(h, 0x0f, 0xae, 0x03); // fxsave [rbx]
        assertEquals(CpuFault.GP, h.exceptionTaken());
    }

    @Test
    void reservedMxcsrBitsInTheImageRaiseGp() {
        CpuHarness h = new CpuHarness();
        h.cpu.r[3] = AREA;
        h.memory.writeInt(AREA + 24, 0x10000 | 0x1f80);
        h.cpu.fpu.fcw = 0x123;
        SseTest.exec(h, 0x0f, 0xae, 0x0b); // fxrstor [rbx]
        assertEquals(CpuFault.GP, h.exceptionTaken());
        assertEquals(0x123, h.cpu.fpu.fcw); // nothing was loaded
    }

    @Test
    void tsRaisesNm() {
        CpuHarness h = new CpuHarness();
        h.cpu.r[3] = AREA;
        h.cpu.cr0 |= Cpu.CR0_TS;
        SseTest.exec(h, 0x0f, 0xae, 0x03);
        assertEquals(CpuFault.NM, h.exceptionTaken());
    }

    @Test
    void unwritableAreaFaultsBeforeAnyByteIsWritten() {
        CpuHarness h = new CpuHarness();
        // Map the second 2 MiB page read-only, and put the area across the boundary.
        h.memory.writeLong(0x3000 + 8, (1L << 21) | 0x85);
        h.cpu.mmu.flushAll();
        long area = (1L << 21) - 256;
        h.cpu.r[3] = area;
        h.memory.writeLong(area, 0x7777777777777777L);
        SseTest.exec(h, 0x0f, 0xae, 0x03);
        assertEquals(CpuFault.PF, h.exceptionTaken());
        assertEquals(0x7777777777777777L, h.memory.readLong(area));
    }
}
