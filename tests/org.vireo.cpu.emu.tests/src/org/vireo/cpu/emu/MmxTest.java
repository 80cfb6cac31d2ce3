package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** MMX: the registers alias the x87 significands; the x87/MMX transitions (SDM vol. 1 §9.5). */
class MmxTest {

    private static final long DATA = CpuHarness.DATA;

    @Test
    void mmxRegistersAliasTheX87Significands() {
        CpuHarness h = new CpuHarness();
        h.cpu.r[3] = DATA;
        h.memory.writeLong(DATA, 0x0102030405060708L);
        h.cpu.fpu.fsw = 5 << 11; // TOP = 5
        h.cpu.fpu.st[2] = 0x1010101010101010L; // mm1
        SseTest.exec(h,
                0x0f, 0x6f, 0x03,  // movq mm0, [rbx]
                0x0f, 0xfc, 0xc1); // paddb mm0, mm1
        assertEquals(-1, h.exceptionTaken());
        assertEquals(0x1112131415161718L, h.cpu.fpu.st[0]);
        assertEquals(0xffff, h.cpu.fpu.st[1]); // sign and exponent all ones
        assertEquals(0, (h.cpu.fpu.fsw >>> 11) & 7);
        assertEquals(0xff, h.cpu.fpu.ftw);
    }

    @Test
    void emmsEmptiesTheTagsAndX87SeesMmxValues() {
        CpuHarness h = new CpuHarness();
        h.cpu.r[3] = DATA;
        h.cpu.r[0] = 0x8000000000000000L;
        SseTest.exec(h,
                0x48, 0x0f, 0x6e, 0xc0, // movq mm0, rax: TOP = 0, so mm0 is ST(0)
                0xdb, 0x7b, 0x10,       // fstp tbyte [rbx+16]
                0x0f, 0x77);            // emms
        assertEquals(-1, h.exceptionTaken());
        assertEquals(0, h.cpu.fpu.ftw);
        // The x87 sees the MMX value with the all-ones sign and exponent: -infinity.
        assertEquals(0x8000000000000000L, h.memory.readLong(DATA + 16));
        assertEquals(0xffff, h.memory.readShort(DATA + 24) & 0xffff);
    }

    @Test
    void integerOperationsOnMmxRegisters() {
        CpuHarness h = new CpuHarness();
        h.cpu.r[3] = DATA;
        h.memory.writeLong(DATA, 0xaabbccdd_11223344L);
        h.cpu.fpu.st[0] = 0x8000_7fff_0001_ff00L;   // mm0
        h.cpu.fpu.st[2] = 0x0123_4567_89ab_cdefL;   // mm1
        h.cpu.fpu.st[4] = 0x00000000_55667788L;     // mm2
        SseTest.exec(h,
                0x0f, 0xd7, 0xc0,        // pmovmskb eax, mm0
                0x0f, 0x60, 0x13,        // punpcklbw mm2, dword [rbx]
                0x0f, 0x70, 0xe9, 0x1b,  // pshufw mm5, mm1, 0x1b
                0x0f, 0x73, 0xd1, 0x04,  // psrlq mm1, 4
                0xf3, 0x0f, 0xd6, 0xc1); // movq2dq xmm0, mm1
        assertEquals(0b10010010, h.cpu.r[0]);
        assertEquals(0x1155226633774488L, h.cpu.fpu.st[4]);
        assertEquals(0xcdef_89ab_4567_0123L, h.cpu.fpu.st[10]);
        assertEquals(0x00123456789abcdeL, h.cpu.fpu.st[2]);
        assertEquals(0x00123456789abcdeL, h.cpu.fpu.xmm[0]);
        assertEquals(0, h.cpu.fpu.xmm[1]);
    }

    @Test
    void mmxRaisesUdWithEmAndMfWithAPendingX87Exception() {
        CpuHarness h = new CpuHarness();
        h.cpu.cr0 |= Cpu.CR0_EM;
        SseTest.exec(h, 0x0f, 0xef, 0xc0); // pxor mm0, mm0
        assertEquals(CpuFault.UD, h.exceptionTaken());

        h = new CpuHarness();
        h.cpu.fpu.fsw = X87.ZE | X87.ES;
        SseTest.exec(h, 0x0f, 0xef, 0xc0);
        assertEquals(CpuFault.MF, h.exceptionTaken());
    }
}
