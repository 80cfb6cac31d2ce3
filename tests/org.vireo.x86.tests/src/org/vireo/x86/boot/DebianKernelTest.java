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
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.vireo.api.VireoException;
import org.vireo.api.memory.GuestMemory;
import org.vireo.core.memory.MappedGuestMemory;

/**
 * The loader on the real guest kernel: Debian bookworm's stock bzImage, built into the cache
 * by tests/guest/build-guest.sh (found through the system property {@code vireo.guest.cache},
 * default {@code ~/.cache/vireo/guest}, then {@code current/}).
 *
 * <p>Assertions are invariants of any x86-64 Debian 6.1 kernel where possible. Where numbers are
 * pinned, they were observed on linux-image-6.1.0-50-amd64 (6.1.176-1) by extracting the payload
 * with {@code xz -dc --single-stream} and reading it with {@code readelf -h -l -n}:
 * <pre>
 *   Entry point address: 0x1000000
 *   LOAD off 0x0200000 paddr 0x1000000 filesz 0x18e6498 memsz 0x18e6498 R E align 0x200000
 *   LOAD off 0x1c00000 paddr 0x2a00000 filesz 0x0642000 memsz 0x0642000 RW  align 0x200000
 *   LOAD off 0x2400000 paddr 0x3042000 filesz 0x0035000 memsz 0x0035000 RW  align 0x200000 (.data..percpu, vaddr 0)
 *   LOAD off 0x2477000 paddr 0x3077000 filesz 0x1989000 memsz 0x1989000 RWE align 0x200000
 *   NOTE Xen type 0x12 (PHYS32_ENTRY): 0x1000850
 * </pre>
 * The decompressed payload is 65,905,060 bytes (the ELF plus vmlinux.relocs), which is also
 * what the payload's last four bytes say. Those pins apply only when {@code kernel-version}
 * says 6.1.0-50-amd64, since a Debian point release changes them.
 *
 * <p>An integration test: it decompresses the 8 MB xz payload several times, about 10 s in all.
 */
class DebianKernelTest {

    private static final long MIB = 1L << 20;
    private static final String PINNED_VERSION = "6.1.0-50-amd64";

    private static Path dir;
    private static byte[] vmlinuz;
    private static KernelImage kernel;
    /** The decompressed payload, extracted once here for the tests that compare bytes. */
    private static byte[] vmlinux;

    @BeforeAll
    static void findGuest() throws Exception {
        String cache = System.getProperty("vireo.guest.cache",
                Paths.get(System.getProperty("user.home"), ".cache", "vireo", "guest").toString());
        dir = Paths.get(cache, "current");
        for (String f : new String[] {"vmlinuz", "initramfs.cpio.gz"}) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                fail("the test guest is missing: no " + dir.resolve(f) + ". Build it with tests/guest/build-guest.sh"
                        + " (or point -Dvireo.guest.cache at a directory holding current/vmlinuz)");
            }
        }
        vmlinuz = Files.readAllBytes(dir.resolve("vmlinuz"));
        kernel = KernelImage.load(dir.resolve("vmlinuz"));
        vmlinux = KernelPayload.extract("vmlinuz", vmlinuz, kernel.setupHeader().orElseThrow()).data();
    }

    private static boolean isPinnedVersion() throws IOException {
        Path v = dir.resolve("kernel-version");
        return Files.isRegularFile(v) && Files.readString(v).trim().equals(PINNED_VERSION);
    }

    @Test
    void setupHeaderDescribesA64BitKernelWithItsPayloadInside() {
        ByteBuffer raw = ByteBuffer.wrap(vmlinuz).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xaa55, raw.getShort(0x1fe) & 0xffff);
        assertEquals(SetupHeader.HEADER_MAGIC, raw.getInt(0x202));
        SetupHeader h = kernel.setupHeader().orElseThrow();
        assertTrue(h.version() >= 0x020c, "boot protocol 2.12 or later: " + Integer.toHexString(h.version()));
        assertTrue((h.xloadflags() & SetupHeader.XLF_KERNEL_64) != 0);
        assertTrue(h.payloadStart() + h.payloadLength() <= vmlinuz.length, "payload inside the file");
        assertEquals(h.payloadStart(), (h.setupSects() + 1) * 512L + h.payloadOffset());
        assertEquals(0x20_0000, h.kernelAlignment(), "CONFIG_PHYSICAL_ALIGN");
        assertEquals(0x100_0000, h.prefAddress(), "LOAD_PHYSICAL_ADDR");
        assertTrue(h.relocatable());
        assertEquals(0x7ff, h.cmdlineSize(), "COMMAND_LINE_SIZE 2048");
        assertTrue(h.initSize() >= kernel.elf().loadEnd() - kernel.elf().loadStart(), "init_size covers the kernel");
        assertEquals((raw.get(0x201) & 0xff) + 0x202, 0x1f1 + h.raw().length, "header ends where the jump says");
    }

    @Test
    void payloadIsXzAndEndsWithItsDecompressedSize() throws Exception {
        assertEquals(PayloadCompression.XZ, kernel.compression().orElseThrow());
        SetupHeader h = kernel.setupHeader().orElseThrow();
        int start = (int) h.payloadStart();
        int end = start + (int) h.payloadLength();
        // The xz stream footer's magic "YZ" sits just before the 4-byte size the build appends.
        assertEquals('Y', vmlinuz[end - 6]);
        assertEquals('Z', vmlinuz[end - 5]);
        assertEquals(ByteBuffer.wrap(vmlinuz).order(ByteOrder.LITTLE_ENDIAN).getInt(end - 4), vmlinux.length);
        assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1}, Arrays.copyOf(vmlinux, 7), "ELF64 LSB");
        assertEquals(62, vmlinux[0x12], "EM_X86_64");
        if (isPinnedVersion()) {
            assertEquals(65_905_060, vmlinux.length);
        }
    }

    @Test
    void extractedVmlinuxEntersAtItsLowestLoadAddress() throws Exception {
        ElfKernel elf = kernel.elf();
        // startup_64 is at _text, the start of the first segment: e_entry is physical (ENTRY(phys_startup_64)).
        assertEquals(0x100_0000, elf.entry());
        assertEquals(elf.entry(), elf.loadStart());
        assertEquals(kernel.setupHeader().orElseThrow().prefAddress(), elf.loadStart());
        for (ElfKernel.Segment s : elf.segments()) {
            assertEquals(0x20_0000, s.align(), "p_align of " + s);
            assertTrue(s.physAddr() >= 0x100_0000);
        }
        long pvh = elf.pvhEntry().orElseThrow(() -> new AssertionError("no PVH note (CONFIG_PVH)"));
        ElfKernel.Segment text = elf.segments().get(0);
        assertTrue(pvh > text.physAddr() && pvh < text.end(), "PVH entry inside the text segment");
        if (isPinnedVersion()) {
            assertEquals(4, elf.segments().size());
            assertEquals(0x100_0850, pvh);
            assertEquals(0x18e_6498, text.memSize());
            assertEquals(List.of(0x100_0000L, 0x2a0_0000L, 0x304_2000L, 0x307_7000L),
                    elf.segments().stream().map(ElfKernel.Segment::physAddr).toList());
            assertEquals(0x4a0_0000, elf.loadEnd());
        }
    }

    @Test
    void bootsInto256MiB() throws Exception {
        Path initrd = dir.resolve("initramfs.cpio.gz");
        byte[] initrdBytes = Files.readAllBytes(initrd);
        String cmdline = "console=ttyS0 quiet reboot=k tsc_early_khz=2000000";
        List<MpTable.PciRoute> routes = List.of(new MpTable.PciRoute(1, 0, 16), new MpTable.PciRoute(2, 0, 17));
        try (GuestMemory mem = MappedGuestMemory.flat(256 * MIB)) {
            BootResult r = new LinuxBoot().load(mem, dir.resolve("vmlinuz"), initrd, cmdline, 2, routes);
            BootInspector in = new BootInspector(mem);
            SetupHeader h = r.setupHeader().orElseThrow();

            // The kernel where its ELF says, byte for byte (first page of text and of .data).
            for (ElfKernel.Segment s : List.of(kernel.elf().segments().get(0), kernel.elf().segments().get(1))) {
                byte[] loaded = new byte[4096];
                mem.read(s.physAddr(), loaded, 0, loaded.length);
                assertArrayEquals(Arrays.copyOfRange(vmlinux, (int) s.fileOffset(), (int) s.fileOffset() + 4096),
                        loaded, "segment at 0x" + Long.toHexString(s.physAddr()));
            }

            // Zero page: the bzImage's header, then the loader's fields.
            byte[] header = new byte[h.raw().length];
            mem.read(LowMemory.ZERO_PAGE + 0x1f1, header, 0, header.length);
            assertEquals(0xaa55, in.u16(LowMemory.ZERO_PAGE + 0x1fe));
            assertArrayEquals(Arrays.copyOfRange(vmlinuz, 0x1f1, 0x210), Arrays.copyOfRange(header, 0, 0x210 - 0x1f1),
                    "header copied up to type_of_loader");
            assertArrayEquals(Arrays.copyOfRange(vmlinuz, 0x22c, 0x1f1 + header.length),
                    Arrays.copyOfRange(header, 0x22c - 0x1f1, header.length), "and after cmd_line_ptr");
            assertEquals(0xff, in.u8(LowMemory.ZERO_PAGE + 0x210));
            assertEquals(LowMemory.CMDLINE, in.zeroPage32(0x228));
            assertEquals(cmdline, in.commandLine());

            // The initrd: as high as RAM allows, page aligned, clear of the kernel and its init_size.
            assertEquals(r.initrdStart(), in.zeroPage32(0x218));
            assertEquals(initrdBytes.length, in.zeroPage32(0x21c));
            assertEquals(0, in.zeroPage32(0x0c0));
            assertEquals(0, r.initrdStart() % 4096);
            assertEquals((256 * MIB - initrdBytes.length) & ~0xfffL, r.initrdStart());
            assertTrue(r.initrdStart() >= r.kernelStart() + h.initSize());
            byte[] loadedInitrd = new byte[initrdBytes.length];
            mem.read(r.initrdStart(), loadedInitrd, 0, loadedInitrd.length);
            assertArrayEquals(initrdBytes, loadedInitrd);

            assertEquals(List.of(new E820Map.Entry(0, 0x9fc00, E820Map.RAM),
                    new E820Map.Entry(0x9fc00, 0x60400, E820Map.RESERVED),
                    new E820Map.Entry(0x100000, 255 * MIB, E820Map.RAM)), in.e820());

            MpTableTest.Parsed mp = in.mpTable(new MpTable(2, routes).size());
            assertEquals(2, mp.ofType(0).size(), "one processor entry per CPU");
            assertEquals(2, mp.ofType(1).size());
            assertEquals(1, mp.ofType(2).size());
            assertEquals(16 + 2, mp.ofType(3).size());
            assertEquals(2, mp.ofType(4).size());

            assertEquals(0x100_0000, r.entry());
            in.assertLongModeEntry(r.bootCpu(), 0x100_0000);
        }
    }

    @Test
    void tooLittleMemoryForKernelOrInitrdIsAClearError() throws Exception {
        Path initrd = dir.resolve("initramfs.cpio.gz");
        try (GuestMemory mem = MappedGuestMemory.flat(64 * MIB)) {
            VireoException e = assertThrows(VireoException.class,
                    () -> new LinuxBoot().load(mem, dir.resolve("vmlinuz"), initrd, "", 1, List.of()));
            assertTrue(e.getMessage().contains("does not fit in guest RAM (64 MiB)")
                    && e.getMessage().contains("give the VM more memory"), e.getMessage());
        }
        // Room for the kernel's segments but not, beyond its init_size, for the 1.7 MB initrd.
        long justTheKernel = (kernel.elf().loadStart() + kernel.setupHeader().orElseThrow().initSize() + MIB - 1)
                & -MIB;
        try (GuestMemory mem = MappedGuestMemory.flat(justTheKernel)) {
            VireoException e = assertThrows(VireoException.class,
                    () -> new LinuxBoot().load(mem, dir.resolve("vmlinuz"), initrd, "", 1, List.of()));
            assertTrue(e.getMessage().contains("initrd " + initrd) && e.getMessage().contains("does not fit"),
                    e.getMessage());
        }
    }

    /** A figure, not an assertion: xz extraction of the Debian kernel in Java with a warm JVM. */
    @Test
    void reportsExtractionTime() throws Exception {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            best = Math.min(best, KernelImage.load(dir.resolve("vmlinuz")).extractionTime().toMillis());
        }
        System.out.printf("vireo: extracting vmlinux (%d bytes of xz) from %s took %d ms (best of 3, warm JVM;"
                + " first load %d ms)%n", kernel.setupHeader().orElseThrow().payloadLength(), dir.resolve("vmlinuz"),
                best, kernel.extractionTime().toMillis());
    }
}
