package org.vireo.virtio;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.vireo.api.memory.GuestMemory;

/**
 * The guest's half of a split virtqueue, as a Linux-like driver writes it (virtio 1.2 §2.7.12
 * and §2.7.14): it lays out the three areas in guest memory, places buffers in free descriptors
 * (directly or through an indirect table), publishes heads with avail idx, and collects used
 * elements, freeing their descriptors. Raw setters let a test write what a broken or hostile
 * driver would.
 */
final class TestDriver {

    static final int NEXT = 1;
    static final int WRITE = 2;
    static final int INDIRECT = 4;

    /** Where the rings start; data buffers live above {@link #DATA_START}. */
    static final long RINGS_START = 0x10000;
    static final long DATA_START = 0x200000;

    /** A guest buffer element: device-readable or device-writable. */
    record Buffer(long address, int length, boolean writable) {
    }

    /** One used ring element. */
    record Used(int id, int length) {
    }

    final GuestMemory memory;
    final int size;
    final long desc;
    final long avail;
    final long used;

    private final Deque<Integer> free = new ArrayDeque<>();
    /** The descriptors each outstanding head occupies, to free them when it comes back. */
    private final Map<Integer, int[]> outstanding = new HashMap<>();
    private int availIdx;
    private int lastUsedIdx;
    private final long dataEnd;
    private long dataNext = DATA_START;

    TestDriver(GuestMemory memory, int size) {
        this(memory, size, RINGS_START);
    }

    TestDriver(GuestMemory memory, int size, long base) {
        this.memory = memory;
        this.size = size;
        this.desc = base;
        this.avail = desc + 16L * size;
        this.used = (avail + 6 + 2L * size + 3) & ~3L;
        this.dataEnd = memory.ranges().get(0).end();
        // A driver zeroes the rings it allocates (§2.7.10: used flags start at 0).
        memory.fill(desc, used + 6 + 8L * size - desc, (byte) 0);
        for (int i = 0; i < size; i++) {
            free.add(i);
        }
    }

    void configure(Virtqueue queue, boolean eventIdx) throws VirtqueueException {
        queue.configure(size, desc, avail, used, eventIdx);
    }

    /** Bump-allocates guest memory for buffers, wrapping round when the data area is used up. */
    long alloc(int length) {
        long aligned = (length + 15L) & ~15L;
        if (dataNext + aligned > dataEnd) {
            dataNext = DATA_START;
        }
        long at = dataNext;
        dataNext += aligned;
        return at;
    }

    Buffer readable(byte[] bytes) {
        long at = alloc(bytes.length);
        memory.write(at, bytes, 0, bytes.length);
        return new Buffer(at, bytes.length, false);
    }

    Buffer readable(String text) {
        return readable(text.getBytes(StandardCharsets.US_ASCII));
    }

    Buffer writable(int length) {
        long at = alloc(length);
        memory.fill(at, length, (byte) 0);
        return new Buffer(at, length, true);
    }

    byte[] bytes(long address, int length) {
        byte[] b = new byte[length];
        memory.read(address, b, 0, length);
        return b;
    }

    int freeDescriptors() {
        return free.size();
    }

    /** Places {@code buffers} in free descriptors, chained in order; returns the head. Not yet published. */
    int add(Buffer... buffers) {
        if (buffers.length == 0 || buffers.length > free.size()) {
            throw new IllegalStateException("need " + buffers.length + " descriptors, " + free.size() + " free");
        }
        int[] taken = new int[buffers.length];
        for (int i = 0; i < buffers.length; i++) {
            taken[i] = free.poll();
        }
        for (int i = 0; i < buffers.length; i++) {
            Buffer b = buffers[i];
            boolean last = i == buffers.length - 1;
            writeDescriptor(taken[i], b.address(), b.length(), (b.writable() ? WRITE : 0) | (last ? 0 : NEXT),
                    last ? 0 : taken[i + 1]);
        }
        outstanding.put(taken[0], taken);
        return taken[0];
    }

    /** Places {@code buffers} in an indirect table referred to by one descriptor; returns its index. */
    int addIndirect(Buffer... buffers) {
        long table = alloc(16 * buffers.length);
        for (int i = 0; i < buffers.length; i++) {
            Buffer b = buffers[i];
            boolean last = i == buffers.length - 1;
            writeDescriptorAt(table, i, b.address(), b.length(), (b.writable() ? WRITE : 0) | (last ? 0 : NEXT),
                    last ? 0 : i + 1);
        }
        int head = free.poll();
        writeDescriptor(head, table, 16 * buffers.length, INDIRECT, 0);
        outstanding.put(head, new int[] {head});
        return head;
    }

    /** Adds the heads to the available ring and then makes them visible with one idx update. */
    void publish(int... heads) {
        for (int head : heads) {
            memory.writeShort(avail + 4 + 2L * (availIdx % size), (short) head);
            availIdx = (availIdx + 1) & 0xffff;
        }
        memory.writeShort(avail + 2, (short) availIdx);
    }

    /** Adds and publishes one chain; returns its head. */
    int send(Buffer... buffers) {
        int head = add(buffers);
        publish(head);
        return head;
    }

    /** The next used element, freeing its descriptors, or null if the device returned nothing new. */
    Used takeUsed() {
        if (usedIdx() == lastUsedIdx) {
            return null;
        }
        long element = used + 4 + 8L * (lastUsedIdx % size);
        Used u = new Used(memory.readInt(element), memory.readInt(element + 4));
        lastUsedIdx = (lastUsedIdx + 1) & 0xffff;
        int[] descriptors = outstanding.remove(u.id());
        if (descriptors == null) {
            throw new AssertionError("device returned head " + u.id() + ", which the driver has not made available");
        }
        for (int d : descriptors) {
            free.add(d);
        }
        return u;
    }

    List<Used> takeAllUsed() {
        List<Used> all = new ArrayList<>();
        for (Used u = takeUsed(); u != null; u = takeUsed()) {
            all.add(u);
        }
        return all;
    }

    // Raw access: what a driver, well-behaved or not, can write.

    void writeDescriptor(int i, long address, int length, int flags, int next) {
        writeDescriptorAt(desc, i, address, length, flags, next);
    }

    void writeDescriptorAt(long table, int i, long address, int length, int flags, int next) {
        long at = table + 16L * i;
        memory.writeLong(at, address);
        memory.writeInt(at + 8, length);
        memory.writeShort(at + 12, (short) flags);
        memory.writeShort(at + 14, (short) next);
    }

    void setAvailEntry(int slot, int head) {
        memory.writeShort(avail + 4 + 2L * slot, (short) head);
    }

    void setAvailIdx(int idx) {
        availIdx = idx & 0xffff;
        memory.writeShort(avail + 2, (short) idx);
    }

    int availIdx() {
        return availIdx;
    }

    void setAvailFlags(int flags) {
        memory.writeShort(avail, (short) flags);
    }

    void setUsedEvent(int idx) {
        memory.writeShort(avail + 4 + 2L * size, (short) idx);
    }

    int usedFlags() {
        return memory.readShort(used) & 0xffff;
    }

    int usedIdx() {
        return memory.readShort(used + 2) & 0xffff;
    }

    int availEvent() {
        return memory.readShort(used + 4 + 8L * size) & 0xffff;
    }
}
