package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SmokeTest {

    @Test
    void addsAndHalts() {
        CpuHarness h = new CpuHarness().code(
                0x48, 0xc7, 0xc0, 0x05, 0x00, 0x00, 0x00, // mov rax, 5
                0x48, 0x83, 0xc0, 0x07,                   // add rax, 7
                0xf4);                                    // hlt
        assertEquals(Executor.Stop.HALTED, h.run());
        assertEquals(12, h.cpu.r[0]);
        assertEquals(-1, h.exceptionTaken());
    }

    @Test
    void undefinedOpcodeRaisesUd() {
        CpuHarness h = new CpuHarness().code(0x0f, 0x0b);
        h.run();
        assertEquals(CpuFault.UD, h.exceptionTaken());
        // The pushed RIP is the faulting instruction.
        assertEquals(CpuHarness.CODE, h.memory.readLong(CpuHarness.STACK - 40));
    }
}
