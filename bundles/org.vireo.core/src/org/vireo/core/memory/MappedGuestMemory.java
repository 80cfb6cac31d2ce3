package org.vireo.core.memory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.vireo.api.memory.GuestMemory;
import org.vireo.api.memory.GuestMemoryException;
import org.vireo.api.memory.RamRange;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * Guest RAM in one anonymous private mapping of the host, so a hypervisor can map the same
 * pages into the guest as memory slots. Each {@link RamRange} is a window of that mapping;
 * the x86 board leaves a hole below 4 GiB for MMIO and puts the rest of RAM above it.
 *
 * <p>Java reaches the mapping through direct {@link ByteBuffer} views of at most 1 GiB each
 * (a buffer is indexed by {@code int}), so the JIT compiles accesses to plain loads and
 * stores. Pages are committed by the host kernel on first touch: a 4 GiB guest that uses
 * 200 MiB costs 200 MiB.
 */
public final class MappedGuestMemory implements GuestMemory {

    private static final int CHUNK_SHIFT = 30;
    private static final long CHUNK_SIZE = 1L << CHUNK_SHIFT;
    private static final long CHUNK_MASK = CHUNK_SIZE - 1;

    private final List<RamRange> ranges;
    /** For each range, its offset in the host mapping. */
    private final long[] hostOffsets;
    private final long size;
    private final Pointer mapping;
    private final ByteBuffer[] chunks;
    private volatile boolean closed;

    /**
     * Maps RAM for {@code ranges} (ascending, non-overlapping).
     *
     * @throws IllegalArgumentException if the ranges overlap or are out of order
     * @throws IllegalStateException if the host refuses the mapping, naming the size asked for
     */
    public MappedGuestMemory(List<RamRange> ranges) {
        this.ranges = List.copyOf(ranges);
        this.hostOffsets = new long[ranges.size()];
        long total = 0;
        long previousEnd = 0;
        for (int i = 0; i < ranges.size(); i++) {
            RamRange r = ranges.get(i);
            if (r.start() < previousEnd) {
                throw new IllegalArgumentException("RAM ranges overlap or are out of order at " + r);
            }
            previousEnd = r.end();
            hostOffsets[i] = total;
            total += r.size();
        }
        this.size = total;
        this.mapping = Mman.map(total);
        int chunkCount = (int) ((total + CHUNK_SIZE - 1) >>> CHUNK_SHIFT);
        this.chunks = new ByteBuffer[chunkCount];
        for (int i = 0; i < chunkCount; i++) {
            long chunkSize = Math.min(CHUNK_SIZE, total - ((long) i << CHUNK_SHIFT));
            chunks[i] = mapping.getByteBuffer((long) i << CHUNK_SHIFT, chunkSize).order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    /** Maps {@code bytes} of RAM starting at guest physical address 0. */
    public static MappedGuestMemory flat(long bytes) {
        return new MappedGuestMemory(List.of(new RamRange(0, bytes)));
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public List<RamRange> ranges() {
        return ranges;
    }

    @Override
    public boolean contains(long address, long length) {
        return hostOffset(address, length) >= 0;
    }

    /** The offset of {@code [address, address+length)} in the host mapping, or -1. */
    private long hostOffset(long address, long length) {
        List<RamRange> rs = ranges;
        for (int i = 0; i < rs.size(); i++) {
            RamRange r = rs.get(i);
            if (r.contains(address, length)) {
                return hostOffsets[i] + (address - r.start());
            }
        }
        return -1;
    }

    private long checked(long address, long length) {
        if (closed) {
            throw new IllegalStateException("guest memory is closed");
        }
        long offset = hostOffset(address, length);
        if (offset < 0) {
            throw new GuestMemoryException(address, length);
        }
        return offset;
    }

    @Override
    public long hostAddress(long address) {
        return Pointer.nativeValue(mapping) + checked(address, 1);
    }

    private ByteBuffer chunk(long offset) {
        return chunks[(int) (offset >>> CHUNK_SHIFT)];
    }

    /** Whether a small access at host offset {@code offset} stays inside one chunk. */
    private static boolean inOneChunk(long offset, int length) {
        return (offset & CHUNK_MASK) + length <= CHUNK_SIZE;
    }

    @Override
    public byte readByte(long address) {
        long o = checked(address, 1);
        return chunk(o).get((int) (o & CHUNK_MASK));
    }

    @Override
    public short readShort(long address) {
        long o = checked(address, 2);
        return inOneChunk(o, 2) ? chunk(o).getShort((int) (o & CHUNK_MASK)) : (short) readSplit(o, 2);
    }

    @Override
    public int readInt(long address) {
        long o = checked(address, 4);
        return inOneChunk(o, 4) ? chunk(o).getInt((int) (o & CHUNK_MASK)) : (int) readSplit(o, 4);
    }

    @Override
    public long readLong(long address) {
        long o = checked(address, 8);
        return inOneChunk(o, 8) ? chunk(o).getLong((int) (o & CHUNK_MASK)) : readSplit(o, 8);
    }

    private long readSplit(long offset, int n) {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            long o = offset + i;
            v = (v << 8) | (chunk(o).get((int) (o & CHUNK_MASK)) & 0xff);
        }
        return v;
    }

    private void writeSplit(long offset, int n, long value) {
        for (int i = 0; i < n; i++) {
            long o = offset + i;
            chunk(o).put((int) (o & CHUNK_MASK), (byte) (value >>> (8 * i)));
        }
    }

    @Override
    public void writeByte(long address, byte value) {
        long o = checked(address, 1);
        chunk(o).put((int) (o & CHUNK_MASK), value);
    }

    @Override
    public void writeShort(long address, short value) {
        long o = checked(address, 2);
        if (inOneChunk(o, 2)) {
            chunk(o).putShort((int) (o & CHUNK_MASK), value);
        } else {
            writeSplit(o, 2, value);
        }
    }

    @Override
    public void writeInt(long address, int value) {
        long o = checked(address, 4);
        if (inOneChunk(o, 4)) {
            chunk(o).putInt((int) (o & CHUNK_MASK), value);
        } else {
            writeSplit(o, 4, value);
        }
    }

    @Override
    public void writeLong(long address, long value) {
        long o = checked(address, 8);
        if (inOneChunk(o, 8)) {
            chunk(o).putLong((int) (o & CHUNK_MASK), value);
        } else {
            writeSplit(o, 8, value);
        }
    }

    @Override
    public void read(long address, byte[] dst, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, dst.length);
        long o = checked(address, length);
        while (length > 0) {
            int inChunk = (int) Math.min(length, CHUNK_SIZE - (o & CHUNK_MASK));
            chunk(o).get((int) (o & CHUNK_MASK), dst, offset, inChunk);
            o += inChunk;
            offset += inChunk;
            length -= inChunk;
        }
    }

    @Override
    public void write(long address, byte[] src, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, src.length);
        long o = checked(address, length);
        while (length > 0) {
            int inChunk = (int) Math.min(length, CHUNK_SIZE - (o & CHUNK_MASK));
            chunk(o).put((int) (o & CHUNK_MASK), src, offset, inChunk);
            o += inChunk;
            offset += inChunk;
            length -= inChunk;
        }
    }

    @Override
    public void fill(long address, long length, byte value) {
        long o = checked(address, length);
        mapping.setMemory(o, length, value);
    }

    @Override
    public ByteBuffer buffer(long address, int length) {
        long o = checked(address, length);
        return mapping.getByteBuffer(o, length).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Base host pointer, for backends that map the whole of RAM (KVM memory slots). */
    public Pointer hostMapping() {
        return mapping;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Mman.unmap(mapping, size);
        }
    }

    @Override
    public String toString() {
        List<String> parts = new ArrayList<>();
        for (RamRange r : ranges) {
            parts.add(String.format("0x%x-0x%x", r.start(), r.end() - 1));
        }
        return "guest RAM " + (size >> 20) + " MiB " + parts;
    }

    /** The libc memory-mapping calls. */
    private static final class Mman {
        private static final int PROT_READ = 1, PROT_WRITE = 2;
        private static final int MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
        private static final Pointer MAP_FAILED = new Pointer(-1);

        static {
            Native.register(Mman.class, "c");
        }

        private static native Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

        private static native int munmap(Pointer addr, long length);

        static Pointer map(long bytes) {
            Pointer p = mmap(null, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == null || MAP_FAILED.equals(p)) {
                throw new IllegalStateException("cannot map " + (bytes >> 20) + " MiB of guest memory: errno "
                        + Native.getLastError());
            }
            return p;
        }

        static void unmap(Pointer p, long bytes) {
            munmap(p, bytes);
        }
    }
}
