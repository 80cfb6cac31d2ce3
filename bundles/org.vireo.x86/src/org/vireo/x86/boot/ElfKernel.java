package org.vireo.x86.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.OptionalLong;

import org.vireo.api.VireoException;
import org.vireo.api.memory.GuestMemory;

/**
 * An ELF64 x86-64 executable kernel (a vmlinux), checked field by field before anything of it
 * reaches guest memory. Layouts follow the System V ABI's ELF-64 object file format (file
 * header, program header table, note sections).
 *
 * <p>Segments load at their physical address (p_paddr). For x86-64 Linux, e_entry is the
 * physical address of startup_64 (arch/x86/kernel/vmlinux.lds.S: ENTRY(phys_startup_64)),
 * which is also the lowest p_paddr, LOAD_PHYSICAL_ADDR (16 MiB for Debian's kernel).
 */
public final class ElfKernel {

    /** One PT_LOAD segment. */
    public record Segment(long physAddr, long virtAddr, long fileOffset, long fileSize, long memSize, long align,
            int flags) {
        /** The first physical address after the segment. */
        public long end() {
            return physAddr + memSize;
        }
    }

    // ELF-64 file header (System V ABI, "ELF Header").
    private static final int EHDR_SIZE = 64;
    private static final int EI_CLASS = 4, EI_DATA = 5, EI_VERSION = 6;
    private static final int ELFCLASS64 = 2, ELFDATA2LSB = 1, EV_CURRENT = 1;
    private static final int E_TYPE = 0x10, E_MACHINE = 0x12, E_VERSION = 0x14, E_ENTRY = 0x18, E_PHOFF = 0x20,
            E_PHENTSIZE = 0x36, E_PHNUM = 0x38;
    private static final int ET_EXEC = 2;
    private static final int EM_X86_64 = 62;

    // Program header (System V ABI, "Program Header").
    private static final int PHDR_SIZE = 56;
    private static final int P_TYPE = 0, P_FLAGS = 4, P_OFFSET = 8, P_VADDR = 16, P_PADDR = 24, P_FILESZ = 32,
            P_MEMSZ = 40, P_ALIGN = 48;
    private static final int PT_LOAD = 1, PT_NOTE = 4;
    /** More program headers than any kernel has; e_phnum 0xffff (PN_XNUM) is refused with it. */
    private static final int MAX_PHNUM = 1024;

    /** The widest physical address an x86-64 CPU can have (Intel SDM vol. 3 §4.1.4: MAXPHYADDR <= 52). */
    public static final long MAX_PHYSICAL = 1L << 52;

    /** Xen's ELF note giving the 32-bit PVH entry point (xen/include/public/elfnote.h). */
    public static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;

    private final String source;
    private final ByteBuffer image;
    private final List<Segment> segments;
    private final long entry;
    private final OptionalLong pvhEntry;

    private ElfKernel(String source, ByteBuffer image, List<Segment> segments, long entry, OptionalLong pvhEntry) {
        this.source = source;
        this.image = image;
        this.segments = segments;
        this.entry = entry;
        this.pvhEntry = pvhEntry;
    }

    /** Whether {@code data} starts with the ELF magic. */
    public static boolean looksLikeElf(byte[] data) {
        return data.length >= 4 && data[0] == 0x7f && data[1] == 'E' && data[2] == 'L' && data[3] == 'F';
    }

    /**
     * Parses and validates the ELF image in {@code image} (position 0 to limit).
     *
     * @param source names the file (or the bzImage it came from) in error messages
     * @throws VireoException if the file is not an x86-64 executable or any field points outside it
     */
    public static ElfKernel parse(String source, ByteBuffer image) throws VireoException {
        ByteBuffer b = image.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long size = b.limit();
        if (size < EHDR_SIZE) {
            throw new VireoException(source + ": ELF file is " + size + " bytes, shorter than the 64-byte ELF header"
                    + " (truncated?)");
        }
        if (b.get(0) != 0x7f || b.get(1) != 'E' || b.get(2) != 'L' || b.get(3) != 'F') {
            throw new VireoException(source + ": e_ident does not start with \\x7fELF: not an ELF file");
        }
        expect(source, "e_ident[EI_CLASS]", b.get(EI_CLASS), ELFCLASS64, "2 (ELFCLASS64): Vireo boots 64-bit kernels");
        expect(source, "e_ident[EI_DATA]", b.get(EI_DATA), ELFDATA2LSB, "1 (little-endian)");
        expect(source, "e_ident[EI_VERSION]", b.get(EI_VERSION), EV_CURRENT, "1 (EV_CURRENT)");
        expect(source, "e_type", b.getShort(E_TYPE) & 0xffff, ET_EXEC, "2 (ET_EXEC, an executable)");
        expect(source, "e_machine", b.getShort(E_MACHINE) & 0xffff, EM_X86_64, "62 (EM_X86_64)");
        expect(source, "e_version", b.getInt(E_VERSION), EV_CURRENT, "1 (EV_CURRENT)");

        int phentsize = b.getShort(E_PHENTSIZE) & 0xffff;
        int phnum = b.getShort(E_PHNUM) & 0xffff;
        long phoff = b.getLong(E_PHOFF);
        expect(source, "e_phentsize", phentsize, PHDR_SIZE, "56 (sizeof(Elf64_Phdr))");
        if (phnum == 0 || phnum > MAX_PHNUM) {
            throw new VireoException(String.format("%s: e_phnum is %d, expected 1 to %d program headers",
                    source, phnum, MAX_PHNUM));
        }
        if (!fits(phoff, (long) phnum * PHDR_SIZE, size)) {
            throw new VireoException(String.format("%s: e_phoff 0x%x with %d program headers runs past the end"
                    + " of the %d-byte file (truncated?)", source, phoff, phnum, size));
        }

        List<Segment> loads = new ArrayList<>();
        OptionalLong pvh = OptionalLong.empty();
        for (int i = 0; i < phnum; i++) {
            int ph = (int) (phoff + (long) i * PHDR_SIZE);
            int type = b.getInt(ph + P_TYPE);
            long offset = b.getLong(ph + P_OFFSET);
            long fileSize = b.getLong(ph + P_FILESZ);
            String where = source + ": program header " + i;
            if (type == PT_LOAD) {
                Segment s = new Segment(b.getLong(ph + P_PADDR), b.getLong(ph + P_VADDR), offset, fileSize,
                        b.getLong(ph + P_MEMSZ), b.getLong(ph + P_ALIGN), b.getInt(ph + P_FLAGS));
                checkLoad(where, s, size);
                if (s.memSize() > 0) {
                    loads.add(s);
                }
            } else if (type == PT_NOTE) {
                if (!fits(offset, fileSize, size)) {
                    throw new VireoException(String.format("%s (PT_NOTE): p_offset 0x%x + p_filesz 0x%x runs past"
                            + " the end of the %d-byte file", where, offset, fileSize, size));
                }
                OptionalLong found = findPvhEntry(where, b, (int) offset, (int) fileSize);
                if (found.isPresent()) {
                    pvh = found;
                }
            }
        }
        if (loads.isEmpty()) {
            throw new VireoException(source + ": no PT_LOAD program header with p_memsz > 0: nothing to load");
        }
        loads.sort(Comparator.comparingLong(Segment::physAddr));
        for (int i = 1; i < loads.size(); i++) {
            Segment prev = loads.get(i - 1);
            Segment s = loads.get(i);
            if (s.physAddr() < prev.end()) {
                throw new VireoException(String.format("%s: PT_LOAD segments overlap: p_paddr 0x%x+0x%x and"
                        + " p_paddr 0x%x+0x%x", source, prev.physAddr(), prev.memSize(), s.physAddr(), s.memSize()));
            }
        }
        long entry = physicalEntry(source, b.getLong(E_ENTRY), loads);
        return new ElfKernel(source, image.duplicate(), List.copyOf(loads), entry, pvh);
    }

    private static void expect(String source, String field, int found, int expected, String what)
            throws VireoException {
        if (found != expected) {
            throw new VireoException(source + ": " + field + " is " + found + ", expected " + what);
        }
    }

    /** Whether {@code [offset, offset + length)} lies inside {@code [0, size)}, without overflow. */
    private static boolean fits(long offset, long length, long size) {
        return offset >= 0 && length >= 0 && offset <= size && length <= size - offset;
    }

    private static void checkLoad(String where, Segment s, long size) throws VireoException {
        if (s.fileSize() < 0 || s.memSize() < 0 || Long.compareUnsigned(s.fileSize(), s.memSize()) > 0) {
            throw new VireoException(String.format("%s (PT_LOAD): p_filesz 0x%x is larger than p_memsz 0x%x",
                    where, s.fileSize(), s.memSize()));
        }
        if (!fits(s.fileOffset(), s.fileSize(), size)) {
            throw new VireoException(String.format("%s (PT_LOAD): p_offset 0x%x + p_filesz 0x%x runs past the end"
                    + " of the %d-byte file (truncated?)", where, s.fileOffset(), s.fileSize(), size));
        }
        if (!fits(s.physAddr(), s.memSize(), MAX_PHYSICAL)) {
            throw new VireoException(String.format("%s (PT_LOAD): p_paddr 0x%x + p_memsz 0x%x is beyond any"
                    + " physical address (2^52)", where, s.physAddr(), s.memSize()));
        }
    }

    /**
     * The physical entry address. Linux gives a physical e_entry; an ELF whose e_entry is a
     * virtual address inside one of its segments is translated through that segment.
     */
    private static long physicalEntry(String source, long eEntry, List<Segment> loads) throws VireoException {
        for (Segment s : loads) {
            if (eEntry >= s.physAddr() && eEntry < s.end()) {
                return eEntry;
            }
        }
        for (Segment s : loads) {
            long offset = eEntry - s.virtAddr();
            if (Long.compareUnsigned(offset, s.memSize()) < 0) {
                return s.physAddr() + offset;
            }
        }
        throw new VireoException(String.format("%s: e_entry 0x%x lies in no PT_LOAD segment", source, eEntry));
    }

    /**
     * Walks the notes of one PT_NOTE segment (System V ABI, "Note Section": namesz, descsz,
     * type, then name and descriptor each padded to 4 bytes) for Xen's PHYS32_ENTRY.
     */
    private static OptionalLong findPvhEntry(String where, ByteBuffer b, int start, int length)
            throws VireoException {
        OptionalLong result = OptionalLong.empty();
        int pos = start;
        int end = start + length;
        while (end - pos >= 12) {
            long namesz = Integer.toUnsignedLong(b.getInt(pos));
            long descsz = Integer.toUnsignedLong(b.getInt(pos + 4));
            int type = b.getInt(pos + 8);
            long nameAt = pos + 12L;
            long descAt = nameAt + align4(namesz);
            long next = descAt + align4(descsz);
            if (next > end) {
                throw new VireoException(String.format("%s (PT_NOTE): note at file offset 0x%x with n_namesz %d and"
                        + " n_descsz %d runs past the end of its segment", where, pos, namesz, descsz));
            }
            if (type == XEN_ELFNOTE_PHYS32_ENTRY && isName(b, (int) nameAt, namesz, "Xen")) {
                if (descsz == 4) {
                    result = OptionalLong.of(Integer.toUnsignedLong(b.getInt((int) descAt)));
                } else if (descsz == 8) {
                    result = OptionalLong.of(b.getLong((int) descAt));
                } else {
                    throw new VireoException(String.format("%s (PT_NOTE): Xen PHYS32_ENTRY note has n_descsz %d,"
                            + " expected 4 or 8", where, descsz));
                }
            }
            pos = (int) next;
        }
        return result;
    }

    private static long align4(long n) {
        return (n + 3) & ~3L;
    }

    private static boolean isName(ByteBuffer b, int at, long namesz, String name) {
        byte[] expected = (name + "\0").getBytes(StandardCharsets.US_ASCII);
        if (namesz != expected.length) {
            return false;
        }
        for (int i = 0; i < expected.length; i++) {
            if (b.get(at + i) != expected[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * Copies every segment to its physical address and zeroes its p_memsz - p_filesz tail.
     * The caller has checked that the segments lie in RAM ({@link LinuxBoot} does).
     */
    public void load(GuestMemory memory) {
        final int chunk = 64 << 20;
        for (Segment s : segments) {
            long done = 0;
            while (done < s.fileSize()) {
                int n = (int) Math.min(chunk, s.fileSize() - done);
                ByteBuffer src = image.duplicate();
                src.limit((int) (s.fileOffset() + done + n)).position((int) (s.fileOffset() + done));
                memory.buffer(s.physAddr() + done, n).put(src);
                done += n;
            }
            if (s.memSize() > s.fileSize()) {
                memory.fill(s.physAddr() + s.fileSize(), s.memSize() - s.fileSize(), (byte) 0);
            }
        }
    }

    /** The file (or bzImage) the kernel came from, for messages. */
    public String source() {
        return source;
    }

    /** The PT_LOAD segments with p_memsz > 0, by ascending physical address. */
    public List<Segment> segments() {
        return segments;
    }

    /** The physical address of the 64-bit entry (startup_64 for Linux). */
    public long entry() {
        return entry;
    }

    /** The 32-bit PVH entry point from Xen's PHYS32_ENTRY note, if the kernel has one. */
    public OptionalLong pvhEntry() {
        return pvhEntry;
    }

    /** The lowest physical address a segment occupies. */
    public long loadStart() {
        return segments.get(0).physAddr();
    }

    /** The first physical address after the highest segment. */
    public long loadEnd() {
        long end = 0;
        for (Segment s : segments) {
            end = Math.max(end, s.end());
        }
        return end;
    }

    /** The largest power-of-two p_align of the segments, or 0 if none gives one. */
    public long maxAlignment() {
        long max = 0;
        for (Segment s : segments) {
            long a = s.align();
            if (a > 0 && (a & (a - 1)) == 0) {
                max = Math.max(max, a);
            }
        }
        return max;
    }
}
