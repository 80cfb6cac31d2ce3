package org.vireo.x86.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.vireo.api.VireoException;

/**
 * The real-mode setup header of a bzImage, validated for a 64-bit direct boot. Offsets are
 * those of the Linux x86 boot protocol (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel
 * Header"); the same offsets hold in the zero page, where the loader copies the header.
 */
public final class SetupHeader {

    // Field offsets in the image and in the zero page (boot.rst, "The Real-Mode Kernel Header").
    public static final int SETUP_SECTS = 0x1f1;
    public static final int SYSSIZE = 0x1f4;
    public static final int VID_MODE = 0x1fa;
    public static final int BOOT_FLAG = 0x1fe;
    public static final int JUMP = 0x200;
    public static final int HEADER = 0x202;
    public static final int VERSION = 0x206;
    public static final int TYPE_OF_LOADER = 0x210;
    public static final int LOADFLAGS = 0x211;
    public static final int CODE32_START = 0x214;
    public static final int RAMDISK_IMAGE = 0x218;
    public static final int RAMDISK_SIZE = 0x21c;
    public static final int HEAP_END_PTR = 0x224;
    public static final int CMD_LINE_PTR = 0x228;
    public static final int INITRD_ADDR_MAX = 0x22c;
    public static final int KERNEL_ALIGNMENT = 0x230;
    public static final int RELOCATABLE_KERNEL = 0x234;
    public static final int MIN_ALIGNMENT = 0x235;
    public static final int XLOADFLAGS = 0x236;
    public static final int CMDLINE_SIZE = 0x238;
    public static final int PAYLOAD_OFFSET = 0x248;
    public static final int PAYLOAD_LENGTH = 0x24c;
    public static final int SETUP_DATA = 0x250;
    public static final int PREF_ADDRESS = 0x258;
    public static final int INIT_SIZE = 0x260;
    /** The zero page's setup header area ends where edd_mbr_sig_buffer starts (zero-page.rst). */
    public static final int ZERO_PAGE_HEADER_LIMIT = 0x290;

    public static final int BOOT_FLAG_MAGIC = 0xaa55;
    /** "HdrS", little-endian. */
    public static final int HEADER_MAGIC = 0x53726448;
    /** 2.12 added xloadflags, which says whether the kernel has a 64-bit entry. */
    public static final int MIN_VERSION = 0x020c;

    public static final int LOADED_HIGH = 0x01;
    public static final int CAN_USE_HEAP = 0x80;
    public static final int XLF_KERNEL_64 = 0x01;
    public static final int XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;

    /** A sector of the real-mode part. */
    private static final int SECTOR = 512;

    private final byte[] raw;
    private final int setupSects;
    private final int version;
    private final int loadflags;
    private final int xloadflags;
    private final long payloadOffset;
    private final long payloadLength;
    private final long initSize;
    private final long kernelAlignment;
    private final long prefAddress;
    private final long cmdlineSize;
    private final long initrdAddrMax;
    private final boolean relocatable;

    private SetupHeader(byte[] raw, ByteBuffer b) {
        this.raw = raw;
        int sects = b.get(SETUP_SECTS) & 0xff;
        // "If this field is 0, the real value is 4" (boot.rst, setup_sects).
        this.setupSects = sects == 0 ? 4 : sects;
        this.version = b.getShort(VERSION) & 0xffff;
        this.loadflags = b.get(LOADFLAGS) & 0xff;
        this.xloadflags = b.getShort(XLOADFLAGS) & 0xffff;
        this.payloadOffset = u32(b, PAYLOAD_OFFSET);
        this.payloadLength = u32(b, PAYLOAD_LENGTH);
        this.initSize = u32(b, INIT_SIZE);
        this.kernelAlignment = u32(b, KERNEL_ALIGNMENT);
        this.prefAddress = b.getLong(PREF_ADDRESS);
        this.cmdlineSize = u32(b, CMDLINE_SIZE);
        this.initrdAddrMax = u32(b, INITRD_ADDR_MAX);
        this.relocatable = b.get(RELOCATABLE_KERNEL) != 0;
    }

    /** Whether {@code image} starts like a bzImage: boot sector magic and "HdrS". */
    public static boolean looksLikeBzImage(byte[] image) {
        if (image.length < HEADER + 4) {
            return false;
        }
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        return (b.getShort(BOOT_FLAG) & 0xffff) == BOOT_FLAG_MAGIC && b.getInt(HEADER) == HEADER_MAGIC;
    }

    /**
     * Parses and validates the setup header of the bzImage {@code image}.
     *
     * @param source names the file in error messages
     * @throws VireoException if the header is missing, too old for a 64-bit boot, or points
     *         outside the file
     */
    public static SetupHeader parse(String source, byte[] image) throws VireoException {
        // The fixed fields up to kernel_info_offset (0x26c) must be readable before anything else.
        if (image.length < 0x26c) {
            throw new VireoException(source + ": file is " + image.length
                    + " bytes, too short for a Linux setup header (needs at least 0x26c bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int bootFlag = b.getShort(BOOT_FLAG) & 0xffff;
        if (bootFlag != BOOT_FLAG_MAGIC) {
            throw new VireoException(String.format("%s: boot_flag at 0x1fe is 0x%04x, expected 0xaa55: not a bzImage",
                    source, bootFlag));
        }
        int header = b.getInt(HEADER);
        if (header != HEADER_MAGIC) {
            throw new VireoException(String.format("%s: header at 0x202 is 0x%08x, expected \"HdrS\" (0x53726448):"
                    + " not a bzImage, or older than boot protocol 2.00", source, header));
        }
        int version = b.getShort(VERSION) & 0xffff;
        if (version < MIN_VERSION) {
            throw new VireoException(String.format("%s: boot protocol version %d.%02d is too old; a 64-bit direct"
                    + " boot needs 2.12 or later (xloadflags)", source, version >> 8, version & 0xff));
        }
        int xloadflags = b.getShort(XLOADFLAGS) & 0xffff;
        if ((xloadflags & XLF_KERNEL_64) == 0) {
            throw new VireoException(String.format("%s: xloadflags is 0x%04x without XLF_KERNEL_64:"
                    + " not a 64-bit kernel", source, xloadflags));
        }
        // "The end of the setup header can be calculated as 0x0202 + the byte value at 0x0201."
        int end = HEADER + (image[JUMP + 1] & 0xff);
        if (end > ZERO_PAGE_HEADER_LIMIT) {
            throw new VireoException(String.format("%s: the jump at 0x200 puts the end of the setup header at 0x%x,"
                    + " beyond the zero page's header area (0x%x)", source, end, ZERO_PAGE_HEADER_LIMIT));
        }
        if (end < INIT_SIZE + 4) {
            throw new VireoException(String.format("%s: the jump at 0x200 puts the end of the setup header at 0x%x,"
                    + " before init_size (0x260), which protocol %d.%02d has", source, end, version >> 8,
                    version & 0xff));
        }
        byte[] raw = Arrays.copyOfRange(image, SETUP_SECTS, end);
        SetupHeader h = new SetupHeader(raw, b);
        h.validateLayout(source, image.length);
        return h;
    }

    private void validateLayout(String source, long fileLength) throws VireoException {
        long setupEnd = protectedModeOffset();
        if (setupEnd > fileLength) {
            throw new VireoException(String.format("%s: setup_sects %d puts the protected-mode kernel at 0x%x,"
                    + " past the end of the %d-byte file (truncated?)", source, setupSects, setupEnd, fileLength));
        }
        if (payloadLength == 0) {
            throw new VireoException(source + ": payload_length is 0: the bzImage carries no kernel payload");
        }
        long start = payloadStart();
        if (start >= fileLength) {
            throw new VireoException(String.format("%s: payload_offset 0x%x puts the payload at file offset 0x%x,"
                    + " past the end of the %d-byte file", source, payloadOffset, start, fileLength));
        }
        if (start + payloadLength > fileLength) {
            throw new VireoException(String.format("%s: payload_length 0x%x at file offset 0x%x runs to 0x%x,"
                    + " past the end of the %d-byte file (truncated?)", source, payloadLength, start,
                    start + payloadLength, fileLength));
        }
        if (kernelAlignment != 0 && (kernelAlignment & (kernelAlignment - 1)) != 0) {
            throw new VireoException(String.format("%s: kernel_alignment 0x%x is not a power of two",
                    source, kernelAlignment));
        }
    }

    private static long u32(ByteBuffer b, int offset) {
        return b.getInt(offset) & 0xffffffffL;
    }

    /** The header bytes from 0x1f1 to the end of the header, to copy into the zero page at 0x1f1. */
    public byte[] raw() {
        return raw.clone();
    }

    /** setup_sects with 0 read as 4. */
    public int setupSects() {
        return setupSects;
    }

    /** File offset of the protected-mode kernel: after the boot sector and the setup sectors. */
    public long protectedModeOffset() {
        return (setupSects + 1L) * SECTOR;
    }

    /** File offset of the payload (payload_offset counts from the protected-mode kernel). */
    public long payloadStart() {
        return protectedModeOffset() + payloadOffset;
    }

    public int version() {
        return version;
    }

    public int loadflags() {
        return loadflags;
    }

    public int xloadflags() {
        return xloadflags;
    }

    public long payloadOffset() {
        return payloadOffset;
    }

    public long payloadLength() {
        return payloadLength;
    }

    /** Bytes of memory the kernel needs from its load address while it starts. */
    public long initSize() {
        return initSize;
    }

    public long kernelAlignment() {
        return kernelAlignment;
    }

    public long prefAddress() {
        return prefAddress;
    }

    /** The longest command line the kernel takes, without the terminating NUL. */
    public long cmdlineSize() {
        return cmdlineSize;
    }

    /** The highest address the initrd's last byte may have. */
    public long initrdAddrMax() {
        return initrdAddrMax;
    }

    public boolean relocatable() {
        return relocatable;
    }

    @Override
    public String toString() {
        return String.format("boot protocol %d.%02d, setup_sects %d, payload 0x%x+0x%x, init_size 0x%x,"
                + " pref_address 0x%x, kernel_alignment 0x%x, xloadflags 0x%x", version >> 8, version & 0xff,
                setupSects, payloadStart(), payloadLength, initSize, prefAddress, kernelAlignment, xloadflags);
    }
}
