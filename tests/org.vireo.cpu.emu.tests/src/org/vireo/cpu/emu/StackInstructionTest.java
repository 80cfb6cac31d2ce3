package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * PUSH, POP, PUSHF, POPF, ENTER and LEAVE with exact stack contents (SDM vol. 2 "PUSH",
 * "POP", "ENTER"): the cases the native oracle cannot check because they push pointers or
 * run at CPL 0.
 */
class StackInstructionTest {

    private static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5;
    private static final int CF = Flags.CF, DF = Flags.DF;

    private static CpuHarness harness(int... code) {
        int[] withHlt = java.util.Arrays.copyOf(code, code.length + 1);
        withHlt[code.length] = 0xf4;
        return new CpuHarness().code(withHlt);
    }

    private static void runToHlt(CpuHarness h) {
        assertEquals(Executor.Stop.HALTED, h.run());
        assertEquals(-1, h.exceptionTaken(), "no exception");
    }

    @Test
    void pushAndPopMoveRspByTheOperandSize() {
        // push rax; push -1 (imm8, sign-extended to 64 bits); push ax; pop cx; pop rdx; pop rbx
        CpuHarness h = harness(0x50, 0x6a, 0xff, 0x66, 0x50, 0x66, 0x59, 0x5a, 0x5b);
        h.cpu.r[RAX] = 0x1122_3344_5566_7788L;
        h.cpu.r[RCX] = 0xaaaa_aaaa_aaaa_aaaaL;
        runToHlt(h);
        assertEquals(0xaaaa_aaaa_aaaa_7788L, h.cpu.r[RCX], "POP r16 replaces the low 16 bits only");
        assertEquals(-1, h.cpu.r[RDX]);
        assertEquals(0x1122_3344_5566_7788L, h.cpu.r[RBX]);
        assertEquals(CpuHarness.STACK, h.cpu.r[RSP]);
        assertEquals(0x1122_3344_5566_7788L, h.memory.readLong(CpuHarness.STACK - 8));
        assertEquals(0x7788, h.memory.readShort(CpuHarness.STACK - 18) & 0xffff);
    }

    @Test
    void popToMemoryUsesTheIncrementedRsp() {
        // pop qword [rsp]: the address is computed after RSP moves (SDM "POP").
        CpuHarness h = harness(0x8f, 0x04, 0x24);
        h.cpu.r[RSP] = CpuHarness.STACK - 16;
        h.memory.writeLong(CpuHarness.STACK - 16, 0x55);
        runToHlt(h);
        assertEquals(CpuHarness.STACK - 8, h.cpu.r[RSP]);
        assertEquals(0x55, h.memory.readLong(CpuHarness.STACK - 8));
    }

    @Test
    void pushfAndPopfRoundTripTheFlags() {
        // stc; std; pushfq; pop rax; push 0x8d5 (imm32); popfq; pushfq; pop rbx
        CpuHarness h = harness(0xf9, 0xfd, 0x9c, 0x58, 0x68, 0xd5, 0x08, 0x00, 0x00, 0x9d, 0x9c, 0x5b);
        runToHlt(h);
        assertEquals(2 | CF | DF, h.cpu.r[RAX], "PUSHF: reserved bit 1 set, RF and VM clear");
        assertEquals(2 | 0x8d5, h.cpu.r[RBX], "POPF cleared DF and set all six arithmetic flags");
        assertEquals(0, h.cpu.rflags() & DF);
        assertEquals(CpuHarness.STACK, h.cpu.r[RSP]);
    }

    @Test
    void enterWithoutNestingBuildsAFrame() {
        // enter 0x10, 0
        CpuHarness h = harness(0xc8, 0x10, 0x00, 0x00);
        long s = CpuHarness.STACK;
        h.cpu.r[RBP] = 0x1234;
        runToHlt(h);
        assertEquals(0x1234, h.memory.readLong(s - 8), "old RBP pushed");
        assertEquals(s - 8, h.cpu.r[RBP]);
        assertEquals(s - 8 - 0x10, h.cpu.r[RSP]);
    }

    @Test
    void enterWithNestingCopiesTheOuterFramePointers() {
        // enter 8, 2: push RBP, push [RBP-8] (the outer display), push the new frame pointer.
        CpuHarness h = harness(0xc8, 0x08, 0x00, 0x02);
        long s = CpuHarness.STACK;
        long outer = CpuHarness.DATA + 0x100;
        h.cpu.r[RBP] = outer;
        h.memory.writeLong(outer - 8, 0xfeed);
        runToHlt(h);
        assertEquals(outer, h.memory.readLong(s - 8));
        assertEquals(0xfeed, h.memory.readLong(s - 16));
        assertEquals(s - 8, h.memory.readLong(s - 24), "the new frame pointer, last of the display");
        assertEquals(s - 8, h.cpu.r[RBP]);
        assertEquals(s - 32, h.cpu.r[RSP]);
    }

    @Test
    void leaveUndoesEnter() {
        // enter 0x20, 0; leave
        CpuHarness h = harness(0xc8, 0x20, 0x00, 0x00, 0xc9);
        h.cpu.r[RBP] = 0x4242;
        runToHlt(h);
        assertEquals(0x4242, h.cpu.r[RBP]);
        assertEquals(CpuHarness.STACK, h.cpu.r[RSP]);
    }
}
