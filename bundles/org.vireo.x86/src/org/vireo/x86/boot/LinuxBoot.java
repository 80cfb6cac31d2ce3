package org.vireo.x86.boot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

import org.vireo.api.VireoException;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.memory.RamRange;

/**
 * Direct Linux boot on the PC board, the way Firecracker and QEMU's microvm start a kernel
 * without firmware: the kernel (a bzImage's extracted vmlinux, or a vmlinux) at its physical
 * load address, the initrd as high as the kernel allows below 4 GiB, the command line, the
 * zero page with the E820 map, the MP table, a GDT and identity page tables, and a boot CPU
 * in 64-bit mode at the kernel's startup_64 (boot.rst, "64-bit Boot Protocol").
 *
 * <p>The loader owns the first MiB of guest RAM and clears it; {@link LowMemory} lays it out.
 */
public final class LinuxBoot {

    private static final long PAGE = 0x1000;
    private static final int COPY_CHUNK = 16 << 20;

    /**
     * Loads {@code kernel} (and {@code initrd}) into {@code memory} and returns how the boot CPU starts.
     *
     * @param memory the VM's RAM, which must include [0, 1 MiB)
     * @param initrd an initramfs, or {@code null}
     * @param cmdline the kernel command line, possibly empty
     * @param cpuCount vCPUs to describe in the MP table
     * @param pciRoutes how PCI INTx lines reach the IOAPIC
     * @throws VireoException if a file cannot be read or is malformed, if the kernel or initrd does not fit
     *         in RAM, or if the command line is too long; the message names the file and what to change
     */
    public BootResult load(GuestMemory memory, Path kernel, Path initrd, String cmdline, int cpuCount,
            List<MpTable.PciRoute> pciRoutes) throws VireoException {
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(cmdline, "cmdline");
        Objects.requireNonNull(pciRoutes, "pciRoutes");
        if (cpuCount < 1 || cpuCount > MpTable.MAX_CPUS) {
            throw new VireoException("a PC boots 1 to " + MpTable.MAX_CPUS + " vCPUs with an MP table, the VM has "
                    + cpuCount);
        }
        MpTable mpTable = new MpTable(cpuCount, pciRoutes);
        if (LowMemory.EBDA + mpTable.size() > LowMemory.MP_TABLE_LIMIT) {
            throw new VireoException("the MP table for " + cpuCount + " vCPUs and " + pciRoutes.size()
                    + " PCI routes does not fit below 0x" + Long.toHexString(LowMemory.MP_TABLE_LIMIT));
        }
        if (!memory.contains(0, LowMemory.END)) {
            throw new VireoException("guest RAM must cover [0, 1 MiB) for the boot structures; it is " + memory);
        }

        KernelImage image = KernelImage.load(kernel);
        ElfKernel elf = image.elf();
        Optional<SetupHeader> header = image.setupHeader();
        String source = "kernel " + kernel;
        checkSegmentsFit(source, elf, memory);

        byte[] commandLine = commandLine(source, cmdline, header);

        long initrdSize = initrd == null ? 0 : initrdSize(initrd);
        long initrdStart = initrd == null ? 0 : initrdAddress(initrd, initrdSize, elf, header, memory);

        memory.fill(0, LowMemory.END, (byte) 0);
        elf.load(memory);
        if (initrd != null) {
            loadInitrd(memory, initrd, initrdStart, initrdSize);
        }
        memory.write(LowMemory.CMDLINE, commandLine, 0, commandLine.length);
        memory.writeByte(LowMemory.CMDLINE + commandLine.length, (byte) 0);

        BootParams params = header.isPresent() ? BootParams.forBzImage(header.get())
                : BootParams.forElf(elf.maxAlignment() != 0 ? elf.maxAlignment() : BootParams.DEFAULT_KERNEL_ALIGNMENT);
        params.setCommandLine(LowMemory.CMDLINE)
                .setRamdisk(initrdStart, initrdSize)
                .setE820(PcMemoryMap.e820(memory.ranges()))
                .writeTo(memory, LowMemory.ZERO_PAGE);

        LongModeSetup.write(memory);
        mpTable.writeTo(memory, LowMemory.EBDA);

        X86CpuState cpu = LongModeSetup.bootCpuState(elf.entry(), LowMemory.ZERO_PAGE);
        return new BootResult(cpu, elf.entry(), elf.loadStart(), elf.loadEnd(), initrdStart, initrdSize,
                LowMemory.ZERO_PAGE, LowMemory.CMDLINE, header, image.compression(), image.extractionTime());
    }

    private static void checkSegmentsFit(String source, ElfKernel elf, GuestMemory memory) throws VireoException {
        for (ElfKernel.Segment s : elf.segments()) {
            if (s.physAddr() < LowMemory.END) {
                throw new VireoException(String.format("%s: segment p_paddr 0x%x+0x%x lies below 1 MiB, where the"
                        + " loader keeps the zero page, page tables and MP table", source, s.physAddr(), s.memSize()));
            }
            if (!memory.contains(s.physAddr(), s.memSize())) {
                throw new VireoException(String.format("%s: segment p_paddr 0x%x-0x%x does not fit in guest RAM"
                        + " (%d MiB); the kernel needs RAM up to %d MiB: give the VM more memory", source,
                        s.physAddr(), s.end() - 1, memory.size() >> 20, ceilMiB(elf.loadEnd())));
            }
        }
    }

    private static byte[] commandLine(String source, String cmdline, Optional<SetupHeader> header)
            throws VireoException {
        byte[] bytes = cmdline.getBytes(StandardCharsets.UTF_8);
        for (byte b : bytes) {
            if (b == 0) {
                throw new VireoException("the kernel command line contains a NUL character, which would end it early");
            }
        }
        long max = header.map(SetupHeader::cmdlineSize).orElse(BootParams.DEFAULT_CMDLINE_SIZE);
        max = Math.min(max, LowMemory.CMDLINE_MAX - 1);
        if (bytes.length > max) {
            throw new VireoException(String.format("the kernel command line is %d bytes, longer than the %d that"
                    + " %s takes (cmdline_size)", bytes.length, max, source));
        }
        return bytes;
    }

    private static long initrdSize(Path initrd) throws VireoException {
        try {
            long size = Files.size(initrd);
            if (size == 0) {
                throw new VireoException("initrd " + initrd + " is empty");
            }
            return size;
        } catch (NoSuchFileException e) {
            throw new VireoException("initrd " + initrd + ": no such file", e);
        } catch (IOException e) {
            throw new VireoException("initrd " + initrd + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Where the initrd goes: as high as RAM, initrd_addr_max and 4 GiB allow, above the kernel. */
    private static long initrdAddress(Path initrd, long size, ElfKernel elf, Optional<SetupHeader> header,
            GuestMemory memory) throws VireoException {
        // The kernel may use init_size bytes from its load address while it starts; stay clear of them.
        long kernelReserved = Math.max(elf.loadEnd(), elf.loadStart() + header.map(SetupHeader::initSize).orElse(0L));
        long addrMax = header.map(SetupHeader::initrdAddrMax).orElse(BootParams.DEFAULT_INITRD_ADDR_MAX);
        long limit = Math.min(addrMax + 1, PcMemoryMap.FOUR_GIB);
        long address = placeInitrd(memory.ranges(), size, kernelReserved, limit);
        if (address < 0) {
            throw new VireoException(String.format("initrd %s (%d MiB) does not fit in guest RAM between the"
                    + " kernel's end (0x%x) and 0x%x (initrd_addr_max, at most 4 GiB); the VM has %d MiB:"
                    + " give it more memory or use a smaller initrd", initrd, ceilMiB(size), kernelReserved, limit,
                    memory.size() >> 20));
        }
        return address;
    }

    /**
     * The highest page-aligned address at which {@code size} bytes lie wholly in one RAM range,
     * at or above {@code lowest} and ending at or below {@code limit}; -1 if there is none.
     */
    static long placeInitrd(List<RamRange> ram, long size, long lowest, long limit) {
        for (int i = ram.size() - 1; i >= 0; i--) {
            RamRange r = ram.get(i);
            long top = Math.min(r.end(), limit);
            long bottom = Math.max(r.start(), lowest);
            if (top - bottom >= size) {
                long address = (top - size) & ~(PAGE - 1);
                if (address >= bottom) {
                    return address;
                }
            }
        }
        return -1;
    }

    private static void loadInitrd(GuestMemory memory, Path initrd, long address, long size) throws VireoException {
        try (FileChannel ch = FileChannel.open(initrd, StandardOpenOption.READ)) {
            long done = 0;
            while (done < size) {
                int n = (int) Math.min(COPY_CHUNK, size - done);
                ByteBuffer dst = memory.buffer(address + done, n);
                while (dst.hasRemaining()) {
                    if (ch.read(dst) < 0) {
                        throw new VireoException("initrd " + initrd + " shrank while it was being read (now "
                                + (done + dst.position()) + " bytes, was " + size + ")");
                    }
                }
                done += n;
            }
        } catch (IOException e) {
            throw new VireoException("initrd " + initrd + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static long ceilMiB(long bytes) {
        return (bytes + (1 << 20) - 1) >> 20;
    }
}
