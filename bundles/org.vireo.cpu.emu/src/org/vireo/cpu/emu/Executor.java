package org.vireo.cpu.emu;

/**
 * The fetch-decode-execute loop of one CPU, with the delivery of exceptions (and their
 * escalation to double and triple faults) and of external interrupts at instruction
 * boundaries (Intel SDM vol. 3 §6.9, §6.15 "Interrupt 8").
 */
final class Executor {

    /** Why {@link #run} returned. */
    enum Stop {
        /** The instruction budget ran out. */
        BUDGET,
        /** HLT: nothing to do until an interrupt. */
        HALTED,
        /** {@link Cpu#attention} was raised for something outside the CPU (a kick). */
        ATTENTION,
        /** A fault while delivering a double fault: the machine resets. */
        TRIPLE_FAULT
    }

    final Cpu cpu;
    final Interpreter interpreter;
    private final Decoder decoder;
    private final Insn scratch = new Insn();
    /**
     * Decoded instructions by linear address, direct-mapped. An entry is used only if the
     * bytes at RIP still equal the bytes it was decoded from (compared as two masked
     * longs), so self-modifying code, new mappings and DMA into code pages need no
     * invalidation: whatever the bytes are now is what runs.
     */
    private final Insn[] cache = new Insn[1 << CACHE_BITS];
    private static final int CACHE_BITS = 16;
    /** Instructions retired since creation. */
    long retired;
    /** Set by the owner to make {@link #run} return {@link Stop#ATTENTION} at the next boundary. */
    volatile boolean kicked;

    Executor(Cpu cpu, int apicId) {
        this.cpu = cpu;
        this.interpreter = new Interpreter(cpu, apicId);
        this.decoder = new Decoder(cpu);
    }

    /** Instructions retired plus exceptions delivered: the unit of {@link #run}'s budget. */
    private long steps;

    /**
     * Runs up to {@code budget} steps: a step retires an instruction or delivers the
     * exception an instruction raised (as a debugger's single step does).
     *
     * @throws Cpu.UnsupportedModeException if the guest leaves 64-bit mode
     */
    Stop run(long budget) {
        Cpu c = cpu;
        long end = steps + budget;
        while (steps < end) {
            if (c.attention) {
                c.attention = false;
                if (kicked) {
                    kicked = false;
                    return Stop.ATTENTION;
                }
                if (c.interruptShadow) {
                    // Look again after the next instruction.
                    c.attention = true;
                } else if (takeInterrupt()) {
                    if (tripleFault) {
                        return Stop.TRIPLE_FAULT;
                    }
                    continue;
                }
            }
            if (c.halted) {
                return Stop.HALTED;
            }
            boolean shadow = c.interruptShadow;
            long start = c.rip;
            try {
                interpreter.execute(fetch(start));
                retired++;
                steps++;
            } catch (CpuFault f) {
                steps++;
                c.rip = start;
                if (!raise(f.vector, f.errorCode, f.vector == CpuFault.PF ? f.address : 0, start, false)) {
                    return Stop.TRIPLE_FAULT;
                }
            } catch (Interpreter.SoftwareInterrupt s) {
                retired++;
                steps++;
                if (!softwareInterrupt(s, start)) {
                    return Stop.TRIPLE_FAULT;
                }
            }
            if (shadow) {
                c.interruptShadow = false;
            }
        }
        return Stop.BUDGET;
    }

    private boolean tripleFault;

    /** The decoded instruction at {@code rip}: from the cache when its bytes are unchanged. */
    private Insn fetch(long rip) {
        Mmu mmu = cpu.mmu;
        int s = Mmu.slot(rip, cpu.priv());
        int inPage = (int) (rip & 0xfff);
        if (mmu.fetchTag[s] != rip >>> 12 || inPage > 0x1000 - 16) {
            // Not in the TLB yet (the decoder's fetch fills it), or too near the page's end to
            // compare 16 bytes: decode without caching.
            decoder.decode(rip, scratch);
            return scratch;
        }
        java.nio.ByteBuffer b = mmu.buf[s];
        int o = mmu.off[s] + inPage;
        long w0 = b.getLong(o);
        int index = (int) (rip ^ (rip >>> CACHE_BITS)) & ((1 << CACHE_BITS) - 1);
        Insn c = cache[index];
        if (c != null && c.address == rip && (w0 & c.mask0) == c.bytes0
                && (c.mask1 == 0 || (b.getLong(o + 8) & c.mask1) == c.bytes1)) {
            return c;
        }
        long w1 = b.getLong(o + 8);
        if (c == null) {
            c = new Insn();
            cache[index] = c;
        }
        c.address = -1;
        decoder.decode(rip, c);
        int len = c.length;
        c.mask0 = len >= 8 ? -1L : (1L << (8 * len)) - 1;
        c.mask1 = len <= 8 ? 0 : len >= 16 ? -1L : (1L << (8 * (len - 8))) - 1;
        c.bytes0 = w0 & c.mask0;
        c.bytes1 = w1 & c.mask1;
        c.address = rip;
        return c;
    }

    /** Delivers an NMI or an external interrupt if one is pending and allowed; returns whether one was. */
    private boolean takeInterrupt() {
        Cpu c = cpu;
        tripleFault = false;
        if (c.platform.takeNmi()) {
            c.halted = false;
            tripleFault = !raise(CpuFault.NMI, -1, 0, c.rip, true);
            c.attention = true;
            return true;
        }
        if (!c.interruptsEnabled()) {
            return false;
        }
        if (c.platform.pendingInterrupt() < 0) {
            return false;
        }
        int vector = c.platform.acknowledgeInterrupt();
        c.halted = false;
        tripleFault = !raise(vector, -1, 0, c.rip, true);
        // Another interrupt may be waiting behind this one, for when IF is set again.
        c.attention = true;
        return true;
    }

    private boolean softwareInterrupt(Interpreter.SoftwareInterrupt s, long start) {
        Cpu c = cpu;
        long returnRip = c.rip;
        try {
            c.deliver(s.vector, -1, returnRip, s.checkDpl, false);
            return true;
        } catch (CpuFault f) {
            // A fault delivering INT n is raised with the INT instruction as the faulting one.
            c.rip = start;
            return raise(f.vector, f.errorCode, f.address, start, false);
        }
    }

    /**
     * Raises exception {@code vector} at {@code faultRip}, escalating to #DF and to a triple
     * fault when delivery itself faults (SDM vol. 3 table 6-5).
     *
     * @return false for a triple fault
     */
    boolean raise(int vector, int errorCode, long address, long faultRip, boolean external) {
        Cpu c = cpu;
        int first = vector;
        int code = errorCode;
        long addr = address;
        for (int attempt = 0; attempt < 3; attempt++) {
            if (first == CpuFault.PF) {
                c.cr2 = addr;
            }
            try {
                c.deliver(first, code, faultRip, false, external);
                return true;
            } catch (CpuFault second) {
                if (first == CpuFault.DF) {
                    return false;
                }
                boolean benign = !Cpu.contributory(second.vector) && second.vector != CpuFault.PF;
                boolean escalate = !benign && (Cpu.contributory(first)
                        || (first == CpuFault.PF && (second.vector == CpuFault.PF || Cpu.contributory(second.vector))));
                if (escalate) {
                    first = CpuFault.DF;
                    code = 0;
                    addr = 0;
                } else {
                    first = second.vector;
                    code = second.errorCode;
                    addr = second.address;
                }
                external = false;
            }
        }
        return false;
    }
}
