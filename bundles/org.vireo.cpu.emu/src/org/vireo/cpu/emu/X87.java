package org.vireo.cpu.emu;

/** The x87 floating-point unit: opcodes D8-DF (Intel SDM vol. 1 ch. 8). */
final class X87 {

    private final Cpu cpu;

    X87(Cpu cpu) {
        this.cpu = cpu;
    }

    void execute(Insn i) {
        throw CpuFault.ud();
    }

    /** FWAIT: raises a pending unmasked x87 exception (#MF), or #NM with CR0.MP and TS set. */
    void fwait() {
    }
}
