package org.vireo.cpu.emu;

import java.util.HexFormat;

/**
 * One differential test case: the registers, arithmetic flags and data buffer an instruction
 * starts from, its bytes, and which flags the SDM defines after it. Registers named in
 * {@link #pointers} hold offsets into the data buffer; the oracle and the emulator each add
 * their own buffer's address, so the case means the same on both.
 */
final class OracleCase {

    /** Size of the data buffer; must match DATA_SIZE in native/oracle.c. */
    static final int DATA_SIZE = 256;

    static final int CF = Flags.CF, PF = Flags.PF, AF = Flags.AF, ZF = Flags.ZF, SF = Flags.SF, OF = Flags.OF,
            DF = Flags.DF;
    /** The six arithmetic flags, all defined. */
    static final int ALL = Flags.ARITH;

    final String group;
    final long[] regs = new long[16];
    /** Initial arithmetic flags and DF. */
    int flags;
    /** Bit k set: register k is an offset into the data buffer. */
    int pointers;
    final byte[] data = new byte[DATA_SIZE];
    byte[] code;
    /** The arithmetic flags whose value after the instruction the SDM defines (unaffected counts as defined). */
    int definedFlags = ALL;

    OracleCase(String group) {
        this.group = group;
    }

    /** The case as a line of the oracle's input format. */
    String line() {
        HexFormat hex = HexFormat.of();
        StringBuilder s = new StringBuilder(900);
        for (int k = 0; k < 16; k++) {
            // RSP means something only when the case puts the stack in the data buffer.
            boolean stack = k == 4 && (pointers & 1 << 4) != 0;
            s.append(Long.toHexString(k == 4 && !stack ? 0 : regs[k])).append(' ');
        }
        s.append(Integer.toHexString(flags)).append(' ').append(Integer.toHexString(pointers)).append(' ');
        s.append(hex.formatHex(data)).append(' ').append(hex.formatHex(code));
        return s.toString();
    }

    String describeInitialState() {
        StringBuilder s = new StringBuilder();
        appendRegisters(s, regs);
        s.append(String.format("  flags=%s pointers(buffer offsets)=%s%n", flagNames(flags), registerList(pointers)));
        return s.toString();
    }

    static void appendRegisters(StringBuilder s, long[] r) {
        for (int k = 0; k < 16; k++) {
            s.append(String.format("  %-3s=%016x", OracleEncoder.REG64[k], r[k]));
            if (k % 4 == 3 || k == 15) {
                s.append('\n');
            }
        }
    }

    static String registerList(int mask) {
        StringBuilder s = new StringBuilder();
        for (int k = 0; k < 16; k++) {
            if ((mask >>> k & 1) != 0) {
                s.append(s.length() == 0 ? "" : ",").append(OracleEncoder.REG64[k]);
            }
        }
        return s.length() == 0 ? "-" : s.toString();
    }

    static String flagNames(int f) {
        StringBuilder s = new StringBuilder();
        String[] names = {"CF", "", "PF", "", "AF", "", "ZF", "SF", "", "", "DF", "OF"};
        for (int k = 0; k < names.length; k++) {
            if (!names[k].isEmpty() && (f >>> k & 1) != 0) {
                s.append(s.length() == 0 ? "" : "|").append(names[k]);
            }
        }
        return s.length() == 0 ? "0" : s.toString();
    }

    /**
     * What came of running a case: either a fault (DE, UD, GP for #GP/#PF, or something the
     * emulator alone can report, such as a wrong instruction length) or the final state.
     */
    record Outcome(String fault, long[] regs, int flags, byte[] data) {

        static Outcome fault(String kind) {
            return new Outcome(kind, null, 0, null);
        }

        /** Parses one line of the oracle's output. */
        static Outcome parse(String line) {
            String[] t = line.trim().split(" ");
            if (t[0].equals("FAULT")) {
                return fault(t[1]);
            }
            if (!t[0].equals("OK") || t.length != 19) {
                throw new IllegalStateException("unexpected oracle output: " + line);
            }
            long[] r = new long[16];
            for (int k = 0; k < 16; k++) {
                r[k] = Long.parseUnsignedLong(t[k + 1], 16);
            }
            return new Outcome(null, r, Integer.parseInt(t[17], 16), HexFormat.of().parseHex(t[18]));
        }

        boolean faulted() {
            return fault != null;
        }

        String describe() {
            if (faulted()) {
                return "  fault " + fault + "\n";
            }
            StringBuilder s = new StringBuilder();
            appendRegisters(s, regs);
            s.append("  flags=").append(flagNames(flags)).append('\n');
            return s.toString();
        }
    }

    /** Why {@code emulator} differs from {@code oracle} for this case, or null if they agree. */
    String difference(Outcome oracle, Outcome emulator) {
        if (oracle.faulted() || emulator.faulted()) {
            if (oracle.faulted() && emulator.faulted() && oracle.fault().equals(emulator.fault())) {
                return null;
            }
            return "outcome: host " + (oracle.faulted() ? "fault " + oracle.fault() : "completed")
                    + ", emulator " + (emulator.faulted() ? "fault " + emulator.fault() : "completed");
        }
        StringBuilder s = new StringBuilder();
        for (int k = 0; k < 16; k++) {
            if (oracle.regs()[k] != emulator.regs()[k]) {
                s.append(String.format("%s: host %016x emulator %016x; ", OracleEncoder.REG64[k],
                        oracle.regs()[k], emulator.regs()[k]));
            }
        }
        int compared = definedFlags | DF;
        if (((oracle.flags() ^ emulator.flags()) & compared) != 0) {
            s.append(String.format("flags (compared %s): host %s emulator %s; ", flagNames(compared),
                    flagNames(oracle.flags() & compared), flagNames(emulator.flags() & compared)));
        }
        for (int k = 0; k < DATA_SIZE; k++) {
            if (oracle.data()[k] != emulator.data()[k]) {
                s.append(String.format("data[%d]: host %02x emulator %02x (first difference); ", k,
                        oracle.data()[k] & 0xff, emulator.data()[k] & 0xff));
                break;
            }
        }
        return s.length() == 0 ? null : s.toString();
    }
}
