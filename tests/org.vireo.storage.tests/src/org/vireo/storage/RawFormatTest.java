package org.vireo.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.vireo.api.VireoException;
import org.vireo.api.storage.BlockImage;

/** Creating raw images, and the errors a user gets for files that cannot be opened as one. */
class RawFormatTest {

    private final RawFormat raw = new RawFormat();

    @TempDir
    Path dir;

    @Test
    void rawIsTheFallbackThatAcceptsAnyHeader() {
        assertEquals("raw", raw.type());
        assertTrue(raw.probe(new byte[0]));
        assertTrue(raw.probe("QFI\u00fb\0\0\0\3".getBytes(StandardCharsets.ISO_8859_1)), "even a qcow2 header");
    }

    @Test
    void createMakesASparseFileOfTheExactSizeThatReadsAsZeroes() throws Exception {
        Path file = dir.resolve("big.img");
        long size = 1L << 30;
        raw.create(file, size);
        assertEquals(size, Files.size(file));
        assertTrue(HostTools.allocatedBytes(file) < (1 << 20),
                "a new 1 GiB image allocates (almost) nothing: " + HostTools.allocatedBytes(file) + " bytes");
        try (BlockImage image = raw.open(file, false)) {
            assertEquals(size, image.size());
            assertFalse(image.readOnly());
            ByteBuffer last = ByteBuffer.allocate(4096);
            image.read(size - 4096, last);
            assertArrayEquals(new byte[4096], last.array());
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {0, -512, 511, 1000, 513})
    void createRefusesASizeThatIsNotAPositiveMultipleOf512(long size) {
        Path file = dir.resolve("bad.img");
        VireoException e = assertThrows(VireoException.class, () -> raw.create(file, size));
        assertMessage(e, file, String.valueOf(size), "positive multiple of 512");
        assertFalse(Files.exists(file), "nothing is left behind");
    }

    @Test
    void createNeverOverwritesAFile() throws Exception {
        Path file = dir.resolve("precious.img");
        Files.writeString(file, "the only copy");
        VireoException e = assertThrows(VireoException.class, () -> raw.create(file, 512));
        assertMessage(e, file, "exists already");
        assertEquals("the only copy", Files.readString(file));
    }

    @Test
    void createIntoAMissingDirectoryOrOverADirectory() throws Exception {
        Path nowhere = dir.resolve("no/such/dir/disk.img");
        assertMessage(assertThrows(VireoException.class, () -> raw.create(nowhere, 512)), nowhere, "does not exist");
        Path sub = Files.createDirectory(dir.resolve("sub"));
        assertMessage(assertThrows(VireoException.class, () -> raw.create(sub, 512)), sub, "directory");
    }

    @Test
    void createTooLargeForTheFileSystemLeavesNothingBehind() throws Exception {
        Path file = dir.resolve("huge.img");
        long size = Long.MAX_VALUE / 512 * 512;
        try {
            raw.create(file, size);
        } catch (VireoException e) {
            assertMessage(e, file, String.valueOf(size));
            assertFalse(Files.exists(file));
            return;
        }
        Files.delete(file);
        assumeTrue(false, "the file system under " + dir + " holds an 8 EiB sparse file");
    }

    @Test
    void createWhereThereIsNoPermission() throws Exception {
        Path locked = Files.createDirectory(dir.resolve("locked"));
        Path file = locked.resolve("disk.img");
        if (!HostTools.runningAsRoot()) {
            Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("r-xr-xr-x"));
            try {
                assertMessage(assertThrows(VireoException.class, () -> raw.create(file, 512)), file,
                        "permission denied");
            } finally {
                Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
            return;
        }
        // Root ignores permission bits; an immutable directory stops even root.
        assumeTrue(HostTools.immutable(locked, true), "running as root, and chattr +i is not allowed here");
        try {
            assertMessage(assertThrows(VireoException.class, () -> raw.create(file, 512)), file, "permission denied");
        } finally {
            HostTools.immutable(locked, false);
        }
    }

    @Test
    void openAMissingFile() {
        Path file = dir.resolve("missing.img");
        assertMessage(assertThrows(VireoException.class, () -> raw.open(file, false)), file, "does not exist");
        assertMessage(assertThrows(VireoException.class, () -> raw.open(file, true)), file, "does not exist");
    }

    @Test
    void openADirectoryOrADevice() {
        assertMessage(assertThrows(VireoException.class, () -> raw.open(dir, false)), dir, "is a directory");
        Path device = Path.of("/dev/null");
        assertMessage(assertThrows(VireoException.class, () -> raw.open(device, true)), device,
                "not a regular file");
    }

    @Test
    void openAnEmptyFile() throws Exception {
        Path file = Files.createFile(dir.resolve("empty.img"));
        assertMessage(assertThrows(VireoException.class, () -> raw.open(file, false)), file, "empty");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 511, 513, 1000, 4097})
    void openAFileThatIsNotWholeSectors(int size) throws Exception {
        Path file = Files.write(dir.resolve("odd.img"), new byte[size]);
        VireoException e = assertThrows(VireoException.class, () -> raw.open(file, true));
        assertMessage(e, file, size + " bytes", "512-byte sectors");
    }

    @Test
    void openWithoutPermission() throws Exception {
        Path file = dir.resolve("theirs.img");
        raw.create(file, 4096);
        if (!HostTools.runningAsRoot()) {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--r--r--"));
            assertMessage(assertThrows(VireoException.class, () -> raw.open(file, false)), file,
                    "for reading and writing: permission denied");
            raw.open(file, true).close();
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("---------"));
            assertMessage(assertThrows(VireoException.class, () -> raw.open(file, true)), file,
                    "for reading: permission denied");
            return;
        }
        // Root ignores permission bits; the immutable attribute refuses writing even to root.
        assumeTrue(HostTools.immutable(file, true), "running as root, and chattr +i is not allowed here");
        try {
            assertMessage(assertThrows(VireoException.class, () -> raw.open(file, false)), file,
                    "for reading and writing: permission denied");
            raw.open(file, true).close();
        } finally {
            HostTools.immutable(file, false);
        }
    }

    static void assertMessage(Exception e, Path file, String... parts) {
        String message = e.getMessage();
        assertTrue(message.contains(file.toString()), "names " + file + ": " + message);
        for (String part : parts) {
            assertTrue(message.contains(part), "says \"" + part + "\": " + message);
        }
    }
}
