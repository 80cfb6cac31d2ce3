package org.vireo.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.vireo.storage.RawFormatTest.assertMessage;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.vireo.api.VireoException;
import org.vireo.api.storage.BlockImage;

/**
 * I/O on raw images, checked against the bytes on disk. Tests that take a boolean run twice:
 * with the host's calls (OFD lock, fallocate) and in pure Java, as on a host without them.
 */
class RawImageTest {

    private static final int MIB = 1 << 20;

    private final RawFormat raw = new RawFormat();

    @TempDir
    Path dir;

    private Path newImage(long size) throws Exception {
        Path file = dir.resolve("disk.img");
        raw.create(file, size);
        return file;
    }

    @Test
    void randomWritesReadBackAndAreTheBytesInTheFile() throws Exception {
        int size = 4 * MIB;
        Path file = newImage(size);
        byte[] model = new byte[size];
        Random random = new Random(0x7ea5eedL);
        try (RawImage image = RawImage.open(file, false, true)) {
            for (int i = 0; i < 400; i++) {
                int length = 1 + random.nextInt(random.nextBoolean() ? 1024 : 96 * 1024);
                int offset = random.nextInt(size - length + 1);
                byte[] data = new byte[length];
                random.nextBytes(data);
                // Heap, direct, and a buffer whose position is not 0: only the remaining bytes count.
                ByteBuffer src = switch (i % 3) {
                    case 0 -> ByteBuffer.wrap(data);
                    case 1 -> ByteBuffer.allocateDirect(length).put(data).flip();
                    default -> ByteBuffer.allocate(length + 7).position(7).put(data).position(7);
                };
                image.write(offset, src);
                assertFalse(src.hasRemaining(), "write consumes the buffer");
                System.arraycopy(data, 0, model, offset, length);
                if (i % 10 == 0) {
                    int readLength = 1 + random.nextInt(64 * 1024);
                    int readOffset = random.nextInt(size - readLength + 1);
                    ByteBuffer dst = ByteBuffer.allocateDirect(readLength);
                    image.read(readOffset, dst);
                    assertFalse(dst.hasRemaining(), "read fills the buffer");
                    assertArrayEquals(Arrays.copyOfRange(model, readOffset, readOffset + readLength),
                            bytes(dst.flip()));
                }
            }
            ByteBuffer all = ByteBuffer.allocate(size);
            image.read(0, all);
            assertArrayEquals(model, all.array());
            image.flush();
            // Another reader of the file, while the image is still open (and its lock held).
            byte[] seen = new byte[size];
            try (RandomAccessFile file2 = new RandomAccessFile(file.toFile(), "r")) {
                file2.readFully(seen);
            }
            assertArrayEquals(model, seen);
            ByteBuffer again = ByteBuffer.allocate(4096);
            image.read(0, again);
            assertArrayEquals(Arrays.copyOf(model, 4096), again.array(), "the image still works after that");
        }
        assertArrayEquals(model, Files.readAllBytes(file));
        assertEquals(size, Files.size(file), "a raw image never grows");
    }

    @Test
    void severalThreadsWriteAndReadOneImage() throws Exception {
        int threads = 8;
        int stripe = 512 * 1024;
        Path file = newImage((long) threads * stripe);
        try (RawImage image = RawImage.open(file, false, true)) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<byte[]>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int base = t * stripe;
                    long seed = t;
                    done.add(pool.submit(() -> {
                        byte[] mine = new byte[stripe];
                        Random random = new Random(seed);
                        for (int i = 0; i < 200; i++) {
                            int length = 1 + random.nextInt(8192);
                            int at = random.nextInt(stripe - length + 1);
                            byte[] data = new byte[length];
                            random.nextBytes(data);
                            image.write(base + at, ByteBuffer.wrap(data));
                            System.arraycopy(data, 0, mine, at, length);
                            ByteBuffer back = ByteBuffer.allocate(length);
                            image.read(base + at, back);
                            assertArrayEquals(data, back.array());
                        }
                        return mine;
                    }));
                }
                List<byte[]> written = new ArrayList<>();
                for (Future<byte[]> f : done) {
                    written.add(f.get());
                }
                byte[] disk = Files.readAllBytes(file);
                for (int t = 0; t < threads; t++) {
                    assertArrayEquals(written.get(t), Arrays.copyOfRange(disk, t * stripe, (t + 1) * stripe),
                            "stripe " + t);
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void readsAndWritesOutsideTheImageFailAndChangeNothing() throws Exception {
        int size = MIB;
        Path file = newImage(size);
        try (RawImage image = RawImage.open(file, false, true)) {
            image.write(size - 512, ByteBuffer.wrap(filled(512, (byte) 0x5a)));

            ByteBuffer dst = ByteBuffer.allocate(512);
            IOException e = assertThrows(IOException.class, () -> image.read(size - 511, dst));
            assertMessage(e, file, "512 bytes at offset " + (size - 511), "size is " + size + " bytes");
            assertEquals(0, dst.position(), "no partial read");
            assertThrows(IOException.class, () -> image.read(-1, ByteBuffer.allocate(1)));
            assertThrows(IOException.class, () -> image.read(size, ByteBuffer.allocate(1)));
            assertThrows(IOException.class, () -> image.read(Long.MAX_VALUE, ByteBuffer.allocate(2)));
            image.read(size, ByteBuffer.allocate(0)); // nothing, at the very end: fine

            ByteBuffer src = ByteBuffer.wrap(filled(200, (byte) 0xee));
            e = assertThrows(IOException.class, () -> image.write(size - 100, src));
            assertMessage(e, file, "200 bytes at offset " + (size - 100), "size is " + size + " bytes");
            assertEquals(0, src.position());
            assertThrows(IOException.class, () -> image.write(-512, ByteBuffer.allocate(512)));
            assertThrows(IOException.class, () -> image.discard(size - 512, 1024));
            assertThrows(IOException.class, () -> image.writeZeroes(-1, 512));
            assertThrows(IOException.class, () -> image.discard(0, -1));
        }
        byte[] disk = Files.readAllBytes(file);
        assertEquals(size, disk.length, "the file did not grow");
        assertArrayEquals(filled(512, (byte) 0x5a), Arrays.copyOfRange(disk, size - 512, size));
    }

    @Test
    void aReadOnlyImageRefusesEveryChange() throws Exception {
        Path file = newImage(64 * 1024);
        try (BlockImage image = raw.open(file, false)) {
            image.write(0, ByteBuffer.wrap(filled(4096, (byte) 1)));
        }
        byte[] before = Files.readAllBytes(file);
        try (BlockImage image = raw.open(file, true)) {
            assertTrue(image.readOnly());
            ByteBuffer dst = ByteBuffer.allocate(4096);
            image.read(0, dst);
            assertArrayEquals(filled(4096, (byte) 1), dst.array());
            String readOnly = "image " + file + " is read-only";
            assertMessage(assertThrows(IOException.class, () -> image.write(0, ByteBuffer.allocate(512))), file,
                    readOnly);
            assertMessage(assertThrows(IOException.class, () -> image.discard(0, 512)), file, readOnly);
            assertMessage(assertThrows(IOException.class, () -> image.writeZeroes(0, 512)), file, readOnly);
            image.flush(); // nothing to make durable, and no error
        }
        assertArrayEquals(before, Files.readAllBytes(file));
    }

    @Test
    void flushedWritesAreInTheFile() throws Exception {
        Path file = newImage(MIB);
        try (BlockImage image = raw.open(file, false)) {
            image.write(4096, ByteBuffer.wrap(filled(8192, (byte) 0x42)));
            image.flush();
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
                byte[] seen = new byte[8192];
                f.seek(4096);
                f.readFully(seen);
                assertArrayEquals(filled(8192, (byte) 0x42), seen);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void discardReadsBackZeroesAndFreesHostBlocks(boolean hostCalls) throws Exception {
        int size = 16 * MIB;
        Path file = newImage(size);
        byte[] model = new byte[size];
        new Random(7).nextBytes(model);
        try (RawImage image = RawImage.open(file, false, hostCalls)) {
            image.write(0, ByteBuffer.wrap(model));
            image.flush();
            long before = HostTools.allocatedBytes(file);
            assertTrue(before >= size, "written through: " + before);

            image.discard(4 * MIB, 8 * MIB);
            Arrays.fill(model, 4 * MIB, 12 * MIB, (byte) 0);
            image.discard(1000, 5000); // not sector aligned: exactly these bytes
            Arrays.fill(model, 1000, 6000, (byte) 0);
            image.discard(size - 512, 512); // up to the very end: the size stays
            Arrays.fill(model, size - 512, size, (byte) 0);
            image.flush();

            ByteBuffer all = ByteBuffer.allocate(size);
            image.read(0, all);
            assertArrayEquals(model, all.array());
            assertArrayEquals(model, Files.readAllBytes(file));
            assertEquals(size, Files.size(file));

            long after = HostTools.allocatedBytes(file);
            if (!hostCalls) {
                assertFalse(image.punchesHoles(), "pure Java writes zeroes");
                return;
            }
            assumeTrue(image.punchesHoles(), "the file system under " + dir
                    + " cannot punch holes; checked that discarded bytes read as zeroes only");
            assertTrue(before - after >= 8 * MIB - 64 * 1024,
                    "discarding 8 MiB frees about 8 MiB on the host: " + before + " -> " + after + " bytes");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void writeZeroesReadsBackZeroes(boolean hostCalls) throws Exception {
        int size = 8 * MIB;
        Path file = newImage(size);
        byte[] model = new byte[size];
        new Random(11).nextBytes(model);
        try (RawImage image = RawImage.open(file, false, hostCalls)) {
            image.write(0, ByteBuffer.wrap(model));
            // Longer than the 1 MiB zero buffer, starting and ending off any sector boundary.
            image.writeZeroes(123, 3 * MIB + 17);
            Arrays.fill(model, 123, 123 + 3 * MIB + 17, (byte) 0);
            image.writeZeroes(5 * MIB, 512);
            Arrays.fill(model, 5 * MIB, 5 * MIB + 512, (byte) 0);
            image.writeZeroes(size - 4096, 4096);
            Arrays.fill(model, size - 4096, size, (byte) 0);
            image.writeZeroes(7, 0);

            ByteBuffer all = ByteBuffer.allocateDirect(size);
            image.read(0, all);
            assertArrayEquals(model, bytes(all.flip()));
        }
        assertArrayEquals(model, Files.readAllBytes(file));
    }

    @Test
    void oneWriterOrManyReaders() throws Exception {
        Path file = newImage(MIB);
        try (BlockImage writer = raw.open(file, false)) {
            assertFalse(writer.readOnly());
            assertMessage(assertThrows(VireoException.class, () -> raw.open(file, false)), file, "in use");
            assertMessage(assertThrows(VireoException.class, () -> raw.open(file, true)), file, "in use");
            // A plain reader opening and closing the file does not release the writer's lock.
            Files.readAllBytes(file);
            assertMessage(assertThrows(VireoException.class, () -> raw.open(file, false)), file, "in use");
        }
        try (BlockImage reader1 = raw.open(file, true); BlockImage reader2 = raw.open(file, true)) {
            assertTrue(reader1.readOnly() && reader2.readOnly());
            VireoException e = assertThrows(VireoException.class, () -> raw.open(file, false));
            assertMessage(e, file, "in use", "read lock");
        }
        raw.open(file, false).close(); // every lock went with its image
    }

    @Test
    void withoutHostCallsTheJdkLockStillRefusesASecondWriter() throws Exception {
        Path file = newImage(MIB);
        try (RawImage writer = RawImage.open(file, false, false)) {
            assertFalse(writer.punchesHoles());
            VireoException e = assertThrows(VireoException.class, () -> RawImage.open(file, false, false));
            assertMessage(e, file, "in use");
        }
        RawImage.open(file, false, false).close();
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void anInterruptedIoThreadDoesNotBreakTheImageForTheOthers(boolean hostCalls) throws Exception {
        Path file = newImage(MIB);
        try (RawImage image = RawImage.open(file, false, hostCalls)) {
            image.write(0, ByteBuffer.wrap(filled(4096, (byte) 9)));
            AtomicReference<Throwable> seen = new AtomicReference<>();
            Thread interrupted = new Thread(() -> {
                Thread.currentThread().interrupt();
                try {
                    image.read(0, ByteBuffer.allocate(4096));
                } catch (Throwable t) {
                    seen.set(t);
                }
            });
            interrupted.start();
            interrupted.join();
            assertInstanceOf(InterruptedIOException.class, seen.get());

            ByteBuffer dst = ByteBuffer.allocate(4096);
            image.read(0, dst);
            assertArrayEquals(filled(4096, (byte) 9), dst.array());
            image.write(4096, ByteBuffer.wrap(filled(512, (byte) 3)));
            image.flush();
            // and the image is still locked against a second writer
            assertThrows(VireoException.class, () -> RawImage.open(file, false, hostCalls));
        }
        assertArrayEquals(filled(512, (byte) 3), Arrays.copyOfRange(Files.readAllBytes(file), 4096, 4608));
    }

    @Test
    void closeIsIdempotentAndLaterCallsFail() throws Exception {
        Path file = newImage(MIB);
        RawImage image = RawImage.open(file, false, true);
        image.close();
        image.close();
        assertMessage(assertThrows(IOException.class, () -> image.read(0, ByteBuffer.allocate(512))), file, "closed");
        assertMessage(assertThrows(IOException.class, () -> image.write(0, ByteBuffer.allocate(512))), file,
                "closed");
        assertMessage(assertThrows(IOException.class, () -> image.discard(0, 512)), file, "closed");
        assertMessage(assertThrows(IOException.class, () -> image.writeZeroes(0, 512)), file, "closed");
        assertMessage(assertThrows(IOException.class, image::flush), file, "closed");
    }

    private static byte[] filled(int length, byte value) {
        byte[] b = new byte[length];
        Arrays.fill(b, value);
        return b;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
