package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Privilege changes, exception and interrupt delivery, and the system instructions a kernel
 * uses, each checked against the frame and state the SDM prescribes (vol. 3 ch. 5-6).
 */
class SystemInstructionTest {

    private static final long RSP = 4, RCX = 1, R11 = 11;

    /** Points gate {@code vector} at {@code handler} with the given type (0xe interrupt, 0xf trap), DPL and IST. */
    private static void gate(CpuHarness h, int vector, long handler, int type, int dpl, int ist) {
        long lo = (handler & 0xffff) | ((long) CpuHarness.KERNEL_CS << 16) | ((long) ist << 32)
                | ((long) (0x80 | dpl << 5 | type) << 40) | (((handler >>> 16) & 0xffff) << 48);
        h.memory.writeLong(CpuHarness.IDT + 16L * vector, lo);
        h.memory.writeLong(CpuHarness.IDT + 16L * vector + 8, handler >>> 32);
    }

    @Test
    void faultPushesTheFaultingRipAndErrorCode() {
        // mov rax, [0x7fff_ffff_f000]: a non-canonical-free but unmapped address -> #PF.
        CpuHarness h = new CpuHarness().code(0x48, 0xa1, 0x00, 0xf0, 0xff, 0xff, 0xff, 0x7f, 0, 0);
        h.run();
        assertEquals(CpuFault.PF, h.exceptionTaken());
        assertEquals(0x7fff_ffff_f000L, h.cpu.cr2);
        long sp = h.cpu.r[4];
        assertEquals(0, h.memory.readLong(sp), "error code: not present, read, supervisor");
        assertEquals(CpuHarness.CODE, h.memory.readLong(sp + 8), "RIP of the faulting instruction");
        assertEquals(CpuHarness.KERNEL_CS, h.memory.readLong(sp + 16));
        assertEquals(CpuHarness.STACK, h.memory.readLong(sp + 32), "old RSP");
        assertEquals(0, h.memory.readLong(sp) & ~0xffffL);
    }

    @Test
    void nonCanonicalAddressIsGeneralProtection() {
        // mov rax, [0x8000_0000_0000]
        CpuHarness h = new CpuHarness().code(0x48, 0xa1, 0, 0, 0, 0, 0, 0x80, 0, 0);
        h.run();
        assertEquals(CpuFault.GP, h.exceptionTaken());
    }

    @Test
    void softwareInterruptPushesTheNextRipAndTrapGateKeepsIf() {
        CpuHarness h = new CpuHarness().code(0xfb, 0xcd, 0x40); // sti; int 0x40
        gate(h, 0x40, CpuHarness.HANDLERS + 0x40, 0xf, 0, 0);
        h.run();
        assertEquals(0x40, h.exceptionTaken());
        long sp = h.cpu.r[4];
        assertEquals(CpuHarness.CODE + 3, h.memory.readLong(sp), "INT n is a trap: the next RIP");
        assertTrue(h.cpu.interruptsEnabled(), "a trap gate leaves IF set");
    }

    @Test
    void interruptGateClearsIf() {
        CpuHarness h = new CpuHarness().code(0xfb, 0xcd, 0x41);
        h.run();
        assertEquals(0x41, h.exceptionTaken());
        assertFalse(h.cpu.interruptsEnabled());
        assertTrue((h.memory.readLong(h.cpu.r[4] + 16) & Flags.IF) != 0, "the pushed RFLAGS has IF");
    }

    @Test
    void userModeRoundTripThroughIretqSyscallAndSysret() {
        // Kernel: push user SS, RSP, RFLAGS, CS, RIP; iretq to user code at CODE + 0x100.
        long user = CpuHarness.CODE + 0x100;
        CpuHarness h = new CpuHarness().code(
                0x6a, CpuHarness.USER_DS,                   // push 0x1b
                0x68, 0x00, 0x00, 0x09, 0x00,               // push 0x90000 (user stack)
                0x68, 0x02, 0x02, 0x00, 0x00,               // push 0x202 (IF)
                0x6a, CpuHarness.USER_CS,                   // push 0x23
                0x68, (int) user & 0xff, (int) (user >> 8) & 0xff, (int) (user >> 16) & 0xff, 0, // push user
                0x48, 0xcf);                                // iretq
        // User: mov eax, 7; syscall; (returns here) mov ebx, eax; hlt is privileged: use ud2 to stop.
        int[] userCode = {0xb8, 7, 0, 0, 0, 0x0f, 0x05, 0x89, 0xc3, 0x0f, 0x0b};
        for (int k = 0; k < userCode.length; k++) {
            h.memory.writeByte(user + k, (byte) userCode[k]);
        }
        // Kernel syscall entry: add eax, 1; sysretq.
        long entry = CpuHarness.CODE + 0x200;
        int[] entryCode = {0x83, 0xc0, 0x01, 0x48, 0x0f, 0x07};
        for (int k = 0; k < entryCode.length; k++) {
            h.memory.writeByte(entry + k, (byte) entryCode[k]);
        }
        h.cpu.msrs.lstar = entry;
        // STAR: kernel CS 0x08 (SS 0x10); user base 0x10 -> SS 0x18|3, CS 0x20|3.
        h.cpu.msrs.star = (0x10L << 48) | (0x08L << 32);
        h.cpu.msrs.sfmask = Flags.IF;
        h.run();
        assertEquals(CpuFault.UD, h.exceptionTaken(), "user code ends in UD2, taken at CPL 0");
        assertEquals(8, h.cpu.r[3], "syscall ran the kernel's add and came back");
        long sp = h.cpu.r[4];
        assertEquals(user + 9, h.memory.readLong(sp), "RIP of the UD2");
        assertEquals(CpuHarness.USER_CS, h.memory.readLong(sp + 8));
        assertEquals(0x90000, h.memory.readLong(sp + 24), "user RSP");
        assertEquals(CpuHarness.USER_DS, h.memory.readLong(sp + 32));
        assertEquals(CpuHarness.STACK, sp + 40, "the handler ran on RSP0 from the TSS");
        assertEquals(0, h.cpu.cpl);
    }

    @Test
    void userCannotExecutePrivilegedInstructionsOrSupervisorGates() {
        CpuHarness h = new CpuHarness();
        h.cpu.cs = Cpu.segmentOf(CpuHarness.USER_CS, h.memory.readLong(CpuHarness.GDT + 0x20));
        h.cpu.cpl = 3;
        h.cpu.r[4] = 0x90000;
        h.code(0xfa); // cli with IOPL 0
        h.run();
        assertEquals(CpuFault.GP, h.exceptionTaken());

        CpuHarness g = new CpuHarness();
        g.cpu.cs = Cpu.segmentOf(CpuHarness.USER_CS, g.memory.readLong(CpuHarness.GDT + 0x20));
        g.cpu.cpl = 3;
        g.cpu.r[4] = 0x90000;
        g.code(0xcd, 0x80); // int 0x80 through a DPL 0 gate
        g.run();
        assertEquals(CpuFault.GP, g.exceptionTaken());
        assertEquals(0x80 * 8 + 2, g.memory.readLong(g.cpu.r[4]), "error code names the IDT entry");
    }

    @Test
    void istStackIsUsedForTheGatesThatAskForIt() {
        CpuHarness h = new CpuHarness().code(0x0f, 0x0b);
        gate(h, CpuFault.UD, CpuHarness.HANDLERS + CpuFault.UD, 0xe, 0, 1);
        h.memory.writeLong(CpuHarness.TSS + 36, 0xa0008L); // IST1, deliberately misaligned
        h.run();
        assertEquals(CpuFault.UD, h.exceptionTaken());
        assertEquals(0xa0000 - 40, h.cpu.r[4], "IST1 aligned down to 16, five quadwords pushed");
    }

    @Test
    void faultDuringDeliveryBecomesDoubleFaultThenTripleFault() {
        CpuHarness h = new CpuHarness().code(0x0f, 0x0b);
        // #UD's gate is not present: #NP while delivering #UD (benign first) -> #NP delivered.
        h.memory.writeLong(CpuHarness.IDT + 16L * CpuFault.UD, 0);
        h.run();
        assertEquals(CpuFault.GP, h.exceptionTaken(), "a non-present, type-0 gate is a #GP");

        CpuHarness d = new CpuHarness().code(0x31, 0xc9, 0xf7, 0xf1); // xor ecx, ecx; div ecx
        d.memory.writeLong(CpuHarness.IDT + 16L * CpuFault.DE, 0);   // #DE gate broken -> #GP (contributory)
        d.run();
        assertEquals(CpuFault.DF, d.exceptionTaken(), "#DE then #GP while delivering it: double fault");

        CpuHarness t = new CpuHarness().code(0x31, 0xc9, 0xf7, 0xf1);
        t.memory.writeLong(CpuHarness.IDT + 16L * CpuFault.DE, 0);
        t.memory.writeLong(CpuHarness.IDT + 16L * CpuFault.DF, 0);
        assertEquals(Executor.Stop.TRIPLE_FAULT, t.run());
    }

    @Test
    void stiShadowDelaysTheInterruptByOneInstruction() {
        // sti; inc eax; hlt -- an interrupt is pending all along.
        CpuHarness h = new CpuHarness().code(0xfb, 0xff, 0xc0, 0xf4);
        h.platform.pending.add(0x30);
        h.cpu.attention = true;
        h.run();
        assertEquals(0x30, h.exceptionTaken());
        assertEquals(1, h.cpu.r[0], "the instruction after STI ran before the interrupt");
        assertEquals(CpuHarness.CODE + 3, h.memory.readLong(h.cpu.r[4]), "interrupted before HLT");
    }

    @Test
    void hltWakesForAnInterrupt() {
        CpuHarness h = new CpuHarness().code(0xfb, 0xf4, 0xf4);
        assertEquals(Executor.Stop.HALTED, h.run());
        assertEquals(CpuHarness.CODE + 2, h.cpu.rip);
        h.platform.pending.add(0x31);
        h.cpu.attention = true;
        h.run();
        assertEquals(0x31, h.exceptionTaken());
        assertEquals(CpuHarness.CODE + 2, h.memory.readLong(h.cpu.r[4]), "returns after the HLT");
    }

    @Test
    void controlRegistersMsrsAndCpuid() {
        CpuHarness h = new CpuHarness().code(
                0xb9, 0x82, 0x00, 0x00, 0xc0,   // mov ecx, 0xc0000082 (LSTAR)
                0xb8, 0x78, 0x56, 0x34, 0x12,   // mov eax, 0x12345678
                0xba, 0xff, 0xff, 0xff, 0xff,   // mov edx, 0xffffffff
                0x0f, 0x30,                     // wrmsr
                0x0f, 0x32,                     // rdmsr
                0x48, 0x89, 0xc6,               // mov rsi, rax
                0x48, 0x89, 0xd7,               // mov rdi, rdx
                0x31, 0xc0,                     // xor eax, eax
                0x0f, 0xa2,                     // cpuid
                0xf4);
        h.run();
        assertEquals(0xffff_ffff_1234_5678L, h.cpu.msrs.lstar);
        assertEquals(0x12345678, h.cpu.r[6]);
        assertEquals(0xffffffffL, h.cpu.r[7]);
        assertEquals(0x756e6547, h.cpu.r[3], "Genu");
        assertEquals(0x49656e69, h.cpu.r[2], "ineI");
        assertEquals(0x6c65746e, h.cpu.r[1], "ntel");

        CpuHarness bad = new CpuHarness().code(0xb9, 0x34, 0x12, 0, 0, 0x0f, 0x32); // rdmsr 0x1234
        bad.run();
        assertEquals(CpuFault.GP, bad.exceptionTaken(), "an MSR this CPU lacks is #GP, as on hardware");
    }

    @Test
    void swapgsExchangesTheGsBases() {
        CpuHarness h = new CpuHarness().code(0x0f, 0x01, 0xf8, 0x65, 0x48, 0x8b, 0x04, 0x25, 0x08, 0, 0, 0, 0xf4);
        h.cpu.gsBase = 0x1111;
        h.cpu.msrs.kernelGsBase = CpuHarness.DATA;
        h.memory.writeLong(CpuHarness.DATA + 8, 0xfeedL);
        h.run();
        assertEquals(CpuHarness.DATA, h.cpu.gsBase);
        assertEquals(0x1111, h.cpu.msrs.kernelGsBase);
        assertEquals(0xfeed, h.cpu.r[0], "mov rax, gs:[8] after swapgs");
    }
}
