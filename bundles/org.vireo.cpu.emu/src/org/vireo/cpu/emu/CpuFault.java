package org.vireo.cpu.emu;

/**
 * An exception the guest takes: a fault or trap with its vector and error code (Intel SDM
 * vol. 3 §6.15). Thrown from deep inside an instruction and caught by the execution loop,
 * which delivers it through the IDT; it carries no Java stack trace, so throwing it is cheap.
 */
final class CpuFault extends RuntimeException {

    private static final long serialVersionUID = 1L;

    static final int DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
            TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19;

    final int vector;
    /** The error code pushed, or -1 for vectors without one. */
    final int errorCode;
    /** For #PF: the faulting linear address that goes to CR2. */
    final long address;

    private CpuFault(int vector, int errorCode, long address) {
        super(null, null, false, false);
        this.vector = vector;
        this.errorCode = errorCode;
        this.address = address;
    }

    static CpuFault of(int vector) {
        return new CpuFault(vector, -1, 0);
    }

    static CpuFault withCode(int vector, int errorCode) {
        return new CpuFault(vector, errorCode, 0);
    }

    static CpuFault gp(int errorCode) {
        return new CpuFault(GP, errorCode, 0);
    }

    static CpuFault ud() {
        return new CpuFault(UD, -1, 0);
    }

    static CpuFault pageFault(long address, int errorCode) {
        return new CpuFault(PF, errorCode, address);
    }

    static String name(int vector) {
        return switch (vector) {
            case DE -> "#DE";
            case DB -> "#DB";
            case NMI -> "NMI";
            case BP -> "#BP";
            case OF -> "#OF";
            case BR -> "#BR";
            case UD -> "#UD";
            case NM -> "#NM";
            case DF -> "#DF";
            case TS -> "#TS";
            case NP -> "#NP";
            case SS -> "#SS";
            case GP -> "#GP";
            case PF -> "#PF";
            case MF -> "#MF";
            case AC -> "#AC";
            case MC -> "#MC";
            case XM -> "#XM";
            default -> "vector " + vector;
        };
    }

    @Override
    public String getMessage() {
        return name(vector) + (errorCode >= 0 ? "(" + Integer.toHexString(errorCode) + ")" : "")
                + (vector == PF ? " at " + Long.toHexString(address) : "");
    }
}
