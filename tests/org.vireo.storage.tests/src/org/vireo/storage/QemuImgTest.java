package org.vireo.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QEMU's qemu-img (Debian's qemu-utils) as the reference: an image Vireo creates and writes is
 * the disk QEMU sees, and QEMU keeps out of an image Vireo is writing. Skipped without qemu-img.
 */
class QemuImgTest {

    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    @BeforeEach
    void needsQemuImg() throws Exception {
        assumeTrue(HostTools.installed("qemu-img"), "qemu-img is not installed (Debian package qemu-utils)");
    }

    @Test
    void anImageVireoWroteIsIdenticalToTheSameBytesWrittenByPlainJava() throws Exception {
        Path vireo = dir.resolve("vireo.img");
        Path plain = dir.resolve("plain.img");
        new RawFormat().create(vireo, SIZE);
        Random random = new Random(0x9e11);
        try (RawImage image = RawImage.open(vireo, false, true);
                RandomAccessFile reference = new RandomAccessFile(plain.toFile(), "rw")) {
            reference.setLength(SIZE);
            for (int i = 0; i < 100; i++) {
                int length = 1 + random.nextInt(64 * 1024);
                long offset = random.nextInt(SIZE - length + 1);
                byte[] data = new byte[length];
                random.nextBytes(data);
                image.write(offset, ByteBuffer.wrap(data));
                reference.seek(offset);
                reference.write(data);
            }
            // Zeroes, both ways Vireo makes them.
            image.discard(1 << 20, 1 << 20);
            image.writeZeroes(3 << 20, 12345);
            reference.seek(1 << 20);
            reference.write(new byte[1 << 20]);
            reference.seek(3 << 20);
            reference.write(new byte[12345]);
            image.flush();
        }
        HostTools.Result compare = HostTools.run("qemu-img", "compare", "-f", "raw", "-F", "raw", vireo.toString(),
                plain.toString());
        assertEquals(0, compare.status(), compare.output());
        assertEquals("Images are identical.", compare.output());

        HostTools.Result info = HostTools.run("qemu-img", "info", vireo.toString());
        assertTrue(info.output().contains("file format: raw"), info.output());
        assertTrue(info.output().contains("(" + SIZE + " bytes)"), info.output());
    }

    @Test
    void qemuCannotOpenAnImageVireoIsWriting() throws Exception {
        Path file = dir.resolve("busy.img");
        new RawFormat().create(file, SIZE);
        try (RawImage image = RawImage.open(file, false, true)) {
            assertEquals(SIZE, image.size());
            HostTools.Result compare = HostTools.run("qemu-img", "compare", "-f", "raw", "-F", "raw",
                    file.toString(), file.toString());
            assertNotEquals(0, compare.status(), compare.output());
            assertTrue(compare.output().contains("lock"), compare.output());
        }
        HostTools.Result compare = HostTools.run("qemu-img", "compare", "-f", "raw", "-F", "raw", file.toString(),
                file.toString());
        assertEquals(0, compare.status(), "the lock went with the image: " + compare.output());
    }
}
