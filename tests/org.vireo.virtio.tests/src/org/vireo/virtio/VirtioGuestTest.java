package org.vireo.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vireo.api.VireoException;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmConsole;
import org.vireo.api.vm.VmState;
import org.vireo.core.VmManagerImpl;
import org.vireo.cpu.emu.EmuBackend;
import org.vireo.storage.RawFormat;
import org.vireo.x86.PcBoard;

/**
 * Debian's stock kernel drives Vireo's virtio devices with its own drivers (virtio_pci,
 * virtio_rng, virtio_blk), on the software CPU: /dev/hwrng gives bytes, and an ext2 file
 * system made, written and unmounted in the guest is found on the host, in the raw image,
 * with the exact contents (read with e2fsprogs' debugfs, checked with e2fsck).
 */
class VirtioGuestTest {

    private static final long TIMEOUT_MILLIS = 300_000;
    private static final int NUMBERS = 20_000;

    @Test
    void theGuestsDriversUseTheEntropyAndBlockDevices(@TempDir Path tmp) throws Exception {
        Path disk = tmp.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        VmManagerImpl manager = new VmManagerImpl(tmp.resolve("lib"));
        manager.addCpuBackend(new EmuBackend());
        manager.addBoard(new PcBoard());
        manager.addDeviceFactory(new VirtioRngFactory());
        VirtioBlkFactory blk = new VirtioBlkFactory();
        blk.addFormat(new RawFormat());
        manager.addDeviceFactory(blk);
        String command = "cat /sys/class/misc/hw_random/rng_current; dd if=/dev/hwrng bs=256 count=4 2>/dev/null"
                + " | wc -c; cat /sys/block/vda/serial; echo; cat /sys/block/vda/size;"
                + " mke2fs /dev/vda >/dev/null && mount -t ext4 /dev/vda /mnt && echo vireo-was-here >/mnt/hello.txt"
                + " && seq 1 " + NUMBERS + " >/mnt/numbers.txt && umount /mnt && echo DISK-DONE";
        Path guest = guestDirectory();
        VmConfig config = new VmConfig("virtio", EmuBackend.TYPE, 1, 256L << 20,
                new BootConfig(guest.resolve("vmlinuz").toString(), guest.resolve("initramfs.cpio.gz").toString(),
                        "console=ttyS0 reboot=k quiet vireo.cmd=\"" + command + "\""),
                List.of(new DeviceConfig(VirtioRng.TYPE, "rng0", Map.of()),
                        new DeviceConfig(VirtioBlk.TYPE, "disk0", Map.of("path", disk.toString(), "serial",
                                "vireo-disk-0"))));
        assertEquals(List.of(), manager.validate(config));
        AtomicReference<VmConsole> console = new AtomicReference<>();
        try (AutoCloseable listener = manager.addListener(e -> {
            if (e.to() == VmState.RUNNING) {
                try {
                    console.set(manager.console(e.vmName()));
                } catch (VireoException notRunning) {
                    throw new IllegalStateException(notRunning);
                }
            }
        })) {
            manager.launch(config);
            assertEquals(VmState.STOPPED, manager.awaitStop("virtio", TIMEOUT_MILLIS));
        }
        String out = new String(console.get().history(), StandardCharsets.ISO_8859_1).replace("\r\n", "\n");
        List<String> lines = out.lines().map(String::trim).toList();
        assertTrue(lines.contains("virtio_rng.0"), "hw_random uses the virtio device:\n" + out);
        assertTrue(lines.contains("1024"), "/dev/hwrng gave 1024 bytes:\n" + out);
        assertTrue(lines.contains("vireo-disk-0"), "the disk's serial number:\n" + out);
        assertTrue(lines.contains(Long.toString((64L << 20) / 512)), "the disk's size in sectors:\n" + out);
        assertTrue(lines.contains("DISK-DONE"), "mkfs, mount, write, umount:\n" + out);

        assertEquals("vireo-was-here\n", debugfs(disk, "cat /hello.txt"));
        String numbers = IntStream.rangeClosed(1, NUMBERS).mapToObj(Integer::toString)
                .collect(Collectors.joining("\n", "", "\n"));
        assertEquals(numbers, debugfs(disk, "cat /numbers.txt"));
        Process fsck = new ProcessBuilder("e2fsck", "-f", "-n", disk.toString()).redirectErrorStream(true).start();
        String fsckOut = new String(fsck.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(fsck.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, fsck.exitValue(), "e2fsck finds the file system clean:\n" + fsckOut);
    }

    private static String debugfs(Path image, String request) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder("debugfs", "-R", request, image.toString()).redirectError(
                    ProcessBuilder.Redirect.DISCARD).start();
        } catch (java.io.IOException e) {
            Assumptions.abort("e2fsprogs' debugfs is not installed: " + e.getMessage());
            throw e;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return out;
    }

    static Path guestDirectory() {
        String cache = System.getProperty("vireo.guest.cache",
                Paths.get(System.getProperty("user.home"), ".cache", "vireo", "guest").toString());
        Path dir = Paths.get(cache, "current");
        if (!Files.isRegularFile(dir.resolve("vmlinuz"))) {
            throw new IllegalStateException("the test guest is missing in " + dir
                    + ": build it with tests/guest/build-guest.sh (or set -Dvireo.guest.cache)");
        }
        return dir;
    }
}
