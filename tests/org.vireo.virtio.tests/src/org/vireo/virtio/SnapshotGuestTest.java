package org.vireo.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vireo.api.state.StateException;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.SavedState;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmConsole;
import org.vireo.api.vm.VmState;
import org.vireo.core.VmManagerImpl;
import org.vireo.cpu.emu.EmuBackend;
import org.vireo.storage.RawFormat;
import org.vireo.x86.PcBoard;

/**
 * A whole VM saved to a file and continued by another runtime: Debian on the software CPU
 * counts, printing each number with its uptime and writing it to its own sector of a virtio
 * disk (fsync'd). The VM is paused, saved, resumed and runs on; then powered off. A fresh
 * manager (another runtime) restores the file: the count goes on from the number after the
 * last one printed before the save, the guest's uptime does not go back, the virtio disk
 * keeps serving requests, and at the end every sector holds its number. A damaged copy of
 * the file is refused, leaving nothing running.
 */
class SnapshotGuestTest {

    private static final long BOOT_MILLIS = 300_000, STEP_MILLIS = 120_000;
    private static final Pattern COUNT = Pattern.compile("(?m)^COUNT (\\d+) ([0-9.]+)\\r?$");
    private static final String COMMAND = "i=0; while [ $i -lt 100000 ]; do i=$((i+1));"
            + " echo $i | dd of=/dev/vda bs=512 seek=$i conv=fsync 2>/dev/null;"
            + " echo COUNT $i $(cut -d' ' -f1 /proc/uptime); done";

    @Test
    void aSavedVmGoesOnInAnotherRuntimeFromWhereItWasSaved(@TempDir Path tmp) throws Exception {
        Path disk = tmp.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
        Path guest = VirtioGuestTest.guestDirectory();
        VmConfig config = new VmConfig("counter", EmuBackend.TYPE, 1, 256L << 20,
                new BootConfig(guest.resolve("vmlinuz").toString(), guest.resolve("initramfs.cpio.gz").toString(),
                        "console=ttyS0 reboot=k quiet vireo.cmd=\"" + COMMAND + "\""),
                List.of(new DeviceConfig(VirtioBlk.TYPE, "disk0", Map.of("path", disk.toString())),
                        new DeviceConfig(VirtioRng.TYPE, "rng0", Map.of())));
        Path snapshot = tmp.resolve("counter.snap");

        // The first runtime: boot, count, save, go on, power off.
        VmManagerImpl first = manager(tmp.resolve("lib1"));
        first.launch(config);
        int savedAt;
        double uptimeAtSave;
        String atPause;
        try {
            VmConsole console = first.console("counter");
            await(console, "the count to reach 20", BOOT_MILLIS, out -> last(out)[0] >= 20);
            first.pause("counter");
            atPause = text(console);
            double[] last = last(atPause);
            savedAt = (int) last[0];
            uptimeAtSave = last[1];
            SavedState saved = first.save("counter", snapshot);
            System.out.printf("snapshot: %d pages, %.1f MiB, %d ms%n", saved.memoryPages(), saved.bytes() / 1048576.0,
                    saved.millis());
            assertEquals(VmState.PAUSED, first.find("counter").orElseThrow().state(), "a paused VM stays paused");
            first.resume("counter");
            await(console, "the count to go on after the save", STEP_MILLIS, out -> last(out)[0] >= savedAt + 10);
        } finally {
            first.stop("counter", true);
        }

        // A damaged copy is refused before anything starts.
        Path damaged = tmp.resolve("damaged.snap");
        byte[] bytes = Files.readAllBytes(snapshot);
        bytes[bytes.length / 2] ^= 0x40;
        Files.write(damaged, bytes);
        VmManagerImpl second = manager(tmp.resolve("lib2"));
        StateException refused = org.junit.jupiter.api.Assertions.assertThrows(StateException.class,
                () -> second.restore(damaged, null, false));
        assertTrue(refused.getMessage().contains("checksum mismatch"), refused.getMessage());
        assertTrue(second.find("counter").isEmpty(), "nothing was started");

        // The second runtime goes on from the snapshot.
        second.restore(snapshot, null, false);
        VmConsole restored = second.console("counter");
        try {
            VmConsole console = restored;
            await(console, "the count to go on after the restore", STEP_MILLIS, out -> last(out)[0] >= savedAt + 15);
            String out = text(console);
            Matcher m = COUNT.matcher(out);
            assertTrue(m.find(), out);
            // The first whole line after the restore is the one after the last the guest had
            // begun to print at the save (a line cut by the pause is finished by the restored guest).
            int next = Integer.parseInt(m.group(1));
            assertTrue(atPause.contains("COUNT " + (next - 1) + " ") && !atPause.contains("COUNT " + next + " "),
                    "the first number after the restore is " + next + "; at the save the guest had printed:\n"
                            + atPause.substring(Math.max(0, atPause.length() - 300)));
            assertTrue(next - 1 >= savedAt, next + " after " + savedAt);
            double uptime = Double.parseDouble(m.group(2));
            assertTrue(uptime >= uptimeAtSave, "the guest's uptime went from " + uptimeAtSave + " to " + uptime);
            int expected = next;
            m.reset();
            while (m.find()) {
                assertEquals(expected++, Integer.parseInt(m.group(1)), "the numbers follow each other:\n" + out);
            }
        } finally {
            second.stop("counter", true);
        }
        int lastCount = (int) last(text(restored))[0];

        // Every sector 1..last holds its number, written before or after the restore.
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "r")) {
            byte[] sector = new byte[512];
            for (int i = 1; i <= lastCount - 1; i++) {
                f.seek(512L * i);
                f.readFully(sector);
                String text = new String(sector, 0, Integer.toString(i).length() + 1, StandardCharsets.US_ASCII);
                assertEquals(i + "\n", text, "sector " + i);
            }
        }
    }

    private static VmManagerImpl manager(Path library) {
        VmManagerImpl manager = new VmManagerImpl(library);
        manager.addCpuBackend(new EmuBackend());
        manager.addBoard(new PcBoard());
        VirtioBlkFactory blk = new VirtioBlkFactory();
        blk.addFormat(new RawFormat());
        manager.addDeviceFactory(blk);
        manager.addDeviceFactory(new VirtioRngFactory());
        return manager;
    }

    private static String text(VmConsole console) {
        return new String(console.history(), StandardCharsets.ISO_8859_1);
    }

    /** The last complete COUNT line as {number, uptime}, or {0, 0}. */
    private static double[] last(String out) {
        Matcher m = COUNT.matcher(out);
        double[] last = {0, 0};
        while (m.find()) {
            if (m.end() < out.length()) { // a line end follows: the line is whole
                last = new double[] {Integer.parseInt(m.group(1)), Double.parseDouble(m.group(2))};
            }
        }
        return last;
    }

    private static void await(VmConsole console, String what, long millis, Predicate<String> done)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (!done.test(text(console))) {
            if (System.currentTimeMillis() > deadline) {
                fail("no " + what + " in " + millis / 1000 + " s:\n" + text(console));
            }
            Thread.sleep(100);
        }
    }
}
