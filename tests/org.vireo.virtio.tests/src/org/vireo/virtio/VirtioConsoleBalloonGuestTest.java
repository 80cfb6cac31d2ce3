package org.vireo.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vireo.api.vm.BalloonControl;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmConsole;
import org.vireo.api.vm.VmState;
import org.vireo.core.VmManagerImpl;
import org.vireo.cpu.emu.EmuBackend;
import org.vireo.x86.PcBoard;

/**
 * Debian's stock kernel drives virtio-console and virtio-balloon with its own drivers
 * (virtio_console, virtio_balloon) on the software CPU, through the runtime: a line the guest
 * writes to /dev/hvc0 arrives on the VM's "hvc0" console channel and not on serial0; a line
 * typed into hvc0 is read by the guest; setting the balloon's target to 96 MiB takes about that
 * much from the guest's free memory (its MemFree, printed every second), and a target of 0 gives
 * it back; the guest's statistics arrive on request. An integration test: it boots a guest
 * (about a minute), and its timeouts only guard against a hang.
 */
class VirtioConsoleBalloonGuestTest {

    private static final long BOOT_MILLIS = 300_000, STEP_MILLIS = 180_000;
    private static final long MIB = 1 << 20;
    private static final int BALLOON_MIB = 96;
    private static final int PAGES_PER_MIB = (int) (MIB / BalloonControl.PAGE_SIZE);
    private static final Pattern MEM = Pattern.compile("MEM (\\d+) MemFree: (\\d+) kB");

    /**
     * Markers are computed in the guest ($((6*7))) so the command line, should the kernel echo
     * it, never matches them. fd 3 holds /dev/hvc0 open, so nothing typed is lost between reads;
     * the MEM loop runs until a line arrives on hvc0.
     */
    private static final String COMMAND = "echo HVC-$((6*7))-OUT >/dev/hvc0; exec 3</dev/hvc0;"
            + " echo READY-$((1+1)); read line <&3; echo GOT:$line; i=0;"
            + " while ! read -t 1 x <&3; do i=$((i+1)); { read t; read f; } </proc/meminfo; echo MEM $i $f; done;"
            + " echo LOOP-$((2+2))-DONE";

    @Test
    void theGuestTalksOnHvc0AndGivesMemoryBackThroughTheBalloon(@TempDir Path tmp) throws Exception {
        VmManagerImpl manager = new VmManagerImpl(tmp.resolve("lib"));
        manager.addCpuBackend(new EmuBackend());
        manager.addBoard(new PcBoard());
        manager.addDeviceFactory(new VirtioConsoleFactory());
        manager.addDeviceFactory(new VirtioBalloonFactory());
        Path guest = VirtioGuestTest.guestDirectory();
        String name = "console-balloon";
        VmConfig config = new VmConfig(name, EmuBackend.TYPE, 1, 256 * MIB,
                new BootConfig(guest.resolve("vmlinuz").toString(), guest.resolve("initramfs.cpio.gz").toString(),
                        "console=ttyS0 reboot=k quiet vireo.cmd=\"" + COMMAND + "\""),
                List.of(new DeviceConfig(VirtioConsole.TYPE, "con0", Map.of()),
                        new DeviceConfig(VirtioBalloon.TYPE, "balloon0", Map.of())));
        assertEquals(List.of(), manager.validate(config));
        manager.launch(config);
        VmConsole serial = manager.console(name);
        VmConsole hvc = manager.console(name, "hvc0");
        try {
            assertEquals(List.of(VmConsole.SERIAL0, "hvc0"), manager.consoleChannels(name));
            VirtioBalloon balloon = (VirtioBalloon) manager.balloon(name).orElseThrow();

            // The console, both ways.
            await(hvc, "the guest's line on hvc0", BOOT_MILLIS, out -> out.contains("HVC-42-OUT"), serial);
            await(serial, "the guest ready to read hvc0", STEP_MILLIS, out -> out.contains("READY-2"), hvc);
            hvc.input("ping-vireo\n".getBytes(StandardCharsets.US_ASCII));
            await(serial, "the typed line read by the guest", STEP_MILLIS, out -> out.contains("GOT:ping-vireo"), hvc);
            assertFalse(text(serial).contains("HVC-42-OUT"), "the hvc0 line is not on serial0:\n" + text(serial));
            assertFalse(text(hvc).contains("READY-2"), "serial0's lines are not on hvc0:\n" + text(hvc));

            // The balloon: baseline, inflate, deflate.
            await(serial, "the first MemFree line", STEP_MILLIS, out -> lastMem(out) != null, hvc);
            BalloonControl.Stats firstStats = balloon.latestStats().orElseThrow(
                    () -> new AssertionError("the driver sent no statistics at start"));
            long total = firstStats.values().get(BalloonControl.TOTAL_MEMORY);
            assertTrue(total > 128 * MIB && total <= 256 * MIB, "the guest's total memory: " + total);
            long[] baseline = lastMem(text(serial));

            // Inflate: the driver reports the whole target in actual, then MemFree shows it.
            long start = System.nanoTime();
            balloon.setTargetPages(BALLOON_MIB * PAGES_PER_MIB);
            assertTrue(awaitTrue(() -> balloon.actualPages() == BALLOON_MIB * PAGES_PER_MIB, STEP_MILLIS),
                    "actual reaches the target: " + balloon.actualPages());
            double inflateSeconds = (System.nanoTime() - start) / 1e9;
            long[] inflated = awaitMem(serial, hvc, lastMem(text(serial))[0], free -> true, "a MemFree line");
            long drop = baseline[1] - inflated[1];
            assertTrue(drop >= (BALLOON_MIB - 16) * 1024L && drop <= (BALLOON_MIB + 16) * 1024L,
                    "MemFree " + baseline[1] + " kB -> " + inflated[1] + " kB with " + BALLOON_MIB + " MiB inflated");
            assertEquals(BALLOON_MIB * PAGES_PER_MIB, balloon.inflatedPages() - balloon.deflatedPages(),
                    "pages in the balloon as the device counted them");
            assertEquals(balloon.inflatedPages() * BalloonControl.PAGE_SIZE, balloon.releasedBytes(),
                    "every inflated page released on the host");

            balloon.requestStats();
            assertTrue(awaitTrue(() -> balloon.latestStats().orElseThrow() != firstStats, STEP_MILLIS),
                    "fresh statistics on request");
            long freeBefore = firstStats.values().get(BalloonControl.FREE_MEMORY);
            long freeAfter = balloon.latestStats().orElseThrow().values().get(BalloonControl.FREE_MEMORY);
            assertTrue(freeBefore - freeAfter >= (BALLOON_MIB - 24) * MIB, "the guest's free-memory statistic: "
                    + freeBefore + " -> " + freeAfter);

            // Deflate: back to an empty balloon, and MemFree back near where it started.
            start = System.nanoTime();
            balloon.setTargetPages(0);
            assertTrue(awaitTrue(() -> balloon.actualPages() == 0, STEP_MILLIS), "actual back to 0: "
                    + balloon.actualPages());
            double deflateSeconds = (System.nanoTime() - start) / 1e9;
            long[] deflated = awaitMem(serial, hvc, lastMem(text(serial))[0], free -> true, "a MemFree line");
            assertTrue(Math.abs(baseline[1] - deflated[1]) <= 16 * 1024L, "MemFree " + baseline[1] + " kB at first, "
                    + deflated[1] + " kB after deflating");
            assertEquals(balloon.inflatedPages(), balloon.deflatedPages(), "every page came back");
            System.out.printf("balloon: MemFree %d kB, %d kB with %d MiB inflated (%.1f s), %d kB deflated (%.1f s);"
                    + " stats free-memory %d -> %d MiB%n", baseline[1], inflated[1], BALLOON_MIB, inflateSeconds,
                    deflated[1], deflateSeconds, freeBefore / MIB, freeAfter / MIB);

            hvc.input("quit\n".getBytes(StandardCharsets.US_ASCII));
            await(serial, "the loop's end", STEP_MILLIS, out -> out.contains("LOOP-4-DONE"), hvc);
            assertEquals(VmState.STOPPED, manager.awaitStop(name, STEP_MILLIS));
        } finally {
            if (manager.find(name).map(i -> i.state().isActive()).orElse(false)) {
                manager.stop(name, true);
            }
        }
    }

    private static String text(VmConsole console) {
        return new String(console.history(), StandardCharsets.ISO_8859_1).replace("\r\n", "\n");
    }

    /** The last "MEM i MemFree: N kB" line as {i, N}, or null. */
    private static long[] lastMem(String out) {
        Matcher m = MEM.matcher(out);
        long[] last = null;
        while (m.find()) {
            last = new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
        }
        return last;
    }

    /** Waits for a MEM line after line {@code after} whose MemFree passes {@code test}. */
    private static long[] awaitMem(VmConsole serial, VmConsole other, long after, Predicate<Long> test, String what)
            throws InterruptedException {
        long[] found = new long[2];
        await(serial, what, STEP_MILLIS, out -> {
            Matcher m = MEM.matcher(out);
            while (m.find()) {
                long i = Long.parseLong(m.group(1));
                long free = Long.parseLong(m.group(2));
                if (i > after && test.test(free)) {
                    found[0] = i;
                    found[1] = free;
                    return true;
                }
            }
            return false;
        }, other);
        return found;
    }

    private static void await(VmConsole console, String what, long millis, Predicate<String> done, VmConsole other)
            throws InterruptedException {
        if (!awaitTrue(() -> done.test(text(console)), millis)) {
            fail("no " + what + " in " + millis / 1000 + " s; this console:\n" + text(console) + "\nthe other:\n"
                    + text(other));
        }
    }

    private static boolean awaitTrue(java.util.function.BooleanSupplier condition, long millis)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                return false;
            }
            Thread.sleep(100);
        }
        return true;
    }
}
