package org.vireo.cpu.emu;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

import org.vireo.api.bus.IoBus;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.memory.RamRange;

/**
 * The memory side of the CPU: 4-level paging (Intel SDM vol. 3 ch. 4.5) with a software TLB
 * in front of it, and physical accesses that go to RAM, to the vCPU's local APIC page, or to
 * the MMIO bus.
 *
 * <p>The TLB is direct-mapped and keeps one tag per kind of access (read, write, fetch) and
 * per privilege (supervisor, user), so that a hit needs one compare: an entry is only filled
 * for an access the page tables allowed, and a write entry only once the dirty bit is set.
 * Only RAM pages enter it; MMIO pages take the slow path on every access.
 */
final class Mmu {

    static final int READ = 0, WRITE = 1, FETCH = 2;

    private static final int TLB_BITS = 10;
    private static final int TLB_SIZE = 1 << TLB_BITS;
    private static final long NO_TAG = -1L;

    /** The physical address bits the CPU reports in CPUID 0x80000008 (SDM vol. 3 §4.1.4). */
    static final int PHYS_ADDR_BITS = 40;
    private static final long ADDR_MASK = ((1L << PHYS_ADDR_BITS) - 1) & ~0xfffL;
    private static final long RESERVED_HIGH = ((1L << 52) - 1) & ~((1L << PHYS_ADDR_BITS) - 1);

    // Page-table entry bits (SDM vol. 3 §4.5, tables 4-14 to 4-20).
    private static final long PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 1 << 5, PTE_D = 1 << 6,
            PTE_PS = 1 << 7, PTE_G = 1 << 8, PTE_XD = 1L << 63;

    // Page-fault error code bits (SDM vol. 3 §4.7).
    static final int PF_P = 1, PF_W = 2, PF_U = 4, PF_RSVD = 8, PF_I = 16;

    private final Cpu cpu;
    private final IoBus mmio;
    private final long[] ramStart;
    private final long[] ramEnd;
    private final ByteBuffer[][] ramChunks;
    private static final int CHUNK_SHIFT = 30;

    // Tags: index = privilege * TLB_SIZE + (page & (TLB_SIZE - 1)); value = page number or NO_TAG.
    final long[] readTag = new long[2 * TLB_SIZE];
    final long[] writeTag = new long[2 * TLB_SIZE];
    final long[] fetchTag = new long[2 * TLB_SIZE];
    final ByteBuffer[] buf = new ByteBuffer[2 * TLB_SIZE];
    final int[] off = new int[2 * TLB_SIZE];
    private final boolean[] global = new boolean[2 * TLB_SIZE];

    Mmu(Cpu cpu, GuestMemory memory, IoBus mmio) {
        this.cpu = cpu;
        this.mmio = mmio;
        List<RamRange> ranges = memory.ranges();
        ramStart = new long[ranges.size()];
        ramEnd = new long[ranges.size()];
        ramChunks = new ByteBuffer[ranges.size()][];
        for (int i = 0; i < ranges.size(); i++) {
            RamRange r = ranges.get(i);
            ramStart[i] = r.start();
            ramEnd[i] = r.start() + r.size();
            int n = (int) ((r.size() + (1L << CHUNK_SHIFT) - 1) >>> CHUNK_SHIFT);
            ramChunks[i] = new ByteBuffer[n];
            for (int c = 0; c < n; c++) {
                long chunkStart = (long) c << CHUNK_SHIFT;
                int len = (int) Math.min(1L << CHUNK_SHIFT, r.size() - chunkStart);
                ramChunks[i][c] = memory.buffer(r.start() + chunkStart, len);
            }
        }
        flushAll();
    }

    // ---- TLB maintenance ----

    void flushAll() {
        Arrays.fill(readTag, NO_TAG);
        Arrays.fill(writeTag, NO_TAG);
        Arrays.fill(fetchTag, NO_TAG);
        Arrays.fill(global, false);
    }

    /** A CR3 load: drops every entry but global pages when CR4.PGE is set. */
    void flushNonGlobal() {
        for (int i = 0; i < global.length; i++) {
            if (!global[i]) {
                readTag[i] = NO_TAG;
                writeTag[i] = NO_TAG;
                fetchTag[i] = NO_TAG;
            }
        }
    }

    /** INVLPG: drops the entries for the page of {@code linear}, global or not. */
    void flushPage(long linear) {
        long page = linear >>> 12;
        for (int priv = 0; priv < 2; priv++) {
            int i = priv * TLB_SIZE + (int) (page & (TLB_SIZE - 1));
            readTag[i] = NO_TAG;
            writeTag[i] = NO_TAG;
            fetchTag[i] = NO_TAG;
            global[i] = false;
        }
    }

    static int slot(long linear, int user) {
        return (user << TLB_BITS) + (int) ((linear >>> 12) & (TLB_SIZE - 1));
    }

    // ---- translation ----

    /**
     * Translates {@code linear} for an access of {@code kind} at the current privilege,
     * walking the page tables, updating accessed/dirty bits and filling the TLB for RAM pages.
     *
     * @return the physical address
     * @throws CpuFault #PF with the SDM's error code and CR2 address, #GP(0) for a non-canonical address
     */
    long translate(long linear, int kind) {
        if ((linear << 16 >> 16) != linear) {
            throw CpuFault.gp(0);
        }
        boolean user = cpu.cpl == 3;
        if ((cpu.cr0 & Cpu.CR0_PG) == 0) {
            return fill(linear, linear & ~0xfffL, kind, user, false, true, true) | (linear & 0xfff);
        }
        boolean nxe = (cpu.efer & Cpu.EFER_NXE) != 0;
        long rsvdXd = nxe ? 0 : PTE_XD;
        int faultBits = (kind == WRITE ? PF_W : 0) | (user ? PF_U : 0) | (kind == FETCH && nxe ? PF_I : 0);

        long table = cpu.cr3 & ADDR_MASK;
        boolean writable = true;
        boolean userOk = true;
        boolean exec = true;
        long entry = 0;
        long entryAddr = 0;
        long pageBase = 0;
        long pageMask = 0;
        for (int level = 4; level >= 1; level--) {
            int shift = 12 + 9 * (level - 1);
            entryAddr = table + (((linear >>> shift) & 511) << 3);
            entry = physRead64(entryAddr);
            if ((entry & PTE_P) == 0) {
                throw pageFault(linear, faultBits);
            }
            boolean large = level <= 3 && level >= 2 && (entry & PTE_PS) != 0;
            long reserved = RESERVED_HIGH | rsvdXd;
            if (level == 4) {
                reserved |= PTE_PS;
            }
            if (large) {
                // The frame of a 1 GiB or 2 MiB page must be aligned: bits 12 up to the page size
                // (except PAT at bit 12) are reserved.
                reserved |= ((1L << shift) - 1) & ~0x1fffL;
            }
            if ((entry & reserved) != 0) {
                throw pageFault(linear, faultBits | PF_P | PF_RSVD);
            }
            writable &= (entry & PTE_RW) != 0;
            userOk &= (entry & PTE_US) != 0;
            exec &= !nxe || (entry & PTE_XD) == 0;
            if (level == 1 || large) {
                pageMask = (1L << shift) - 1;
                pageBase = entry & ADDR_MASK & ~pageMask;
                break;
            }
            if ((entry & PTE_A) == 0) {
                physWrite64(entryAddr, entry | PTE_A);
            }
            table = entry & ADDR_MASK;
        }

        // Permission checks (SDM vol. 3 §4.6).
        if (user && !userOk) {
            throw pageFault(linear, faultBits | PF_P);
        }
        if (kind == WRITE && !writable && (user || (cpu.cr0 & Cpu.CR0_WP) != 0)) {
            throw pageFault(linear, faultBits | PF_P);
        }
        if (kind == FETCH && !exec) {
            throw pageFault(linear, faultBits | PF_P);
        }
        long updated = entry | PTE_A | (kind == WRITE ? PTE_D : 0);
        if (updated != entry) {
            physWrite64(entryAddr, updated);
        }
        boolean isGlobal = (entry & PTE_G) != 0 && (cpu.cr4 & Cpu.CR4_PGE) != 0;
        long phys = pageBase | (linear & pageMask);
        boolean mayWrite = (updated & PTE_D) != 0 && (writable || (!user && (cpu.cr0 & Cpu.CR0_WP) == 0));
        return fill(linear, phys & ~0xfffL, kind, user, isGlobal, mayWrite, exec) | (linear & 0xfff);
    }

    private CpuFault pageFault(long linear, int code) {
        return CpuFault.pageFault(linear, code);
    }

    /** Enters a RAM page in the TLB for the access kind that was checked; returns {@code physPage}. */
    private long fill(long linear, long physPage, int kind, boolean user, boolean isGlobal, boolean mayWrite,
            boolean mayExec) {
        int r = ramIndex(physPage);
        if (r < 0 || cpu.isApicPage(physPage)) {
            return physPage;
        }
        long offset = physPage - ramStart[r];
        int i = slot(linear, user ? 1 : 0);
        long page = linear >>> 12;
        ByteBuffer b = ramChunks[r][(int) (offset >>> CHUNK_SHIFT)];
        int o = (int) (offset & ((1L << CHUNK_SHIFT) - 1));
        if (buf[i] != b || off[i] != o) {
            // The slot now maps another frame: drop what the other kinds had cached for the old page.
            readTag[i] = NO_TAG;
            writeTag[i] = NO_TAG;
            fetchTag[i] = NO_TAG;
        } else if (readTag[i] != page && writeTag[i] != page && fetchTag[i] != page) {
            readTag[i] = NO_TAG;
            writeTag[i] = NO_TAG;
            fetchTag[i] = NO_TAG;
        }
        buf[i] = b;
        off[i] = o;
        global[i] = isGlobal;
        switch (kind) {
            case READ -> readTag[i] = page;
            case WRITE -> {
                readTag[i] = page;
                if (mayWrite) {
                    writeTag[i] = page;
                }
            }
            default -> {
                if (mayExec) {
                    fetchTag[i] = page;
                }
            }
        }
        return physPage;
    }

    private int ramIndex(long phys) {
        for (int i = 0; i < ramStart.length; i++) {
            if (phys >= ramStart[i] && phys < ramEnd[i]) {
                return i;
            }
        }
        return -1;
    }

    // ---- physical accesses ----

    long physRead(long phys, int size) {
        int r = ramIndex(phys);
        if (r >= 0 && phys + size <= ramEnd[r]) {
            long offset = phys - ramStart[r];
            ByteBuffer b = ramChunks[r][(int) (offset >>> CHUNK_SHIFT)];
            int o = (int) (offset & ((1L << CHUNK_SHIFT) - 1));
            if (o + size <= b.capacity()) {
                return switch (size) {
                    case 1 -> b.get(o) & 0xffL;
                    case 2 -> b.getShort(o) & 0xffffL;
                    case 4 -> b.getInt(o) & 0xffffffffL;
                    default -> b.getLong(o);
                };
            }
        }
        if (r >= 0 || ramIndex(phys + size - 1) >= 0) {
            // Straddles a chunk or RAM's end: byte by byte.
            long v = 0;
            for (int k = 0; k < size; k++) {
                v |= physRead(phys + k, 1) << (8 * k);
            }
            return v;
        }
        if (cpu.isApicPage(phys & ~0xfffL)) {
            return cpu.apicRead((int) (phys & 0xfff), size);
        }
        return mmio.read(phys, size) & sizeMask(size);
    }

    void physWrite(long phys, int size, long value) {
        int r = ramIndex(phys);
        if (r >= 0 && phys + size <= ramEnd[r]) {
            long offset = phys - ramStart[r];
            ByteBuffer b = ramChunks[r][(int) (offset >>> CHUNK_SHIFT)];
            int o = (int) (offset & ((1L << CHUNK_SHIFT) - 1));
            if (o + size <= b.capacity()) {
                switch (size) {
                    case 1 -> b.put(o, (byte) value);
                    case 2 -> b.putShort(o, (short) value);
                    case 4 -> b.putInt(o, (int) value);
                    default -> b.putLong(o, value);
                }
                return;
            }
        }
        if (r >= 0 || ramIndex(phys + size - 1) >= 0) {
            for (int k = 0; k < size; k++) {
                physWrite(phys + k, 1, value >>> (8 * k));
            }
            return;
        }
        if (cpu.isApicPage(phys & ~0xfffL)) {
            cpu.apicWrite((int) (phys & 0xfff), size, value);
            return;
        }
        mmio.write(phys, size, value);
    }

    long physRead64(long phys) {
        return physRead(phys, 8);
    }

    void physWrite64(long phys, long value) {
        physWrite(phys, 8, value);
    }

    static long sizeMask(int size) {
        return size == 8 ? -1L : (1L << (8 * size)) - 1;
    }

    // ---- linear accesses (slow paths; Cpu has the inline TLB hits) ----

    long readSlow(long linear, int size) {
        if ((linear & 0xfff) + size <= 0x1000) {
            long phys = translate(linear, READ);
            return physRead(phys, size);
        }
        // Crosses a page: both halves must translate before anything is read.
        long first = translate(linear, READ);
        long second = translate((linear + size - 1) & ~0xfffL, READ);
        long v = 0;
        for (int k = 0; k < size; k++) {
            long a = linear + k;
            long phys = (a & ~0xfffL) == (linear & ~0xfffL) ? first + k : second + (a & 0xfff);
            v |= physRead(phys, 1) << (8 * k);
        }
        return v;
    }

    void writeSlow(long linear, int size, long value) {
        if ((linear & 0xfff) + size <= 0x1000) {
            long phys = translate(linear, WRITE);
            physWrite(phys, size, value);
            return;
        }
        long first = translate(linear, WRITE);
        long second = translate((linear + size - 1) & ~0xfffL, WRITE);
        for (int k = 0; k < size; k++) {
            long a = linear + k;
            long phys = (a & ~0xfffL) == (linear & ~0xfffL) ? first + k : second + (a & 0xfff);
            physWrite(phys, 1, value >>> (8 * k));
        }
    }

    /** Checks that a write of {@code size} bytes at {@code linear} would succeed, without writing. */
    void probeWrite(long linear, int size) {
        translate(linear, WRITE);
        if ((linear & 0xfff) + size > 0x1000) {
            translate((linear + size - 1) & ~0xfffL, WRITE);
        }
    }

    int fetchSlow(long linear) {
        long phys = translate(linear, FETCH);
        return (int) physRead(phys, 1);
    }
}
