package org.vireo.cpu.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.junit.jupiter.api.Test;
import org.vireo.api.VireoException;
import org.vireo.api.bus.IoHandler;
import org.vireo.api.cpu.Segment;
import org.vireo.api.cpu.Vcpu;
import org.vireo.api.cpu.VcpuException;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.x86.boot.LongModeSetup;
import org.vireo.x86.boot.LowMemory;

/**
 * The KVM backend with small guests written here as machine code, entered in 64-bit mode
 * through the loader's identity page tables and GDT. Each test skips where /dev/kvm is
 * missing or unusable.
 */
class KvmVcpuTest {

    private static final long CODE = 0x100000;

    /**
     * <pre>
     *  0: mov dx, 0x500 ; mov al, 'A' ; out dx, al          port I/O exit, 1 byte out
     *  7: movabs rbx, 0xd0000000 ; mov rax, [rbx]            MMIO read, 8 bytes
     * 14: add rax, 1 ; mov [rbx+8], rax                      MMIO write, 8 bytes
     * 1c: lea rsi, [rip+msg] ; mov ecx, 5 ; mov dx, 0x501
     * 2c: rep outsb                                          string I/O: one exit, count 5
     * 2e: in al, dx                                          port I/O in
     * 2f: mov dx, 0x502 ; out dx, al
     * 34: movabs rcx, 0x1234567890 ; nop (5 bytes)         state read back after the run
     * 43: mov dx, 0x503 ; out dx, eax                        "done"
     * 48: jmp $
     * 4a: msg "hello"
     * </pre>
     */
    private static final byte[] IO_GUEST = bytes("66 ba 00 05 b0 41 ee 48 bb 00 00 00 d0 00 00 00 00 48 8b 03 48 83 c0 01"
            + " 48 89 43 08 48 8d 35 27 00 00 00 b9 05 00 00 00 66 ba 01 05 f3 6e ec 66 ba 02 05 ee 48 b9 90 78"
            + " 56 34 12 00 00 00 0f 1f 44 00 00 66 ba 03 05 ef eb fe 68 65 6c 6c 6f");

    /** {@code jmp $}: a guest that never exits by itself. */
    private static final byte[] SPIN = bytes("eb fe");

    /** {@code lidt [rip+zero] ; ud2 ; zero: dw 0, dq 0}: an empty IDT, then an exception: triple fault. */
    private static final byte[] TRIPLE_FAULT = bytes("0f 01 1d 02 00 00 00 0f 0b 00 00 00 00 00 00 00 00 00 00");

    /** {@code movabs rax, 0xd0000000 ; jmp rax}: instructions fetched from MMIO, which KVM cannot run. */
    private static final byte[] JUMP_TO_MMIO = bytes("48 b8 00 00 00 d0 00 00 00 00 ff e0");

    @Test
    void portIoAndMmioExitsReachTheMachinesBuses() throws Exception {
        try (KvmMachine m = new KvmMachine(64L << 20, 1)) {
            List<String> io = new ArrayList<>();
            m.pio.register(0x500, 4, "test-ports", new IoHandler() {
                @Override
                public long read(long offset, int size) {
                    io.add("in " + offset + "/" + size);
                    return 0x5a;
                }

                @Override
                public void write(long offset, int size, long value) {
                    io.add(String.format("out %d/%d %x", offset, size, value));
                    if (offset == 3) {
                        m.requestStop(org.vireo.api.Machine.StopReason.POWER_OFF, "guest done");
                    }
                }
            });
            m.mmio.register(0xd0000000L, 0x1000, "test-mmio", new IoHandler() {
                @Override
                public long read(long offset, int size) {
                    io.add("mmio read " + offset + "/" + size);
                    return 0x1122334455667788L;
                }

                @Override
                public void write(long offset, int size, long value) {
                    io.add(String.format("mmio write %d/%d %x", offset, size, value));
                }
            });
            KvmVcpu vcpu = boot(m, IO_GUEST);
            Vcpu.Exit exit = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> vcpu.run());
            assertEquals(Vcpu.Exit.KICKED, exit);
            assertEquals(List.of("out 0/1 41", "mmio read 0/8", "mmio write 8/8 1122334455667789",
                    "out 1/1 68", "out 1/1 65", "out 1/1 6c", "out 1/1 6c", "out 1/1 6f",
                    "in 1/1", "out 2/1 5a", "out 3/4 5566775a"), io);
            X86CpuState s = vcpu.getState();
            assertEquals(0x112233445566775aL, s.gpr[X86CpuState.RAX], "the MMIO value + 1 with AL from the IN");
            assertEquals(0x1234567890L, s.gpr[X86CpuState.RCX]);
            assertEquals(CODE + 0x48, s.rip);
        }
    }

    @Test
    void kickGetsAVcpuOutOfTheGuestAndItResumes() throws Exception {
        try (KvmMachine m = new KvmMachine(64L << 20, 1)) {
            KvmVcpu vcpu = boot(m, SPIN);
            for (int round = 0; round < 3; round++) {
                CountDownLatch started = new CountDownLatch(1);
                Thread kicker = new Thread(() -> {
                    try {
                        started.await();
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                    vcpu.kick();
                });
                kicker.start();
                started.countDown();
                Vcpu.Exit exit = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> vcpu.run());
                assertEquals(Vcpu.Exit.KICKED, exit);
                kicker.join();
                assertEquals(CODE, vcpu.getState().rip, "still spinning at its jmp");
            }
            assertTrue(vcpu.exits.get(KvmAbi.KVM_EXIT_INTR) >= 1, "KVM_RUN was interrupted by the kick signal");
        }
    }

    @Test
    void aKickBeforeRunMakesTheNextRunReturnAtOnce() throws Exception {
        try (KvmMachine m = new KvmMachine(64L << 20, 1)) {
            KvmVcpu vcpu = boot(m, SPIN);
            vcpu.kick();
            assertEquals(Vcpu.Exit.KICKED, assertTimeoutPreemptively(Duration.ofSeconds(30), () -> vcpu.run()));
        }
    }

    @Test
    void aTripleFaultEndsTheRunWithShutdown() throws Exception {
        try (KvmMachine m = new KvmMachine(64L << 20, 1)) {
            KvmVcpu vcpu = boot(m, TRIPLE_FAULT);
            assertEquals(Vcpu.Exit.SHUTDOWN, assertTimeoutPreemptively(Duration.ofSeconds(30), () -> vcpu.run()));
        }
    }

    @Test
    void stateWrittenIsStateRead() throws Exception {
        try (KvmMachine m = new KvmMachine(64L << 20, 1)) {
            KvmVcpu vcpu = m.vcpu(0);
            LongModeSetup.write(m.memory);
            X86CpuState s = LongModeSetup.bootCpuState(CODE, LowMemory.ZERO_PAGE);
            for (int i = 0; i < 16; i++) {
                s.gpr[i] = 0x1111_0000_0000_0000L * (i + 1) + i;
            }
            s.rflags = 0x2 | 0x1 | 0x40 | 0x800; // CF, ZF, OF
            s.fs = new Segment(0, 0x7f00_1234_5000L, 0xffffffff, s.fs.attributes());
            s.gs = new Segment(0, 0xffff_8880_0000_0000L, 0xffffffff, s.gs.attributes());
            s.cr2 = 0xdead_b000L;
            s.msrs.put(X86CpuState.MSR_LSTAR, 0xffff_ffff_8100_0000L);
            s.msrs.put(X86CpuState.MSR_STAR, 0x0023_0010_0000_0000L);
            s.msrs.put(X86CpuState.MSR_KERNEL_GS_BASE, 0x1234_5000L);
            for (int b = 0; b < 16; b++) {
                s.fxsave[160 + b] = (byte) (0xa0 + b); // XMM0
                s.fxsave[160 + 15 * 16 + b] = (byte) (0x50 + b); // XMM15
            }
            s.dr[0] = 0x400000;
            vcpu.setState(s);
            X86CpuState r = vcpu.getState();
            assertArrayEquals(s.gpr, r.gpr);
            assertEquals(s.rip, r.rip);
            assertEquals(s.rflags, r.rflags);
            assertEquals(s.cs.selector(), r.cs.selector());
            assertTrue(r.cs.longMode());
            assertEquals(s.fs.base(), r.fs.base());
            assertEquals(s.gs.base(), r.gs.base());
            assertEquals(s.tr.base(), r.tr.base());
            assertEquals(s.gdtBase, r.gdtBase);
            assertEquals(s.gdtLimit, r.gdtLimit);
            assertEquals(s.cr0, r.cr0);
            assertEquals(s.cr2, r.cr2);
            assertEquals(s.cr3, r.cr3);
            assertEquals(s.cr4, r.cr4);
            assertEquals(s.efer, r.efer);
            assertEquals(s.msrs.get(X86CpuState.MSR_LSTAR), r.msrs.get(X86CpuState.MSR_LSTAR));
            assertEquals(s.msrs.get(X86CpuState.MSR_STAR), r.msrs.get(X86CpuState.MSR_STAR));
            assertEquals(s.msrs.get(X86CpuState.MSR_KERNEL_GS_BASE), r.msrs.get(X86CpuState.MSR_KERNEL_GS_BASE));
            assertArrayEquals(java.util.Arrays.copyOfRange(s.fxsave, 160, 416),
                    java.util.Arrays.copyOfRange(r.fxsave, 160, 416), "XMM0-15");
            assertEquals(0x400000, r.dr[0]);
            assertEquals(1024, r.lapic.length, "the LAPIC page comes with the state");
            assertEquals(0, r.lapic[0x20 + 3], "vCPU 0 has APIC id 0");
            assertTrue(r.xsaveExtended.length > 0, "the XSAVE header and extended components come with the state");

            // The state read back goes in again unchanged: the base of snapshots.
            vcpu.setState(r);
            X86CpuState again = vcpu.getState();
            again.msrs.remove(X86CpuState.MSR_TSC);
            r.msrs.remove(X86CpuState.MSR_TSC);
            assertEquals(r, again);
        }
    }

    @Test
    void tooManyVcpusIsAClearError() {
        KvmMachine.assumeKvm();
        int max = new KvmBackend().maxVcpus();
        VireoException e = assertThrows(VireoException.class, () -> new KvmMachine(64L << 20, max + 1).close());
        assertTrue(e.getMessage().contains(max + 1 + " vCPUs asked; the kvm backend runs 1 to " + max), e.getMessage());
    }

    @Test
    void codeKvmCannotRunStopsTheVcpuWithTheExitDataAndRegisters() throws Exception {
        try (KvmMachine m = new KvmMachine(64L << 20, 1)) {
            KvmVcpu vcpu = boot(m, JUMP_TO_MMIO);
            VcpuException e = assertThrows(VcpuException.class,
                    () -> assertTimeoutPreemptively(Duration.ofSeconds(30), () -> vcpu.run()));
            assertTrue(e.getMessage().startsWith("KVM internal error (KVM_EXIT_INTERNAL_ERROR)"), e.getMessage());
            assertNotNull(e.state(), "the error carries the registers");
            assertEquals(0xd0000000L, e.state().rip);
        }
    }

    private static KvmVcpu boot(KvmMachine m, byte[] code) {
        LongModeSetup.write(m.memory);
        m.memory.write(CODE, code, 0, code.length);
        KvmVcpu vcpu = m.vcpu(0);
        X86CpuState s = LongModeSetup.bootCpuState(CODE, LowMemory.ZERO_PAGE);
        s.cr4 |= X86CpuState.CR4_OSFXSR | X86CpuState.CR4_OSXMMEXCPT; // SSE, as Linux enables it
        vcpu.setState(s);
        return vcpu;
    }

    private static byte[] bytes(String hex) {
        return java.util.HexFormat.ofDelimiter(" ").parseHex(hex);
    }
}
