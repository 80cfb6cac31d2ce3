package org.vireo.x86.boot;

/**
 * Where the loader puts its structures in the first megabyte of guest RAM. Everything the
 * boot vCPU needs before the kernel builds its own tables lives here, below the kernel, which
 * must load at or above {@link #END}. The loader owns this megabyte and clears it before each
 * boot, so nothing of a previous run survives a reset.
 *
 * <pre>
 *   0x0000_0000 - 0x0000_0fff  real-mode IVT and BIOS data area: zeroed (Linux reads the
 *                              EBDA pointer at 0x40e and base memory size at 0x413)
 *   0x0000_0500 - 0x0000_052f  GDT: null, unused, __BOOT_CS 0x10, __BOOT_DS 0x18, TSS 0x20 (16 bytes)
 *   0x0000_0540 - 0x0000_054f  IDT: empty (limit 0), the kernel loads its own before it
 *                              enables interrupts
 *   0x0000_0580 - 0x0000_05e7  64-bit TSS (104 bytes, no I/O bitmap)
 *   0x0000_7000 - 0x0000_7fff  zero page (struct boot_params), RSI at entry
 *   0x0000_8000 - 0x0000_8fff  boot stack, RSP = 0x8ff0 at entry (the kernel switches away at once)
 *   0x0000_9000 - 0x0000_9fff  PML4
 *   0x0000_a000 - 0x0000_afff  PDPT
 *   0x0000_b000 - 0x0000_efff  four page directories, 2 MiB pages mapping 0-4 GiB 1:1
 *   0x0002_0000 - 0x0002_ffff  kernel command line, NUL-terminated
 *   0x0009_fc00 - 0x000e_ffff  EBDA: MP floating pointer at 0x9fc00, then the MP configuration
 *                              table (E820 reports 0x9fc00-0x100000 reserved)
 *   0x0010_0000 -              the kernel (vmlinux loads at its p_paddr, 16 MiB for x86-64 Linux)
 * </pre>
 *
 * The 64-bit boot protocol (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol") asks
 * for the zero page, the command line and the kernel to be identity mapped and for a GDT with
 * flat __BOOT_CS/__BOOT_DS; that is all the kernel's startup_64 relies on.
 */
public final class LowMemory {

    public static final long GDT = 0x500;
    /** GDT size: five 8-byte slots plus the second half of the 16-byte TSS descriptor. */
    public static final int GDT_SIZE = 0x30;
    public static final long IDT = 0x540;
    public static final int IDT_SIZE = 0x10;
    public static final long TSS = 0x580;
    /** A 64-bit TSS is 104 bytes (Intel SDM vol. 3 §8.7). */
    public static final int TSS_SIZE = 0x68;

    public static final long ZERO_PAGE = 0x7000;
    public static final int ZERO_PAGE_SIZE = 0x1000;

    public static final long STACK_BOTTOM = 0x8000;
    public static final long STACK_TOP = 0x8ff0;

    public static final long PML4 = 0x9000;
    public static final long PDPT = 0xa000;
    /** The first of four page directories, one per GiB. */
    public static final long PAGE_DIRECTORIES = 0xb000;
    public static final int PAGE_DIRECTORY_COUNT = 4;
    public static final long PAGE_TABLES_END = PAGE_DIRECTORIES + PAGE_DIRECTORY_COUNT * 0x1000L;

    public static final long CMDLINE = 0x20000;
    /** Room for the command line including its terminating NUL. */
    public static final int CMDLINE_MAX = 0x10000;

    /** Start of the extended BIOS data area ("639 KiB"), where Linux looks for the MP floating pointer. */
    public static final long EBDA = 0x9fc00;
    /** The MP configuration table may grow up to here (below the BIOS ROM area Linux also scans). */
    public static final long MP_TABLE_LIMIT = 0xf0000;

    /** First byte above the loader's area: kernel and initrd live at or above 1 MiB. */
    public static final long END = 0x100000;

    private LowMemory() {
    }
}
