package org.vireo.cpu.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * Debian's stock kernel and the busybox initramfs boot on the software CPU, run commands and
 * power the machine off through the keyboard controller. The expected results are computed
 * here, independently of the guest: the sum of a shell loop, the SHA-256 and MD5 of a file
 * the guest writes, the order {@code sort} gives.
 */
class DebianBootTest {

    /** A guard against a hung guest, not a speed check (the benchmark measures speed). */
    private static final long TIMEOUT_MILLIS = 15 * 60 * 1000;

    /** Where the part of the output that depends on the CPU model starts. */
    private static final String CPUINFO = "==cpuinfo==";

    private static final String COMMAND = "uname -a; ls /; ls -l /etc; i=0; s=0; while [ $i -lt 200 ]; do s=$((s+i*i)); "
            + "i=$((i+1)); done; echo sum=$s; seq 1 3000 > /tmp/n; sha256sum /tmp/n; md5sum /tmp/n; "
            + "sort -r /tmp/n | head -3; sort -n -r /tmp/n | head -1; echo " + CPUINFO + "; cat /proc/cpuinfo";


    @Test
    void bootsRunsCommandsAndResets() throws Exception {
        String cmdline = "console=ttyS0 reboot=k quiet vireo.cmd=\"" + COMMAND + "\"";
        try (GuestRun run = new GuestRun(cmdline, 256L << 20, false)) {
            String end = run.runUntil(null, TIMEOUT_MILLIS);
            String out = run.console().replace("\r\n", "\n");
            assertTrue(end.startsWith("stopped") && end.contains("RESET"),
                    "the guest should reset through the i8042 after its command; it ended with " + end
                            + "\nconsole:\n" + out);
            assertTrue(out.contains(GuestRun.MARKER + "\n"), out);
            String result = out.substring(out.indexOf(GuestRun.MARKER));

            assertTrue(result.contains("Linux (none) 6.1.0-"), result);
            assertTrue(result.contains(" x86_64 GNU/Linux"), result);
            assertTrue(result.contains("sum=" + sumOfSquaresBelow(200) + "\n"), result);

            StringBuilder file = new StringBuilder();
            List<String> numbers = new ArrayList<>();
            for (int n = 1; n <= 3000; n++) {
                file.append(n).append('\n');
                numbers.add(Integer.toString(n));
            }
            byte[] bytes = file.toString().getBytes(StandardCharsets.US_ASCII);
            assertTrue(result.contains(hex("SHA-256", bytes) + "  /tmp/n\n"), result);
            assertTrue(result.contains(hex("MD5", bytes) + "  /tmp/n\n"), result);
            numbers.sort(null);
            String lexicalTop3 = numbers.get(2999) + "\n" + numbers.get(2998) + "\n" + numbers.get(2997) + "\n";
            assertTrue(result.contains(lexicalTop3 + "3000\n"), result);

            assertTrue(result.contains("vendor_id\t: GenuineIntel\n"), result);
            assertTrue(result.contains("model name\t: Vireo software x86-64 CPU @ 2.50GHz\n"), result);
            String flags = result.substring(result.indexOf("\nflags\t"));
            flags = flags.substring(0, flags.indexOf('\n', 1));
            assertTrue(flags.contains(" sse2 ") && flags.contains(" fxsr ") && flags.contains(" nx "), flags);
            assertTrue(result.contains("VIREO-CMD-EXIT 0\n"), result);
            assertEquals(-1, result.indexOf("Oops"), result);

            // The same guest under QEMU (TCG) prints the same, up to /proc/cpuinfo.
            String reference = QemuReference.run(GuestRun.guestDirectory(), cmdline, TIMEOUT_MILLIS);
            assertTrue(reference.contains(GuestRun.MARKER), "QEMU did not boot the guest:\n" + reference);
            String ours = result.substring(0, result.indexOf(CPUINFO));
            String theirs = reference.substring(reference.lastIndexOf(GuestRun.MARKER));
            theirs = theirs.substring(0, Math.max(0, theirs.indexOf(CPUINFO)));
            assertEquals(theirs, ours, "the guest's output under QEMU and under the software CPU");
        }
    }

    private static long sumOfSquaresBelow(int n) {
        long s = 0;
        for (int i = 0; i < n; i++) {
            s += (long) i * i;
        }
        return s;
    }

    private static String hex(String algorithm, byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(data));
    }
}
