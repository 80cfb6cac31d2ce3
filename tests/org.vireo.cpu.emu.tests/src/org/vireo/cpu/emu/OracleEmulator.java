package org.vireo.cpu.emu;

/**
 * Runs {@link OracleCase}s on the emulator: one {@link CpuHarness} reused for every case (a
 * fresh 16 MiB machine per case would dominate the run time), with the instruction and a
 * HLT at {@link CpuHarness#CODE} and the data buffer at {@link CpuHarness#DATA}.
 */
final class OracleEmulator {

    private final CpuHarness harness = new CpuHarness();

    OracleCase.Outcome run(OracleCase c) {
        CpuHarness h = harness;
        Cpu cpu = h.cpu;
        for (int k = 0; k < 16; k++) {
            cpu.r[k] = c.regs[k] + ((c.pointers >>> k & 1) != 0 ? CpuHarness.DATA : 0);
        }
        if ((c.pointers & 1 << 4) == 0) {
            cpu.r[4] = CpuHarness.STACK;
        }
        // The previous case may have left through an exception handler: start from a clean
        // RFLAGS, with IF set as it is in the oracle's user-mode process (PUSHF shows it).
        cpu.rflags = 2 | Flags.IF | (c.flags & Flags.DF);
        cpu.flags.setEager(c.flags & Flags.ARITH);
        cpu.halted = false;
        cpu.interruptShadow = false;
        cpu.attention = false;
        for (int k = 0; k < OracleCase.DATA_SIZE; k++) {
            h.memory.writeByte(CpuHarness.DATA + k, c.data[k]);
        }
        int[] code = new int[c.code.length + 1];
        for (int k = 0; k < c.code.length; k++) {
            code[k] = c.code[k] & 0xff;
        }
        code[c.code.length] = 0xf4; // HLT
        h.code(code);

        Executor.Stop stop = h.executor.run(100_000);
        int vector = h.exceptionTaken();
        if (vector >= 0) {
            return OracleCase.Outcome.fault(switch (vector) {
                case CpuFault.DE -> "DE";
                case CpuFault.UD -> "UD";
                case CpuFault.GP, CpuFault.PF -> "GP";
                default -> "vector " + vector;
            });
        }
        long expectedRip = CpuHarness.CODE + c.code.length + 1;
        if (stop != Executor.Stop.HALTED || cpu.rip != expectedRip) {
            return OracleCase.Outcome.fault(String.format("stopped (%s) at rip %x, expected the HLT after the"
                    + " instruction to leave rip at %x (wrong length?)", stop, cpu.rip, expectedRip));
        }
        long[] regs = new long[16];
        for (int k = 0; k < 16; k++) {
            regs[k] = cpu.r[k] - ((c.pointers >>> k & 1) != 0 ? CpuHarness.DATA : 0);
        }
        if ((c.pointers & 1 << 4) == 0) {
            // Not a stack case: the oracle reports how far RSP moved, which must be 0.
            regs[4] = cpu.r[4] - CpuHarness.STACK;
        }
        byte[] data = new byte[OracleCase.DATA_SIZE];
        for (int k = 0; k < data.length; k++) {
            data[k] = h.memory.readByte(CpuHarness.DATA + k);
        }
        int flags = (int) cpu.rflags() & (Flags.ARITH | Flags.DF);
        return new OracleCase.Outcome(null, regs, flags, data);
    }
}
