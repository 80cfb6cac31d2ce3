package org.vireo.x86.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.vireo.api.memory.GuestMemory;

/**
 * The 4 KiB zero page (struct boot_params) that RSI points at when the 64-bit kernel starts.
 * Offsets come from Documentation/arch/x86/zero-page.rst; the setup header inside it at 0x1f1
 * from Documentation/arch/x86/boot.rst.
 *
 * <p>For a bzImage the kernel's own setup header is copied in first and the loader then sets
 * the fields a boot loader owns; for a bare ELF vmlinux the loader writes the few header fields
 * the kernel reads itself, as Firecracker and QEMU's PVH loader do.
 */
public final class BootParams {

    public static final int SIZE = 0x1000;

    // Zero page fields outside the setup header (zero-page.rst).
    public static final int EXT_RAMDISK_IMAGE = 0x0c0;
    public static final int EXT_RAMDISK_SIZE = 0x0c4;
    public static final int EXT_CMD_LINE_PTR = 0x0c8;
    public static final int E820_ENTRIES = 0x1e8;
    public static final int SENTINEL = 0x1ef;
    public static final int E820_TABLE = 0x2d0;

    /** "Undefined" boot loader id (boot.rst, type_of_loader): no registered id is Vireo's. */
    public static final int LOADER_UNDEFINED = 0xff;
    /** The setup heap end boot.rst's sample loader uses; only the real-mode setup code reads it. */
    private static final int HEAP_END_PTR = 0xe000 - 0x200;
    /** Header version written for an ELF kernel: 2.12, the first with the fields the 64-bit entry uses. */
    static final int SYNTHESIZED_VERSION = 0x020c;
    /** x86 Linux's COMMAND_LINE_SIZE is 2048, NUL included; assumed for an ELF kernel, which has no header. */
    public static final long DEFAULT_CMDLINE_SIZE = 2047;
    /** x86-64 Linux's initrd_addr_max; assumed for an ELF kernel. */
    public static final long DEFAULT_INITRD_ADDR_MAX = 0x7fff_ffffL;
    /** CONFIG_PHYSICAL_ALIGN's default on x86-64. */
    public static final long DEFAULT_KERNEL_ALIGNMENT = 0x20_0000L;

    private final ByteBuffer page = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);

    private BootParams() {
    }

    /** A zero page holding the bzImage's setup header, as the kernel built it. */
    public static BootParams forBzImage(SetupHeader header) {
        BootParams p = new BootParams();
        p.page.put(SetupHeader.SETUP_SECTS, header.raw());
        p.setLoaderFields();
        return p;
    }

    /**
     * A zero page for a bare ELF vmlinux: the header fields the kernel checks or reads, with
     * {@code kernelAlignment} as the kernel's alignment.
     */
    public static BootParams forElf(long kernelAlignment) {
        BootParams p = new BootParams();
        p.page.putShort(SetupHeader.BOOT_FLAG, (short) SetupHeader.BOOT_FLAG_MAGIC);
        p.page.putInt(SetupHeader.HEADER, SetupHeader.HEADER_MAGIC);
        p.page.putShort(SetupHeader.VERSION, (short) SYNTHESIZED_VERSION);
        p.page.putShort(SetupHeader.VID_MODE, (short) 0xffff);      // "normal" video mode
        p.page.putInt(SetupHeader.KERNEL_ALIGNMENT, (int) kernelAlignment);
        p.page.putShort(SetupHeader.XLOADFLAGS, (short) SetupHeader.XLF_KERNEL_64);
        p.page.putInt(SetupHeader.CMDLINE_SIZE, (int) DEFAULT_CMDLINE_SIZE);
        p.page.putInt(SetupHeader.INITRD_ADDR_MAX, (int) DEFAULT_INITRD_ADDR_MAX);
        p.setLoaderFields();
        return p;
    }

    /** Fields boot.rst marks "write" for the boot loader, the same for both kinds of kernel. */
    private void setLoaderFields() {
        page.put(SetupHeader.TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        // The kernel sits above 1 MiB; the heap flag only matters to setup code, set as boot.rst's sample does.
        int loadflags = page.get(SetupHeader.LOADFLAGS) & 0xff;
        page.put(SetupHeader.LOADFLAGS, (byte) (loadflags | SetupHeader.LOADED_HIGH | SetupHeader.CAN_USE_HEAP));
        page.putShort(SetupHeader.HEAP_END_PTR, (short) HEAP_END_PTR);
    }

    /** Points the kernel at its NUL-terminated command line (cmd_line_ptr, ext_cmd_line_ptr). */
    public BootParams setCommandLine(long address) {
        page.putInt(SetupHeader.CMD_LINE_PTR, (int) address);
        page.putInt(EXT_CMD_LINE_PTR, (int) (address >>> 32));
        return this;
    }

    /** Describes the initrd (ramdisk_image/size and their ext_ high halves); size 0 for none. */
    public BootParams setRamdisk(long address, long size) {
        page.putInt(SetupHeader.RAMDISK_IMAGE, (int) address);
        page.putInt(EXT_RAMDISK_IMAGE, (int) (address >>> 32));
        page.putInt(SetupHeader.RAMDISK_SIZE, (int) size);
        page.putInt(EXT_RAMDISK_SIZE, (int) (size >>> 32));
        return this;
    }

    /** Writes the memory map into e820_table and its length into e820_entries. */
    public BootParams setE820(E820Map map) {
        int n = map.entries().size();
        page.put(E820_ENTRIES, (byte) n);
        int at = E820_TABLE;
        for (E820Map.Entry e : map.entries()) {
            page.putLong(at, e.address()).putLong(at + 8, e.size()).putInt(at + 16, e.type());
            at += E820Map.ENTRY_SIZE;
        }
        // Clear slots a previous, longer map may have used.
        for (; at < E820_TABLE + E820Map.MAX_ENTRIES * E820Map.ENTRY_SIZE; at++) {
            page.put(at, (byte) 0);
        }
        return this;
    }

    /** cmdline_size as the header now holds it. */
    public long cmdlineSize() {
        return Integer.toUnsignedLong(page.getInt(SetupHeader.CMDLINE_SIZE));
    }

    /** A copy of the 4 KiB page. */
    public byte[] bytes() {
        return page.array().clone();
    }

    public void writeTo(GuestMemory memory, long address) {
        memory.write(address, page.array(), 0, SIZE);
    }
}
