package org.vireo.virtio;

import java.nio.ByteBuffer;
import java.util.Objects;

import org.vireo.api.memory.GuestMemory;

/**
 * One request the driver made available on a {@link Virtqueue}: the guest buffers of a
 * descriptor chain (virtio 1.2 §2.7.5), device-readable segments first, then device-writable
 * ones, with indirect tables already flattened.
 *
 * <p>The chain is a snapshot taken and checked when {@link Virtqueue#next()} parsed it: every
 * segment lies inside guest RAM and the totals are bounded, so a driver that rewrites the
 * descriptors afterwards changes nothing here. It holds guest addresses only; {@link #read} and
 * {@link #write} copy piecewise into the caller's buffer, so the host never allocates what a
 * guest length asks for. Zero-length descriptors are dropped from the segments.
 */
public final class DescriptorChain {

    private final Virtqueue queue;
    private final long generation;
    private final GuestMemory memory;
    private final int head;
    private final long[] addresses;
    private final int[] lengths;
    private final int readableSegments;
    private final int readableLength;
    private final int writableLength;
    /** Set once the chain went back to the driver through {@link Virtqueue#putUsed}. */
    boolean returned;

    DescriptorChain(Virtqueue queue, long generation, GuestMemory memory, int head, long[] addresses,
            int[] lengths, int readableSegments, int readableLength, int writableLength) {
        this.queue = queue;
        this.generation = generation;
        this.memory = memory;
        this.head = head;
        this.addresses = addresses;
        this.lengths = lengths;
        this.readableSegments = readableSegments;
        this.readableLength = readableLength;
        this.writableLength = writableLength;
    }

    Virtqueue queue() {
        return queue;
    }

    long generation() {
        return generation;
    }

    /** Index of the chain's first descriptor: the id the used ring returns to the driver. */
    public int head() {
        return head;
    }

    /** Total bytes of the device-readable segments. */
    public int readableLength() {
        return readableLength;
    }

    /** Total bytes of the device-writable segments. */
    public int writableLength() {
        return writableLength;
    }

    /** Number of non-empty segments, readable ones first. */
    public int segments() {
        return addresses.length;
    }

    /** Guest-physical address of segment {@code i}. */
    public long address(int i) {
        return addresses[Objects.checkIndex(i, addresses.length)];
    }

    /** Length in bytes of segment {@code i}. */
    public int length(int i) {
        return lengths[Objects.checkIndex(i, lengths.length)];
    }

    /** Whether segment {@code i} is device-writable (all readable segments come first). */
    public boolean writable(int i) {
        return Objects.checkIndex(i, addresses.length) >= readableSegments;
    }

    /**
     * Copies up to {@code dst.remaining()} device-readable bytes, starting {@code offset} bytes
     * into the readable part, into {@code dst} and advances its position.
     *
     * @return the bytes copied: fewer than asked when the readable part ends first, 0 when
     *         {@code offset} is at or past its end
     */
    public int read(int offset, ByteBuffer dst) {
        return copy(0, readableSegments, offset, dst, false);
    }

    /**
     * Copies {@code src}'s remaining bytes into the device-writable part, starting
     * {@code offset} bytes into it, and advances {@code src}'s position by what was copied.
     *
     * @return the bytes copied: fewer than {@code src.remaining()} when the writable part ends
     *         first
     */
    public int write(int offset, ByteBuffer src) {
        return copy(readableSegments, addresses.length, offset, src, true);
    }

    private int copy(int from, int to, int offset, ByteBuffer buffer, boolean toGuest) {
        if (offset < 0) {
            throw new IllegalArgumentException("negative offset " + offset);
        }
        int done = 0;
        long skip = offset;
        for (int i = from; i < to && buffer.hasRemaining(); i++) {
            int length = lengths[i];
            if (skip >= length) {
                skip -= length;
                continue;
            }
            int n = (int) Math.min(length - skip, buffer.remaining());
            transfer(addresses[i] + skip, n, buffer, toGuest);
            skip = 0;
            done += n;
        }
        return done;
    }

    private void transfer(long address, int n, ByteBuffer buffer, boolean toGuest) {
        int position = buffer.position();
        if (buffer.hasArray()) {
            int at = buffer.arrayOffset() + position;
            if (toGuest) {
                memory.write(address, buffer.array(), at, n);
            } else {
                memory.read(address, buffer.array(), at, n);
            }
            buffer.position(position + n);
        } else if (toGuest) {
            memory.buffer(address, n).put(buffer.slice(position, n));
            buffer.position(position + n);
        } else {
            buffer.put(memory.buffer(address, n));
        }
    }

    @Override
    public String toString() {
        return "descriptor chain " + head + " of queue " + queue.index() + " (" + readableLength
                + " bytes readable, " + writableLength + " writable, " + addresses.length + " segments)";
    }
}
