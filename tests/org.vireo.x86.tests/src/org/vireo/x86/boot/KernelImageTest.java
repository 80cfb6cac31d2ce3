package org.vireo.x86.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.vireo.api.VireoException;

/** Telling bzImage from vmlinux, extracting payloads, and refusing broken kernels with a useful message. */
class KernelImageTest {

    @TempDir
    Path dir;

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private VireoException refused(byte[] bytes) throws IOException {
        Path p = write("kernel", bytes);
        VireoException e = assertThrows(VireoException.class, () -> KernelImage.load(p));
        assertTrue(e.getMessage().contains(p.toString()), "message names the file: " + e.getMessage());
        return e;
    }

    private static void assertMentions(VireoException e, String... words) {
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "message should mention '" + w + "': " + e.getMessage());
        }
    }

    private static void assertIsTestKernel(KernelImage k) {
        assertEquals(TestImages.KERNEL_PADDR, k.entry());
        assertEquals(2, k.elf().segments().size());
        assertEquals(TestImages.KERNEL_PADDR, k.elf().loadStart());
        assertEquals(TestImages.DATA_PADDR + TestImages.DATA_SIZE, k.elf().loadEnd());
        assertEquals(TestImages.PVH_ENTRY, k.elf().pvhEntry().getAsLong());
    }

    @Test
    void readsAnElfVmlinuxAsIs() throws Exception {
        KernelImage k = KernelImage.load(write("vmlinux", TestImages.elf()));
        assertIsTestKernel(k);
        assertTrue(k.setupHeader().isEmpty());
        assertTrue(k.compression().isEmpty());
        assertEquals(Duration.ZERO, k.extractionTime());
    }

    @Test
    void extractsXzPayloadWithX86Filter() throws Exception {
        KernelImage k = KernelImage.load(write("vmlinuz", TestImages.bzImage(TestImages.xz(TestImages.elf()))));
        assertIsTestKernel(k);
        assertEquals(PayloadCompression.XZ, k.compression().orElseThrow());
        SetupHeader h = k.setupHeader().orElseThrow();
        assertEquals(0x020f, h.version());
        assertEquals(TestImages.INIT_SIZE, h.initSize());
        assertEquals(0x7ff, h.cmdlineSize());
        assertTrue(h.relocatable());
    }

    @Test
    void extractsGzipPayload() throws Exception {
        KernelImage k = KernelImage.load(write("vmlinuz", TestImages.bzImage(TestImages.gzip(TestImages.elf()))));
        assertIsTestKernel(k);
        assertEquals(PayloadCompression.GZIP, k.compression().orElseThrow());
    }

    @Test
    void extractsZstdPayload() throws Exception {
        KernelImage k = KernelImage.load(write("vmlinuz", TestImages.bzImage(TestImages.zstd(TestImages.elf()))));
        assertIsTestKernel(k);
        assertEquals(PayloadCompression.ZSTD, k.compression().orElseThrow());
    }

    @Test
    void extractedPayloadIsTheOriginalElf() throws Exception {
        byte[] elf = TestImages.elf();
        byte[] image = TestImages.bzImage(TestImages.xz(elf));
        SetupHeader h = SetupHeader.parse("test", image);
        assertArrayEquals(elf, KernelPayload.extract("test", image, h).data());
    }

    @Test
    void setupSectsZeroMeansFour() throws Exception {
        TestImages.BzImageBuilder b = new TestImages.BzImageBuilder(TestImages.xz(TestImages.elf()));
        b.setupSects = 0;
        SetupHeader h = SetupHeader.parse("test", b.build());
        assertEquals(4, h.setupSects());
        assertEquals(5 * 512 + TestImages.PAYLOAD_OFFSET, h.payloadStart());
    }

    @Test
    void headerBytesRunToTheEndGivenByTheJump() throws Exception {
        byte[] image = TestImages.bzImage(TestImages.xz(TestImages.elf()));
        byte[] raw = SetupHeader.parse("test", image).raw();
        assertEquals(0x26c - 0x1f1, raw.length);
        assertArrayEquals(Arrays.copyOfRange(image, 0x1f1, 0x26c), raw);
    }

    @ParameterizedTest
    @ValueSource(strings = {"lz4", "lz4-frame", "lzma", "bzip2", "lzo"})
    void refusesPayloadsVireoCannotExtract(String format) throws Exception {
        byte[] magic = switch (format) {
            case "lz4" -> new byte[] {0x02, 0x21, 0x4c, 0x18};
            case "lz4-frame" -> new byte[] {0x04, 0x22, 0x4d, 0x18};
            case "lzma" -> new byte[] {0x5d, 0, 0, (byte) 0x80, 0};
            case "bzip2" -> new byte[] {'B', 'Z', 'h', '9'};
            default -> new byte[] {(byte) 0x89, 'L', 'Z', 'O', 0, '\r', '\n', 0x1a, '\n'};
        };
        byte[] payload = Arrays.copyOf(magic, 256);
        VireoException e = refused(TestImages.bzImage(payload));
        String name = format.startsWith("lz4") ? "lz4" : format;
        assertMentions(e, "kernel payload compressed with " + name + "; Vireo reads xz, gzip and zstd;"
                + " boot an ELF vmlinux instead");
    }

    @Test
    void refusesUnknownPayload() throws Exception {
        byte[] payload = new byte[64];
        Arrays.fill(payload, (byte) 0x42);
        assertMentions(refused(TestImages.bzImage(payload)), "payload", "42 42");
    }

    @Test
    void refusesWrongBootFlag() throws Exception {
        // The file is then neither format; with the right HdrS but a bad flag the header parser names the flag.
        TestImages.BzImageBuilder b = new TestImages.BzImageBuilder(TestImages.xz(TestImages.elf()));
        b.bootFlag = 0x1234;
        assertMentions(refused(b.build()), "bzImage", "ELF");
        VireoException e = assertThrows(VireoException.class, () -> SetupHeader.parse("k", b.build()));
        assertMentions(e, "boot_flag", "0x1234", "0xaa55");
    }

    @Test
    void refusesWrongHeaderMagic() throws Exception {
        byte[] image = TestImages.bzImage(TestImages.xz(TestImages.elf()));
        image[0x202] = 'X';
        assertMentions(refused(image), "neither a bzImage");
        VireoException e = assertThrows(VireoException.class, () -> SetupHeader.parse("k", image));
        assertMentions(e, "header at 0x202", "HdrS");
    }

    @Test
    void refusesOldProtocol() throws Exception {
        TestImages.BzImageBuilder b = new TestImages.BzImageBuilder(TestImages.xz(TestImages.elf()));
        b.version = 0x020a;
        assertMentions(refused(b.build()), "boot protocol version 2.10", "2.12");
    }

    @Test
    void refusesKernelWithout64BitEntry() throws Exception {
        TestImages.BzImageBuilder b = new TestImages.BzImageBuilder(TestImages.xz(TestImages.elf()));
        b.xloadflags = 0;
        assertMentions(refused(b.build()), "xloadflags", "XLF_KERNEL_64");
    }

    @Test
    void refusesPayloadOffsetPastTheEnd() throws Exception {
        TestImages.BzImageBuilder b = new TestImages.BzImageBuilder(TestImages.xz(TestImages.elf()));
        b.payloadOffset = 0x10_0000;
        assertMentions(refused(b.build()), "payload_offset", "past the end");
    }

    @Test
    void refusesPayloadLengthPastTheEnd() throws Exception {
        TestImages.BzImageBuilder b = new TestImages.BzImageBuilder(TestImages.xz(TestImages.elf()));
        b.payloadLength = b.payload.length + 0x1000;
        assertMentions(refused(b.build()), "payload_length", "past the end");
    }

    @Test
    void refusesSetupSectsPastTheEnd() throws Exception {
        byte[] image = TestImages.bzImage(TestImages.xz(TestImages.elf()));
        image[SetupHeader.SETUP_SECTS] = (byte) 250;
        assertMentions(refused(image), "setup_sects 250", "past the end");
    }

    @Test
    void refusesCorruptXzStream() throws Exception {
        byte[] payload = TestImages.xz(TestImages.elf());
        payload[payload.length / 2] ^= 0x55;
        payload[payload.length / 2 + 1] ^= 0x55;
        assertMentions(refused(TestImages.bzImage(payload)), "xz payload", "corrupt");
    }

    @Test
    void refusesCorruptGzipAndZstdStreams() throws Exception {
        byte[] gz = TestImages.gzip(TestImages.elf());
        Arrays.fill(gz, 20, 40, (byte) 0xff);
        assertMentions(refused(TestImages.bzImage(gz)), "gzip payload");
        byte[] zs = TestImages.zstd(TestImages.elf());
        Arrays.fill(zs, 10, 30, (byte) 0xff);
        assertMentions(refused(TestImages.bzImage(zs)), "zstd payload");
    }

    @Test
    void refusesSizeTrailerThatDisagreesWithTheStream() throws Exception {
        byte[] payload = TestImages.xz(TestImages.elf());
        ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).putInt(payload.length - 4, 100);
        assertMentions(refused(TestImages.bzImage(payload)), "xz payload", "more than the 100 bytes");
        ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).putInt(payload.length - 4,
                TestImages.elf().length + 4096);
        assertMentions(refused(TestImages.bzImage(payload)), "decompresses to " + TestImages.elf().length);
    }

    @Test
    void refusesPayloadLargerThanInitSize() throws Exception {
        // A "decompression bomb": 8 MiB of zeros, while init_size promises the kernel needs 4 MiB.
        byte[] payload = TestImages.xz(new byte[8 << 20]);
        VireoException e = refused(TestImages.bzImage(payload));
        assertMentions(e, "decompressed size of " + (8 << 20), "init_size");
    }

    @Test
    void refusesXzStreamNeedingTooMuchMemory() throws Exception {
        byte[] payload = TestImages.xz(TestImages.elf());
        // The LZMA2 filter's dictionary-size byte sits in the block header after the x86 filter's flags:
        // block header size, flags, x86 filter id 0x04 + props size 0, LZMA2 id 0x21, props size 1, dict byte.
        int blockHeader = 12;
        assertEquals(0x21, payload[blockHeader + 4]);
        payload[blockHeader + 6] = 36;   // dictionary (2 | 0) << (36 / 2 + 11) = 1 GiB
        // Fix the block header's CRC32 so that the decoder reaches the memory check.
        int headerSize = (payload[blockHeader] + 1) * 4;
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(payload, blockHeader, headerSize - 4);
        ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).putInt(blockHeader + headerSize - 4,
                (int) crc.getValue());
        assertMentions(refused(TestImages.bzImage(payload)), "xz stream needs", "MiB");
    }

    @Test
    void refusesTruncatedBzImageAtEveryStage() throws Exception {
        byte[] image = TestImages.bzImage(TestImages.xz(TestImages.elf()));
        int payloadAt = 5 * 512 + TestImages.PAYLOAD_OFFSET;
        int[] cuts = {0, 1, 0x100, 0x1ff, 0x205, 0x250, 0x26b, 0x26c, 0x400, 5 * 512, payloadAt, payloadAt + 3,
            payloadAt + 100, image.length - 0x44, image.length - 0x41};
        for (int cut : cuts) {
            Path p = write("cut-" + cut, Arrays.copyOf(image, cut));
            VireoException e = assertThrows(VireoException.class, () -> KernelImage.load(p), "cut at " + cut);
            assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        }
    }

    @Test
    void refusesMissingFileAndEmptyFile() throws Exception {
        Path missing = dir.resolve("no-such-kernel");
        assertMentions(assertThrows(VireoException.class, () -> KernelImage.load(missing)), "no such file",
                missing.toString());
        assertMentions(refused(new byte[0]), "neither a bzImage");
    }

    /**
     * Random damage to each kind of image: every outcome is either a kernel or a VireoException,
     * never an exception of another type escaping from a parser or decompressor.
     */
    @Test
    void damagedImagesGiveOnlyVireoExceptions() throws Exception {
        byte[] elf = TestImages.elf();
        byte[][] images = {elf, TestImages.bzImage(TestImages.xz(elf)), TestImages.bzImage(TestImages.gzip(elf)),
            TestImages.bzImage(TestImages.zstd(elf))};
        Random random = new Random(20240601);
        Path p = dir.resolve("damaged");
        int refusedCount = 0;
        for (byte[] original : images) {
            for (int round = 0; round < 150; round++) {
                byte[] image = original.clone();
                int damage = 1 + random.nextInt(4);
                for (int i = 0; i < damage; i++) {
                    // Aim half the damage at the headers, where the interesting fields are.
                    int at = random.nextBoolean() ? random.nextInt(Math.min(image.length, 0xc00))
                            : random.nextInt(image.length);
                    image[at] = (byte) random.nextInt(256);
                }
                if (random.nextInt(5) == 0) {
                    image = Arrays.copyOf(image, random.nextInt(image.length));
                }
                Files.write(p, image);
                try {
                    KernelImage.load(p);
                } catch (VireoException e) {
                    refusedCount++;
                } catch (RuntimeException e) {
                    fail("damaged image gave " + e + " instead of a VireoException", e);
                }
            }
        }
        assertTrue(refusedCount > 100, "most damaged images are refused, got " + refusedCount);
    }
}
