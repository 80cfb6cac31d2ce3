package org.vireo.cpu.emu;

/** SSE, SSE2 and MMX instructions, and FXSAVE/FXRSTOR/LDMXCSR/STMXCSR (Intel SDM vol. 1 ch. 9-11). */
final class Sse {

    private final Cpu cpu;

    Sse(Cpu cpu) {
        this.cpu = cpu;
    }

    /** Whether {@code op}, an opcode of the 0F map (low byte), is an MMX/SSE/SSE2 instruction this class executes. */
    static boolean handles(int op) {
        return false;
    }

    void execute(Insn i) {
        throw CpuFault.ud();
    }

    /** 0F AE with a memory operand, /0-/3: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR. */
    void group15(Insn i) {
        throw CpuFault.ud();
    }
}
