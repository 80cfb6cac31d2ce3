package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Differential tests of the emulator against the host CPU: for each group of general-purpose
 * instructions, deterministic pseudo-random cases run natively (native/oracle.c, compiled
 * with the system gcc) and on the emulator, and every register, the data buffer and the
 * flags the SDM defines for the instruction must agree. Flags the SDM leaves undefined are
 * masked per case (see {@link OracleCaseGenerator}); they differ between Intel and AMD.
 *
 * <p>Needs an x86-64 Linux host with gcc: without them the tests fail and say what is
 * missing, rather than pass untested.
 */
class NativeOracleTest {

    /** Cases per group: a few thousand in all keeps the whole run to seconds. */
    private static final int CASES_PER_GROUP = 2000;
    /** Mismatches described in full per group; the rest are counted. */
    private static final int REPORTED = 8;

    private static OracleNative oracle;
    private static RuntimeException setupFailure;

    @BeforeAll
    static void buildOracle() throws Exception {
        try {
            oracle = OracleNative.build();
        } catch (IllegalStateException e) {
            setupFailure = e;
        }
    }

    @AfterAll
    static void deleteOracle() throws Exception {
        if (oracle != null) {
            oracle.delete();
        }
    }

    @TestFactory
    Stream<DynamicTest> emulatorAgreesWithTheHostCpu() {
        return OracleCaseGenerator.GROUPS.stream().map(group -> DynamicTest.dynamicTest(group, () -> check(group)));
    }

    private static void check(String group) throws Exception {
        if (setupFailure != null) {
            fail("native oracle unavailable: " + setupFailure.getMessage(), setupFailure);
        }
        List<OracleCase> cases = OracleCaseGenerator.generate(group, CASES_PER_GROUP);
        List<OracleCase.Outcome> host = oracle.run(cases);
        OracleEmulator emulator = new OracleEmulator();
        List<String> reports = new ArrayList<>();
        int mismatches = 0;
        for (int k = 0; k < cases.size(); k++) {
            OracleCase c = cases.get(k);
            OracleCase.Outcome emulated;
            try {
                emulated = emulator.run(c);
            } catch (RuntimeException e) {
                emulated = OracleCase.Outcome.fault("emulator threw " + e);
            }
            String difference = c.difference(host.get(k), emulated);
            if (difference == null) {
                continue;
            }
            mismatches++;
            if (reports.size() < REPORTED) {
                reports.add(describe(k, c, host.get(k), emulated, difference));
            }
        }
        if (mismatches > 0) {
            fail(String.format("%s: %d of %d cases differ from the host CPU%n%s", group, mismatches, cases.size(),
                    String.join("\n", reports)));
        }
    }

    private static String describe(int index, OracleCase c, OracleCase.Outcome host, OracleCase.Outcome emulated,
            String difference) {
        return String.format("case %d: %s   [%s]%n  differs: %s%n initial:%n%s host:%n%s emulator:%n%s", index,
                HexFormat.ofDelimiter(" ").formatHex(c.code), oracle.disassemble(c.code), difference,
                c.describeInitialState(), host.describe(), emulated.describe());
    }
}
