package org.vireo.x86.boot;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import org.tukaani.xz.FilterOptions;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.X86Options;
import org.tukaani.xz.XZ;
import org.tukaani.xz.XZOutputStream;

import io.airlift.compress.zstd.ZstdCompressor;

/**
 * Small kernels built in memory for the tests: an ELF64 x86-64 executable shaped like a
 * vmlinux (load address 16 MiB, a bss tail, Xen's PVH note), and bzImages that carry it
 * compressed the way the kernel's build does (payload followed by its 4-byte decompressed size).
 */
final class TestImages {

    static final long KERNEL_PADDR = 0x100_0000L;
    static final long KERNEL_VADDR = 0xffff_ffff_8100_0000L;
    static final int TEXT_SIZE = 0x3000;
    static final int BSS_SIZE = 0x2000;
    static final long DATA_PADDR = 0x120_0000L;
    static final int DATA_SIZE = 0x800;
    static final long PVH_ENTRY = KERNEL_PADDR + 0x850;
    /** The setup_sects of the synthetic bzImages: the protected-mode code starts at (4 + 1) * 512. */
    static final int SETUP_SECTS = 4;
    /** Bytes of fake decompressor code between the protected-mode start and the payload. */
    static final int PAYLOAD_OFFSET = 0x100;
    static final long INIT_SIZE = 0x40_0000L;

    private TestImages() {
    }

    /** A vmlinux-like ELF: text+bss at 16 MiB, data at 18 MiB, a PVH note, entry at the text start. */
    static byte[] elf() {
        return new ElfBuilder().build();
    }

    /** The byte a test ELF's segment holds at {@code offset}. */
    static byte pattern(int segment, int offset) {
        return (byte) (offset * 7 + segment * 31 + (offset >> 8));
    }

    /** Builds an ELF64 executable; fields can be spoiled one at a time. */
    static final class ElfBuilder {
        int elfClass = 2;
        int machine = 62;
        int type = 2;
        long entry = KERNEL_PADDR;
        boolean pvhNote = true;
        final List<long[]> loads = new ArrayList<>();  // {paddr, vaddr, filesz, memsz}

        ElfBuilder() {
            loads.add(new long[] {KERNEL_PADDR, KERNEL_VADDR, TEXT_SIZE, TEXT_SIZE + BSS_SIZE});
            loads.add(new long[] {DATA_PADDR, KERNEL_VADDR + (DATA_PADDR - KERNEL_PADDR), DATA_SIZE, DATA_SIZE});
        }

        byte[] build() {
            int phnum = loads.size() + (pvhNote ? 1 : 0);
            int phoff = 64;
            int dataStart = align(phoff + phnum * 56, 0x1000);
            int[] offsets = new int[loads.size()];
            int at = dataStart;
            for (int i = 0; i < loads.size(); i++) {
                offsets[i] = at;
                at = align(at + (int) loads.get(i)[2], 0x1000);
            }
            byte[] note = pvhNote ? xenNote(ElfKernel.XEN_ELFNOTE_PHYS32_ENTRY, PVH_ENTRY) : new byte[0];
            int noteAt = at;
            ByteBuffer b = ByteBuffer.allocate(noteAt + note.length).order(ByteOrder.LITTLE_ENDIAN);
            b.put(new byte[] {0x7f, 'E', 'L', 'F', (byte) elfClass, 1, 1});
            b.putShort(0x10, (short) type).putShort(0x12, (short) machine).putInt(0x14, 1).putLong(0x18, entry)
                    .putLong(0x20, phoff).putShort(0x34, (short) 64).putShort(0x36, (short) 56)
                    .putShort(0x38, (short) phnum);
            for (int i = 0; i < loads.size(); i++) {
                long[] l = loads.get(i);
                int ph = phoff + i * 56;
                b.putInt(ph, 1).putInt(ph + 4, i == 0 ? 5 : 6).putLong(ph + 8, offsets[i]).putLong(ph + 16, l[1])
                        .putLong(ph + 24, l[0]).putLong(ph + 32, l[2]).putLong(ph + 40, l[3])
                        .putLong(ph + 48, 0x20_0000);
                for (int j = 0; j < l[2]; j++) {
                    b.put(offsets[i] + j, pattern(i, j));
                }
            }
            if (pvhNote) {
                int ph = phoff + loads.size() * 56;
                b.putInt(ph, 4).putInt(ph + 4, 4).putLong(ph + 8, noteAt).putLong(ph + 32, note.length)
                        .putLong(ph + 40, note.length).putLong(ph + 48, 4);
                b.put(noteAt, note);
            }
            return b.array();
        }
    }

    /** Two notes: an unrelated one first, then Xen's with an 8-byte descriptor, as Linux 6.1 has it. */
    static byte[] xenNote(int type, long value) {
        ByteBuffer n = ByteBuffer.allocate(2 * (12 + 4 + 8)).order(ByteOrder.LITTLE_ENDIAN);
        n.putInt(4).putInt(8).putInt(6).put("Xen\0".getBytes(StandardCharsets.US_ASCII)).putLong(0x1234);
        n.putInt(4).putInt(8).putInt(type).put("Xen\0".getBytes(StandardCharsets.US_ASCII)).putLong(value);
        return n.array();
    }

    static int align(int n, int a) {
        return (n + a - 1) & -a;
    }

    /** {@code compressed} followed by the 4-byte little-endian size of {@code original}, as size_append does. */
    static byte[] withSize(byte[] compressed, int originalSize) {
        byte[] out = Arrays.copyOf(compressed, compressed.length + 4);
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putInt(compressed.length, originalSize);
        return out;
    }

    /** xz with the x86 BCJ filter and CRC32, as scripts/xz_wrap.sh makes it, plus the size. */
    static byte[] xz(byte[] data) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            LZMA2Options lzma2 = new LZMA2Options();
            lzma2.setDictSize(1 << 20);
            try (XZOutputStream out = new XZOutputStream(bytes, new FilterOptions[] {new X86Options(), lzma2},
                    XZ.CHECK_CRC32)) {
                out.write(data);
            }
            return withSize(bytes.toByteArray(), data.length);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** gzip: its ISIZE already is the trailing size. */
    static byte[] gzip(byte[] data) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
                out.write(data);
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] zstd(byte[] data) {
        ZstdCompressor c = new ZstdCompressor();
        byte[] out = new byte[c.maxCompressedLength(data.length)];
        int n = c.compress(data, 0, data.length, out, 0, out.length);
        return withSize(Arrays.copyOf(out, n), data.length);
    }

    /** A bzImage whose setup header describes {@code payload}, with init_size {@link #INIT_SIZE}. */
    static byte[] bzImage(byte[] payload) {
        return new BzImageBuilder(payload).build();
    }

    /** Builds a bzImage around a payload; header fields can be spoiled one at a time. */
    static final class BzImageBuilder {
        final byte[] payload;
        int setupSects = SETUP_SECTS;
        int version = 0x020f;
        int xloadflags = SetupHeader.XLF_KERNEL_64 | SetupHeader.XLF_CAN_BE_LOADED_ABOVE_4G;
        long payloadOffset = PAYLOAD_OFFSET;
        long payloadLength;
        long initSize = INIT_SIZE;
        long cmdlineSize = 0x7ff;
        long initrdAddrMax = 0x7fff_ffffL;
        int bootFlag = SetupHeader.BOOT_FLAG_MAGIC;

        BzImageBuilder(byte[] payload) {
            this.payload = payload;
            this.payloadLength = payload.length;
        }

        byte[] build() {
            int sects = setupSects == 0 ? 4 : setupSects;
            int pm = (sects + 1) * 512;
            int payloadAt = pm + PAYLOAD_OFFSET;
            // Some bytes after the payload, as the real image has its decompressor's code and data there.
            ByteBuffer b = ByteBuffer.allocate(payloadAt + payload.length + 0x40).order(ByteOrder.LITTLE_ENDIAN);
            b.put(SetupHeader.SETUP_SECTS, (byte) setupSects);
            b.putInt(SetupHeader.SYSSIZE, (b.capacity() - pm + 15) / 16);
            b.putShort(SetupHeader.VID_MODE, (short) 0xffff);
            b.putShort(SetupHeader.BOOT_FLAG, (short) bootFlag);
            b.put(SetupHeader.JUMP, (byte) 0xeb).put(SetupHeader.JUMP + 1, (byte) 0x6a);
            b.putInt(SetupHeader.HEADER, SetupHeader.HEADER_MAGIC);
            b.putShort(SetupHeader.VERSION, (short) version);
            b.put(SetupHeader.LOADFLAGS, (byte) SetupHeader.LOADED_HIGH);
            b.putInt(SetupHeader.CODE32_START, 0x10_0000);
            b.putInt(SetupHeader.INITRD_ADDR_MAX, (int) initrdAddrMax);
            b.putInt(SetupHeader.KERNEL_ALIGNMENT, 0x20_0000);
            b.put(SetupHeader.RELOCATABLE_KERNEL, (byte) 1);
            b.put(SetupHeader.MIN_ALIGNMENT, (byte) 21);
            b.putShort(SetupHeader.XLOADFLAGS, (short) xloadflags);
            b.putInt(SetupHeader.CMDLINE_SIZE, (int) cmdlineSize);
            b.putInt(SetupHeader.PAYLOAD_OFFSET, (int) payloadOffset);
            b.putInt(SetupHeader.PAYLOAD_LENGTH, (int) payloadLength);
            b.putLong(SetupHeader.PREF_ADDRESS, KERNEL_PADDR);
            b.putInt(SetupHeader.INIT_SIZE, (int) initSize);
            b.put(payloadAt, payload);
            for (int i = payloadAt + payload.length; i < b.capacity(); i++) {
                b.put(i, (byte) 0xcc);
            }
            return b.array();
        }
    }
}
