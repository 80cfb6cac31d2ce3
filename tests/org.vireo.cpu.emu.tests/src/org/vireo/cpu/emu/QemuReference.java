package org.vireo.cpu.emu;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The reference machine: the same guest booted by QEMU's software emulation (TCG, Debian's
 * qemu-system-x86), as tests/guest/qemu-reference.sh does, with the console captured.
 */
final class QemuReference {

    private QemuReference() {
    }

    /** Boots {@code guest} with {@code cmdline} under QEMU until it resets; returns the console output (LF line ends). */
    static String run(Path guest, String cmdline, long timeoutMillis) throws IOException, InterruptedException {
        List<String> command = List.of("qemu-system-x86_64", "-accel", "tcg", "-M", "pc", "-m", "256",
                "-nographic", "-no-reboot", "-nic", "none", "-kernel", guest.resolve("vmlinuz").toString(),
                "-initrd", guest.resolve("initramfs.cpio.gz").toString(), "-append", cmdline);
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE)
                    .start();
        } catch (IOException e) {
            throw new IOException("cannot start qemu-system-x86_64 (install Debian's qemu-system-x86): "
                    + e.getMessage(), e);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> copy(p.getInputStream(), out), "qemu-console");
        reader.start();
        try {
            if (!p.waitFor(timeoutMillis, TimeUnit.MILLISECONDS)) {
                throw new IOException("QEMU did not finish within " + timeoutMillis / 1000 + " s; output:\n"
                        + text(out));
            }
            reader.join(5000);
        } finally {
            p.destroyForcibly();
        }
        return text(out);
    }

    private static String text(ByteArrayOutputStream out) {
        synchronized (out) {
            return out.toString(StandardCharsets.ISO_8859_1).replace("\r\n", "\n");
        }
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        byte[] buf = new byte[8192];
        try {
            for (int n; (n = in.read(buf)) > 0;) {
                synchronized (out) {
                    out.write(buf, 0, n);
                }
            }
        } catch (IOException e) {
            // QEMU went away; what it printed is kept.
        }
    }
}
