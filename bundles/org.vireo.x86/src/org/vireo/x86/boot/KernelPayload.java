package org.vireo.x86.boot;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

import org.tukaani.xz.MemoryLimitException;
import org.tukaani.xz.SingleXZInputStream;
import org.vireo.api.VireoException;

import io.airlift.compress.zstd.ZstdDecompressor;

/**
 * The kernel a bzImage carries: its payload, decompressed in Java, so that the guest starts
 * at the ELF vmlinux's 64-bit entry instead of spending seconds of guest time decompressing
 * itself.
 *
 * <p>The payload is described by payload_offset and payload_length in the setup header
 * (boot.rst, protocol 2.08). Its last four bytes are the little-endian size of the
 * decompressed data: the kernel's build appends them for every format (scripts/Makefile.lib,
 * size_append) and arch/x86/boot/compressed/mkpiggy.c reads them as z_output_len; for gzip
 * they are the member's own ISIZE. On Debian's 6.1 kernel the xz stream ends with its "YZ"
 * footer, then those four bytes, and payload_length counts them. The loader uses that size to
 * allocate the output exactly and checks that the stream really decodes to it.
 */
public final class KernelPayload {

    /** No payload may decompress to more than this, whatever the header says. */
    public static final long MAX_OUTPUT = 512L << 20;
    /** The kernel's xz uses a 32 MiB dictionary; refuse streams that want far more memory. */
    static final int XZ_MEMORY_LIMIT_KIB = 128 * 1024;
    private static final int SIZE_TRAILER = 4;

    private final PayloadCompression compression;
    private final byte[] data;
    private final Duration decompressionTime;

    private KernelPayload(PayloadCompression compression, byte[] data, Duration decompressionTime) {
        this.compression = compression;
        this.data = data;
        this.decompressionTime = decompressionTime;
    }

    /**
     * Extracts and decompresses the payload of the bzImage {@code image}.
     *
     * @param source names the file in error messages
     * @throws VireoException if the payload is in a format Vireo does not read, is corrupt, or
     *         decompresses to more than the kernel's init_size (or {@link #MAX_OUTPUT})
     */
    public static KernelPayload extract(String source, byte[] image, SetupHeader header) throws VireoException {
        int start = Math.toIntExact(header.payloadStart());
        int length = Math.toIntExact(header.payloadLength());
        PayloadCompression compression = PayloadCompression.detect(image, start, length);
        if (compression == null) {
            byte[] head = Arrays.copyOfRange(image, start, start + Math.min(length, 8));
            throw new VireoException(String.format("%s: the payload at file offset 0x%x (payload_offset 0x%x) starts"
                    + " with %s, which is no known compression format or ELF", source, start,
                    header.payloadOffset(), hex(head)));
        }
        if (!compression.supported()) {
            throw new VireoException(source + ": kernel payload compressed with " + compression.displayName()
                    + "; Vireo reads xz, gzip and zstd; boot an ELF vmlinux instead");
        }
        long startTime = System.nanoTime();
        byte[] data;
        if (compression == PayloadCompression.NONE) {
            data = Arrays.copyOfRange(image, start, start + length);
        } else {
            data = decompress(source, compression, image, start, length, outputLimit(header));
        }
        return new KernelPayload(compression, data, Duration.ofNanos(System.nanoTime() - startTime));
    }

    /** The kernel decompresses into its init_size buffer, so the output can never be larger. */
    private static long outputLimit(SetupHeader header) {
        long initSize = header.initSize();
        return initSize == 0 ? MAX_OUTPUT : Math.min(initSize, MAX_OUTPUT);
    }

    private static byte[] decompress(String source, PayloadCompression compression, byte[] image, int start,
            int length, long limit) throws VireoException {
        String what = source + ": " + compression.displayName() + " payload";
        if (length <= SIZE_TRAILER) {
            throw new VireoException(String.format("%s: payload_length %d is too short for a compressed kernel",
                    what, length));
        }
        long expected = Integer.toUnsignedLong(readLe32(image, start + length - SIZE_TRAILER));
        if (expected == 0 || expected > limit) {
            throw new VireoException(String.format("%s: its last 4 bytes give a decompressed size of %d bytes,"
                    + " expected 1 to %d (the kernel's init_size, at most 512 MiB)", what, expected, limit));
        }
        byte[] out = new byte[(int) expected];
        int produced;
        try {
            switch (compression) {
                case XZ -> produced = readAll(new SingleXZInputStream(
                        new ByteArrayInputStream(image, start, length - SIZE_TRAILER), XZ_MEMORY_LIMIT_KIB), out);
                case GZIP -> produced = readAll(new GZIPInputStream(new ByteArrayInputStream(image, start, length),
                        64 * 1024), out);
                case ZSTD -> produced = new ZstdDecompressor().decompress(image, start, length - SIZE_TRAILER,
                        out, 0, out.length);
                default -> throw new IllegalStateException("unexpected format " + compression);
            }
        } catch (MemoryLimitException e) {
            throw new VireoException(String.format("%s: the xz stream needs %d MiB to decompress, more than the"
                    + " %d MiB Vireo allows", what, e.getMemoryNeeded() >> 10, XZ_MEMORY_LIMIT_KIB >> 10), e);
        } catch (OutputOverflow e) {
            throw new VireoException(String.format("%s: decompresses to more than the %d bytes its last 4 bytes"
                    + " announce", what, expected), e);
        } catch (IOException | RuntimeException e) {
            // The decoders are handed untrusted bytes; whatever they throw on them means a corrupt payload.
            throw new VireoException(what + " is corrupt: " + describe(e), e);
        }
        if (produced != expected) {
            throw new VireoException(String.format("%s: decompresses to %d bytes, but its last 4 bytes announce %d"
                    + " (payload_length 0x%x wrong, or the stream is truncated)", what, produced, expected, length));
        }
        return out;
    }

    /** Reads {@code in} into {@code out}; fails if the stream holds more than fits. */
    private static int readAll(InputStream in, byte[] out) throws IOException {
        try (in) {
            int n = in.readNBytes(out, 0, out.length);
            if (n == out.length && in.read() != -1) {
                throw new OutputOverflow();
            }
            return n;
        }
    }

    private static final class OutputOverflow extends IOException {
        private static final long serialVersionUID = 1L;
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return m == null || m.isEmpty() ? e.getClass().getSimpleName() : m;
    }

    static int readLe32(byte[] b, int offset) {
        return (b[offset] & 0xff) | (b[offset + 1] & 0xff) << 8 | (b[offset + 2] & 0xff) << 16
                | (b[offset + 3] & 0xff) << 24;
    }

    private static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) {
            s.append(String.format("%02x ", b & 0xff));
        }
        return s.toString().trim();
    }

    public PayloadCompression compression() {
        return compression;
    }

    /** The decompressed payload: an ELF vmlinux, possibly followed by its relocation table. */
    public byte[] data() {
        return data;
    }

    public Duration decompressionTime() {
        return decompressionTime;
    }
}
