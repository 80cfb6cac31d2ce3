package org.vireo.cpu.emu;

import java.util.ArrayDeque;
import java.util.Deque;

import org.vireo.api.bus.IoBus;
import org.vireo.api.cpu.Segment;
import org.vireo.core.bus.AddressSpace;
import org.vireo.core.memory.MappedGuestMemory;

/**
 * A CPU in 64-bit mode over 16 MiB of flat RAM, for instruction tests: identity-mapped with
 * 2 MiB pages, a GDT with kernel and user code/data segments, a TSS, and an IDT whose every
 * vector points at its own HLT, so a test can tell which exception was taken.
 *
 * <pre>
 *   0x1000  PML4, 0x2000 PDPT, 0x3000 page directory (8 x 2 MiB)
 *   0x4000  GDT: 0 null, 0x08 kernel code, 0x10 kernel data, 0x18 user data, 0x20 user code, 0x28 TSS
 *   0x5000  IDT (256 gates), 0x6000 TSS, 0x7000 handlers: vector v at 0x7000 + v (one HLT each)
 *   0x10000 data, 0x80000 stack top (kernel), 0x100000 code
 * </pre>
 */
final class CpuHarness {

    static final long PML4 = 0x1000, GDT = 0x4000, IDT = 0x5000, TSS = 0x6000, HANDLERS = 0x7000,
            DATA = 0x10000, STACK = 0x80000, CODE = 0x100000, MEMORY = 16 << 20;
    static final int KERNEL_CS = 0x08, KERNEL_DS = 0x10, USER_DS = 0x1b, USER_CS = 0x23, TSS_SEL = 0x28;

    final MappedGuestMemory memory = MappedGuestMemory.flat(MEMORY);
    final AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "test");
    final AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "test");
    final TestPlatform platform = new TestPlatform();
    final Cpu cpu = new Cpu(memory, pio, mmio, platform);
    final Executor executor = new Executor(cpu, 0);

    CpuHarness() {
        // Identity map of the first 16 MiB with 2 MiB pages, writable, user-accessible.
        memory.writeLong(PML4, 0x2000 | 7);
        memory.writeLong(0x2000, 0x3000 | 7);
        for (int k = 0; k < 8; k++) {
            memory.writeLong(0x3000 + 8L * k, ((long) k << 21) | 0x87);
        }
        memory.writeLong(GDT + 0x08, 0x00af9b000000ffffL);
        memory.writeLong(GDT + 0x10, 0x00cf93000000ffffL);
        memory.writeLong(GDT + 0x18, 0x00cff3000000ffffL);
        memory.writeLong(GDT + 0x20, 0x00affb000000ffffL);
        // 64-bit TSS descriptor: base TSS, limit 0x67, type 9 (available), present.
        long tssDesc = 0x67 | ((TSS & 0xffffff) << 16) | (0x89L << 40) | (((TSS >>> 24) & 0xff) << 56);
        memory.writeLong(GDT + 0x28, tssDesc);
        memory.writeLong(GDT + 0x30, TSS >>> 32);
        memory.writeLong(TSS + 4, STACK); // RSP0
        for (int v = 0; v < 256; v++) {
            long handler = HANDLERS + v;
            long lo = (handler & 0xffff) | ((long) KERNEL_CS << 16) | (0x8eL << 40) | (((handler >>> 16) & 0xffff) << 48);
            memory.writeLong(IDT + 16L * v, lo);
            memory.writeLong(IDT + 16L * v + 8, handler >>> 32);
            memory.writeByte(handler, (byte) 0xf4);
        }
        cpu.cr0 = Cpu.CR0_PE | Cpu.CR0_PG | Cpu.CR0_ET | Cpu.CR0_NE | Cpu.CR0_WP | Cpu.CR0_MP;
        cpu.cr3 = PML4;
        cpu.cr4 = Cpu.CR4_PAE | Cpu.CR4_PGE | Cpu.CR4_OSFXSR | Cpu.CR4_OSXMMEXCPT;
        cpu.efer = Cpu.EFER_LME | Cpu.EFER_LMA | Cpu.EFER_NXE | Cpu.EFER_SCE;
        cpu.cs = Cpu.segmentOf(KERNEL_CS, memory.readLong(GDT + KERNEL_CS));
        cpu.ss = Cpu.segmentOf(KERNEL_DS, memory.readLong(GDT + KERNEL_DS));
        cpu.ds = cpu.ss;
        cpu.es = cpu.ss;
        cpu.tr = new Segment(TSS_SEL, TSS, 0x67, 0x8b);
        cpu.gdtBase = GDT;
        cpu.gdtLimit = 0x37;
        cpu.idtBase = IDT;
        cpu.idtLimit = 256 * 16 - 1;
        cpu.r[4] = STACK;
        cpu.rip = CODE;
        cpu.mmu.flushAll();
    }

    /** Puts {@code code} at {@link #CODE} and points RIP at it. */
    CpuHarness code(int... bytes) {
        for (int k = 0; k < bytes.length; k++) {
            memory.writeByte(CODE + k, (byte) bytes[k]);
        }
        cpu.rip = CODE;
        return this;
    }

    /** Runs until HLT (or a million instructions); returns the stop reason. */
    Executor.Stop run() {
        return executor.run(1_000_000);
    }

    /** The vector whose handler halted the CPU, or -1 if it stopped elsewhere. */
    int exceptionTaken() {
        long at = cpu.rip - 1;
        return at >= HANDLERS && at < HANDLERS + 256 ? (int) (at - HANDLERS) : -1;
    }

    long rflags() {
        return cpu.rflags();
    }

    /** A platform with no APIC and a settable queue of pending external interrupts. */
    static final class TestPlatform implements Cpu.Platform {
        final Deque<Integer> pending = new ArrayDeque<>();
        long nanos;
        long apicBase = 0xfee00900L;
        int tpr;

        @Override
        public long nanos() {
            return nanos;
        }

        @Override
        public int pendingInterrupt() {
            return pending.isEmpty() ? -1 : pending.peek();
        }

        @Override
        public int acknowledgeInterrupt() {
            return pending.isEmpty() ? 0xff : pending.poll();
        }

        @Override
        public boolean takeNmi() {
            return false;
        }

        @Override
        public boolean isApicPage(long physPage) {
            return false;
        }

        @Override
        public long apicRead(int offset, int size) {
            return 0;
        }

        @Override
        public void apicWrite(int offset, int size, long value) {
        }

        @Override
        public long apicBaseMsr() {
            return apicBase;
        }

        @Override
        public void setApicBaseMsr(long value) {
            apicBase = value;
        }

        @Override
        public int tpr() {
            return tpr;
        }

        @Override
        public void setTpr(int tpr) {
            this.tpr = tpr;
        }
    }
}
