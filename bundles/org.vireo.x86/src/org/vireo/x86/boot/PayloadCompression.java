package org.vireo.x86.boot;

/**
 * How a bzImage's payload is stored, recognised by the magic numbers of each format, as
 * boot.rst asks ("the format of both the compressed and uncompressed data should be
 * determined using the standard magic numbers"). The kernel can be built with any of them
 * (CONFIG_KERNEL_*); Vireo extracts the first three in Java.
 */
public enum PayloadCompression {
    XZ("xz", true, new byte[] {(byte) 0xfd, '7', 'z', 'X', 'Z', 0}),
    GZIP("gzip", true, new byte[] {0x1f, (byte) 0x8b}),
    ZSTD("zstd", true, new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd}),
    /** An ELF vmlinux stored as is. */
    NONE("none", true, new byte[] {0x7f, 'E', 'L', 'F'}),
    /** The legacy .lzma header: properties byte 0x5d, then the dictionary size (lc=3, lp=0, pb=2). */
    LZMA("lzma", false, new byte[] {0x5d, 0x00, 0x00}),
    BZIP2("bzip2", false, new byte[] {'B', 'Z', 'h'}),
    /** The LZ4 legacy frame that the kernel's "lz4 -l" writes. */
    LZ4("lz4", false, new byte[] {0x02, 0x21, 0x4c, 0x18}),
    /** The LZ4 frame format. */
    LZ4_FRAME("lz4", false, new byte[] {0x04, 0x22, 0x4d, 0x18}),
    LZO("lzo", false, new byte[] {(byte) 0x89, 'L', 'Z', 'O', 0, '\r', '\n', 0x1a, '\n'});

    private final String displayName;
    private final boolean supported;
    private final byte[] magic;

    PayloadCompression(String displayName, boolean supported, byte[] magic) {
        this.displayName = displayName;
        this.supported = supported;
        this.magic = magic;
    }

    /** The format's usual name ("xz", "lz4"). */
    public String displayName() {
        return displayName;
    }

    /** Whether Vireo can extract this format. */
    public boolean supported() {
        return supported;
    }

    /** The format whose magic starts {@code data} at {@code offset}, or {@code null}. */
    public static PayloadCompression detect(byte[] data, int offset, int length) {
        for (PayloadCompression c : values()) {
            if (c.matches(data, offset, length)) {
                return c;
            }
        }
        return null;
    }

    private boolean matches(byte[] data, int offset, int length) {
        if (length < magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if (data[offset + i] != magic[i]) {
                return false;
            }
        }
        return true;
    }
}
