package org.vireo.x86.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vireo.api.VireoException;
import org.vireo.api.memory.GuestMemory;
import org.vireo.core.memory.MappedGuestMemory;

/** The whole direct boot on small synthetic kernels: what lands where in guest memory, and the refusals. */
class LinuxBootTest {

    private static final long MIB = 1L << 20;
    private static final List<MpTable.PciRoute> ROUTES = List.of(new MpTable.PciRoute(1, 0, 16),
            new MpTable.PciRoute(2, 0, 17));

    @TempDir
    Path dir;

    private GuestMemory memory;

    @AfterEach
    void close() {
        if (memory != null) {
            memory.close();
        }
    }

    private GuestMemory memory(long bytes) {
        memory = MappedGuestMemory.flat(bytes);
        return memory;
    }

    private Path file(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void assertMentions(VireoException e, String... words) {
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "message should mention '" + w + "': " + e.getMessage());
        }
    }

    @Test
    void bootsAnElfVmlinuxWithInitrd() throws Exception {
        GuestMemory mem = memory(64 * MIB);
        byte[] initrd = random(100_000, 1);
        BootResult r = new LinuxBoot().load(mem, file("vmlinux", TestImages.elf()), file("initrd", initrd),
                "console=ttyS0 reboot=k", 2, ROUTES);

        assertEquals(TestImages.KERNEL_PADDR, r.entry());
        assertEquals(TestImages.KERNEL_PADDR, r.kernelStart());
        assertEquals(TestImages.DATA_PADDR + TestImages.DATA_SIZE, r.kernelEnd());
        assertTrue(r.setupHeader().isEmpty());
        // As high as possible, page aligned, inside RAM.
        assertEquals((64 * MIB - initrd.length) & ~0xfffL, r.initrdStart());
        assertEquals(initrd.length, r.initrdSize());
        byte[] back = new byte[initrd.length];
        mem.read(r.initrdStart(), back, 0, back.length);
        assertArrayEquals(initrd, back);
        assertEquals(TestImages.pattern(0, 0x42), mem.readByte(TestImages.KERNEL_PADDR + 0x42));

        BootInspector in = new BootInspector(mem);
        // The header fields an ELF kernel gets without a bzImage to copy them from.
        assertEquals(0xaa55, in.u16(LowMemory.ZERO_PAGE + 0x1fe));
        assertEquals(SetupHeader.HEADER_MAGIC, (int) in.zeroPage32(0x202));
        assertTrue(in.u16(LowMemory.ZERO_PAGE + 0x206) >= 0x20c);
        assertEquals(0xff, in.u8(LowMemory.ZERO_PAGE + 0x210), "type_of_loader");
        assertEquals(SetupHeader.LOADED_HIGH, in.u8(LowMemory.ZERO_PAGE + 0x211) & SetupHeader.LOADED_HIGH);
        assertEquals(0x20_0000, in.zeroPage32(0x230), "kernel_alignment from p_align");
        assertEquals(r.initrdStart(), in.zeroPage32(0x218));
        assertEquals(initrd.length, in.zeroPage32(0x21c));
        assertEquals(0, in.zeroPage32(0x0c0), "ext_ramdisk_image");
        assertEquals(LowMemory.CMDLINE, in.zeroPage32(0x228));
        assertEquals("console=ttyS0 reboot=k", in.commandLine());
        assertEquals(List.of(new E820Map.Entry(0, 0x9fc00, 1), new E820Map.Entry(0x9fc00, 0x60400, 2),
                new E820Map.Entry(0x100000, 63 * MIB, 1)), in.e820());

        MpTableTest.Parsed mp = in.mpTable(new MpTable(2, ROUTES).size());
        assertEquals(2, mp.ofType(0).size());
        assertEquals(18, mp.ofType(3).size());

        in.assertLongModeEntry(r.bootCpu(), TestImages.KERNEL_PADDR);
    }

    @Test
    void bootsABzImageCopyingItsSetupHeader() throws Exception {
        GuestMemory mem = memory(64 * MIB);
        byte[] image = TestImages.bzImage(TestImages.xz(TestImages.elf()));
        BootResult r = new LinuxBoot().load(mem, file("vmlinuz", image), null, "quiet", 1, List.of());
        assertEquals(PayloadCompression.XZ, r.compression().orElseThrow());
        assertEquals(0, r.initrdSize());
        BootInspector in = new BootInspector(mem);
        byte[] header = new byte[0x26c - 0x1f1];
        mem.read(LowMemory.ZERO_PAGE + 0x1f1, header, 0, header.length);
        byte[] expected = Arrays.copyOfRange(image, 0x1f1, 0x26c);
        // The loader's own fields differ; everything else is the kernel's header, byte for byte.
        for (int field : new int[] {0x210, 0x211, 0x224, 0x225, 0x228, 0x229, 0x22a, 0x22b}) {
            expected[field - 0x1f1] = header[field - 0x1f1];
        }
        assertArrayEquals(expected, header);
        assertEquals(0xff, in.u8(LowMemory.ZERO_PAGE + 0x210));
        assertEquals(SetupHeader.LOADED_HIGH | SetupHeader.CAN_USE_HEAP, in.u8(LowMemory.ZERO_PAGE + 0x211));
        assertEquals(0, in.zeroPage32(0x218), "no ramdisk");
        assertEquals(0, in.zeroPage32(0x21c));
        assertEquals(0, in.u8(LowMemory.ZERO_PAGE + BootParams.SENTINEL), "sentinel clear: fields are trustworthy");
        assertEquals("quiet", in.commandLine());
        in.assertLongModeEntry(r.bootCpu(), TestImages.KERNEL_PADDR);
    }

    @Test
    void initrdStaysBelowInitrdAddrMaxAndClearOfInitSize() throws Exception {
        GuestMemory mem = memory(128 * MIB);
        TestImages.BzImageBuilder b = new TestImages.BzImageBuilder(TestImages.gzip(TestImages.elf()));
        b.initrdAddrMax = 48 * MIB - 1;
        BootResult r = new LinuxBoot().load(mem, file("vmlinuz", b.build()), file("initrd", random(5000, 2)), "",
                1, List.of());
        assertEquals((48 * MIB - 5000) & ~0xfffL, r.initrdStart());

        b.initrdAddrMax = TestImages.KERNEL_PADDR + TestImages.INIT_SIZE + 0x2000 - 1;
        r = new LinuxBoot().load(mem, file("vmlinuz", b.build()), file("initrd", random(5000, 2)), "", 1,
                List.of());
        assertTrue(r.initrdStart() >= TestImages.KERNEL_PADDR + TestImages.INIT_SIZE, "above init_size");

        b.initrdAddrMax = TestImages.KERNEL_PADDR + TestImages.INIT_SIZE + 0x1000 - 1;
        VireoException e = assertThrows(VireoException.class, () -> new LinuxBoot().load(mem,
                file("vmlinuz", b.build()), file("initrd", random(5000, 2)), "", 1, List.of()));
        assertMentions(e, "initrd", "does not fit", "initrd_addr_max");
    }

    @Test
    void kernelTooBigForMemoryIsAClearError() throws Exception {
        GuestMemory mem = memory(16 * MIB);
        Path kernel = file("vmlinux", TestImages.elf());
        VireoException e = assertThrows(VireoException.class,
                () -> new LinuxBoot().load(mem, kernel, null, "", 1, List.of()));
        assertMentions(e, kernel.toString(), "does not fit in guest RAM (16 MiB)", "needs RAM up to 19 MiB",
                "more memory");
    }

    @Test
    void initrdTooBigForMemoryIsAClearError() throws Exception {
        GuestMemory mem = memory(24 * MIB);
        Path initrd = dir.resolve("big-initrd");
        try (RandomAccessFile f = new RandomAccessFile(initrd.toFile(), "rw")) {
            f.setLength(8 * MIB);
        }
        Path kernel = file("vmlinuz", TestImages.bzImage(TestImages.zstd(TestImages.elf())));
        VireoException e = assertThrows(VireoException.class,
                () -> new LinuxBoot().load(mem, kernel, initrd, "", 1, List.of()));
        assertMentions(e, initrd.toString(), "(8 MiB) does not fit", "the VM has 24 MiB", "more memory");
    }

    @Test
    void commandLineLongerThanCmdlineSizeIsRefused() throws Exception {
        GuestMemory mem = memory(32 * MIB);
        TestImages.BzImageBuilder b = new TestImages.BzImageBuilder(TestImages.xz(TestImages.elf()));
        b.cmdlineSize = 16;
        Path kernel = file("vmlinuz", b.build());
        new LinuxBoot().load(mem, kernel, null, "0123456789abcdef", 1, List.of());
        VireoException e = assertThrows(VireoException.class,
                () -> new LinuxBoot().load(mem, kernel, null, "0123456789abcdefg", 1, List.of()));
        assertMentions(e, "17 bytes", "16", "cmdline_size", kernel.toString());
        Path elf = file("vmlinux", TestImages.elf());
        assertThrows(VireoException.class, () -> new LinuxBoot().load(mem, elf, null, "x".repeat(2048), 1, List.of()));
        assertMentions(assertThrows(VireoException.class,
                () -> new LinuxBoot().load(mem, elf, null, "a\0b", 1, List.of())), "NUL");
    }

    @Test
    void refusesKernelInLowMemory() throws Exception {
        TestImages.ElfBuilder b = new TestImages.ElfBuilder();
        b.loads.get(1)[0] = 0x80000;
        GuestMemory mem = memory(32 * MIB);
        VireoException e = assertThrows(VireoException.class,
                () -> new LinuxBoot().load(mem, file("vmlinux", b.build()), null, "", 1, List.of()));
        assertMentions(e, "p_paddr 0x80000", "below 1 MiB");
    }

    @Test
    void refusesMissingInitrdAndBadCpuCount() throws Exception {
        GuestMemory mem = memory(32 * MIB);
        Path kernel = file("vmlinux", TestImages.elf());
        Path missing = dir.resolve("nope.cpio");
        assertMentions(assertThrows(VireoException.class,
                () -> new LinuxBoot().load(mem, kernel, missing, "", 1, List.of())), missing.toString(),
                "no such file");
        assertMentions(assertThrows(VireoException.class,
                () -> new LinuxBoot().load(mem, kernel, file("empty", new byte[0]), "", 1, List.of())), "empty");
        assertMentions(assertThrows(VireoException.class,
                () -> new LinuxBoot().load(mem, kernel, null, "", 0, List.of())), "1 to 254 vCPUs");
    }

    @Test
    void aSecondBootLeavesNothingOfTheFirst() throws Exception {
        GuestMemory mem = memory(32 * MIB);
        mem.fill(0, LowMemory.END, (byte) 0xa5);
        Path kernel = file("vmlinux", TestImages.elf());
        new LinuxBoot().load(mem, kernel, file("initrd", random(3000, 3)), "first boot with a long command line",
                4, ROUTES);
        new LinuxBoot().load(mem, kernel, null, "second", 1, List.of());
        BootInspector in = new BootInspector(mem);
        assertEquals("second", in.commandLine());
        assertEquals(0, in.zeroPage32(0x21c), "no ramdisk any more");
        assertEquals(0, in.u16(0x40e), "BIOS data area clear: no EBDA pointer");
        assertEquals(0, in.zeroPage32(0), "screen_info clear");
        assertEquals(1, in.mpTable(new MpTable(1, List.of()).size()).ofType(0).size());
    }

    @Test
    void lowMemoryRegionsDoNotOverlap() {
        long[][] regions = {
            {LowMemory.GDT, LowMemory.GDT_SIZE},
            {LowMemory.IDT, LowMemory.IDT_SIZE},
            {LowMemory.TSS, LowMemory.TSS_SIZE},
            {LowMemory.ZERO_PAGE, LowMemory.ZERO_PAGE_SIZE},
            {LowMemory.STACK_BOTTOM, LowMemory.STACK_TOP - LowMemory.STACK_BOTTOM},
            {LowMemory.PML4, LowMemory.PAGE_TABLES_END - LowMemory.PML4},
            {LowMemory.CMDLINE, LowMemory.CMDLINE_MAX},
            {LowMemory.EBDA, LowMemory.MP_TABLE_LIMIT - LowMemory.EBDA},
        };
        for (int i = 0; i < regions.length; i++) {
            assertTrue(regions[i][0] + regions[i][1] <= LowMemory.END);
            assertTrue(regions[i][0] >= 0x500, "IVT and BDA stay free");
            for (int j = 0; j < i; j++) {
                boolean disjoint = regions[i][0] + regions[i][1] <= regions[j][0]
                        || regions[j][0] + regions[j][1] <= regions[i][0];
                assertTrue(disjoint, "regions " + i + " and " + j + " overlap");
            }
        }
        assertEquals(LowMemory.PAGE_DIRECTORIES, LowMemory.PDPT + 0x1000);
        assertEquals(LowMemory.PDPT, LowMemory.PML4 + 0x1000);
    }
}
