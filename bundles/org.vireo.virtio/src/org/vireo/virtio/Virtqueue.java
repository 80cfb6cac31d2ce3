package org.vireo.virtio;

import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Objects;

import org.vireo.api.memory.GuestMemory;
import org.vireo.api.memory.GuestMemoryException;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The device side of a virtio 1.2 split virtqueue (§2.7): pulls the descriptor chains the driver
 * makes available, returns them through the used ring, and handles notification suppression in
 * both directions, with or without VIRTIO_F_EVENT_IDX.
 *
 * <p>Everything the driver writes is untrusted. The parser checks each descriptor before it
 * uses it and throws {@link VirtqueueException} for anything the spec does not allow; the queue
 * is then broken (the device sets DEVICE_NEEDS_RESET) and refuses further work until
 * {@link #reset()} or {@link #configure}. Nothing else escapes for guest-controlled data.
 *
 * <p>Layout in guest memory (all fields little-endian):
 * <pre>
 * descriptor table  16 * size        {le64 addr, le32 len, le16 flags, le16 next}[size]   align 16
 * available ring    6 + 2 * size     le16 flags, le16 idx, le16 ring[size], le16 used_event   align 2
 * used ring         6 + 8 * size     le16 flags, le16 idx, {le32 id, le32 len}[size], le16 avail_event   align 4
 * </pre>
 *
 * <p>Methods are synchronized, so a completion thread may call {@link #putUsed} while a vCPU
 * thread calls {@link #next()}. The explicit fences order this device's guest-memory accesses
 * against the driver running on other CPUs, which Java's monitors alone do not promise.
 */
public final class Virtqueue {

    /** Largest queue size the spec allows (§2.7: a power of 2, at most 32768). */
    public static final int MAX_SIZE = 32768;

    /**
     * Largest total of device-readable (and, separately, device-writable) bytes one chain may
     * describe. The spec allows up to 4 GiB; no Vireo device needs a request that large, and a
     * bound keeps int arithmetic in the devices safe.
     */
    public static final int MAX_CHAIN_BYTES = 256 << 20;

    // §2.7.5 descriptor flags
    private static final int DESC_F_NEXT = 1;
    private static final int DESC_F_WRITE = 2;
    private static final int DESC_F_INDIRECT = 4;
    // §2.7.7 and §2.7.10 ring flags
    private static final int AVAIL_F_NO_INTERRUPT = 1;
    private static final int USED_F_NO_NOTIFY = 1;

    private static final int DESC_SIZE = 16;
    private static final int STATE_VERSION = 1;

    private final GuestMemory memory;
    private final int index;
    private final int maxSize;

    private boolean configured;
    /** The message of the error that broke the queue, or null. */
    private String broken;
    private int size;
    private long descTable;
    private long availRing;
    private long usedRing;
    private boolean eventIdx;
    /** Bumped by configure, reset and restore: chains handed out before are forgotten. */
    private long generation;

    /** The avail ring position of the next chain to take (free-running, 16 bits). */
    private int lastAvailIdx;
    /** The driver's avail idx as last read; chains up to it are known to be published. */
    private int shadowAvailIdx;
    /** The used idx this device last published. */
    private int usedIdx;
    /** The used idx when {@link #needsInterrupt()} last ran: the "old" of §2.7.10's test. */
    private int signalledUsedIdx;
    private boolean notificationsEnabled = true;

    // Scratch for one chain's segments while it is parsed; grows to at most maxSize.
    private long[] scratchAddresses = new long[16];
    private int[] scratchLengths = new int[16];

    /**
     * @param index   the queue's index in its device, for messages and the used ring
     * @param maxSize the largest queue size the device offers, a power of two up to
     *                {@link #MAX_SIZE}; also the most descriptors one chain may hold, counting
     *                those of an indirect table
     */
    public Virtqueue(GuestMemory memory, int index, int maxSize) {
        this.memory = Objects.requireNonNull(memory, "memory");
        if (index < 0) {
            throw new IllegalArgumentException("negative queue index " + index);
        }
        if (maxSize < 1 || maxSize > MAX_SIZE || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("queue " + index + ": maximum size " + maxSize
                    + " is not a power of two from 1 to " + MAX_SIZE);
        }
        this.index = index;
        this.maxSize = maxSize;
    }

    public int index() {
        return index;
    }

    public int maxSize() {
        return maxSize;
    }

    /** The configured queue size, or 0 when not configured. */
    public synchronized int size() {
        return configured ? size : 0;
    }

    /**
     * Takes the driver's layout (the transport's queue_size, queue_desc, queue_driver and
     * queue_device registers) and starts the queue with both indices at 0.
     *
     * @throws VirtqueueException if the size is not a power of two from 1 to {@link #maxSize()},
     *         an area is misaligned (descriptor table 16, available ring 2, used ring 4) or does
     *         not lie wholly in guest RAM; the queue is then left unconfigured
     */
    public synchronized void configure(int size, long descTable, long availRing, long usedRing, boolean eventIdx)
            throws VirtqueueException {
        clear();
        String problem = layoutProblem(size, descTable, availRing, usedRing);
        if (problem != null) {
            throw new VirtqueueException("queue " + index + ": " + problem);
        }
        this.size = size;
        this.descTable = descTable;
        this.availRing = availRing;
        this.usedRing = usedRing;
        this.eventIdx = eventIdx;
        this.configured = true;
    }

    private String layoutProblem(int size, long descTable, long availRing, long usedRing) {
        if (size < 1 || size > maxSize || Integer.bitCount(size) != 1) {
            return "size " + size + " is not a power of two from 1 to " + maxSize;
        }
        String problem = areaProblem("descriptor table", descTable, 16, (long) DESC_SIZE * size);
        if (problem == null) {
            problem = areaProblem("available ring", availRing, 2, 6 + 2L * size);
        }
        if (problem == null) {
            problem = areaProblem("used ring", usedRing, 4, 6 + 8L * size);
        }
        return problem;
    }

    private String areaProblem(String what, long address, int alignment, long length) {
        if ((address & (alignment - 1)) != 0) {
            return String.format("%s at 0x%x is not %d-byte aligned", what, address, alignment);
        }
        if (!memory.contains(address, length)) {
            return String.format("%s 0x%x+0x%x is outside guest RAM", what, address, length);
        }
        return null;
    }

    /** Whether the queue is configured and has not met a driver error since. */
    public synchronized boolean ready() {
        return configured && broken == null;
    }

    /** Back to unconfigured with both indices at 0 (device reset, or queue_reset of §4.1.4.3). */
    public synchronized void reset() {
        clear();
    }

    private void clear() {
        configured = false;
        broken = null;
        size = 0;
        descTable = 0;
        availRing = 0;
        usedRing = 0;
        eventIdx = false;
        lastAvailIdx = 0;
        shadowAvailIdx = 0;
        usedIdx = 0;
        signalledUsedIdx = 0;
        notificationsEnabled = true;
        generation++;
    }

    /**
     * The next chain the driver made available, or null when it has published nothing new (or
     * the queue is not configured). With EVENT_IDX and notifications enabled this also moves
     * avail_event along, so the driver notifies for the next chain it adds.
     *
     * @throws VirtqueueException for a malformed ring or chain; the queue is then broken, and
     *         every later call throws the same error until {@link #reset()}
     */
    public synchronized DescriptorChain next() throws VirtqueueException {
        if (broken != null) {
            throw new VirtqueueException(broken);
        }
        if (!configured) {
            return null;
        }
        try {
            if (lastAvailIdx == shadowAvailIdx) {
                int published = memory.readShort(availRing + 2) & 0xffff;
                // The ring entries and descriptors behind idx are read only after idx (§2.7.13).
                VarHandle.acquireFence();
                int fresh = (published - lastAvailIdx) & 0xffff;
                if (fresh > size) {
                    throw fail(String.format("available idx %d: the driver claims %d new buffers,"
                            + " more than the queue holds (%d; last seen idx %d)", published, fresh, size, lastAvailIdx));
                }
                if (fresh == 0) {
                    return null;
                }
                shadowAvailIdx = published;
            }
            int slot = lastAvailIdx & (size - 1);
            int head = memory.readShort(availRing + 4 + 2L * slot) & 0xffff;
            DescriptorChain chain = parse(head, slot);
            lastAvailIdx = (lastAvailIdx + 1) & 0xffff;
            if (eventIdx && notificationsEnabled) {
                memory.writeShort(availEventAddress(), (short) lastAvailIdx);
            }
            return chain;
        } catch (GuestMemoryException e) {
            // The areas and buffers are checked before use; this is a last line of defence.
            throw fail("guest memory access failed: " + e.getMessage());
        }
    }

    /** Walks the chain starting at descriptor {@code head}, checking each descriptor (§2.7.5). */
    private DescriptorChain parse(int head, int slot) throws VirtqueueException {
        if (head >= size) {
            throw fail(String.format("available ring entry %d: head descriptor %d beyond the queue size %d",
                    slot, head, size));
        }
        long table = descTable;
        int entries = size;
        int indirectFrom = -1;  // the descriptor that referred to the current indirect table
        int at = head;
        int walked = 0;         // descriptors visited in the current table
        int descriptors = 0;    // buffer descriptors in the whole chain
        int segments = 0;
        int readableSegments = 0;
        long readable = 0;
        long writable = 0;
        boolean sawWritable = false;
        while (true) {
            if (++walked > entries) {
                throw fail(where(at, indirectFrom) + String.format(": the chain from head %d loops (more than %d %s)",
                        head, entries, indirectFrom < 0 ? "descriptors in the queue" : "entries in the indirect table"));
            }
            long entry = table + (long) DESC_SIZE * at;
            long addr = memory.readLong(entry);
            long len = memory.readInt(entry + 8) & 0xffffffffL;
            int flags = memory.readShort(entry + 12) & 0xffff;
            int next = memory.readShort(entry + 14) & 0xffff;

            if ((flags & DESC_F_INDIRECT) != 0) {
                // §2.7.5.3: WRITE is ignored on the descriptor that refers to a table.
                if (indirectFrom >= 0) {
                    throw fail(where(at, indirectFrom) + ": an indirect table inside an indirect table");
                }
                if ((flags & DESC_F_NEXT) != 0) {
                    throw fail(where(at, indirectFrom) + ": INDIRECT and NEXT both set");
                }
                if (len == 0 || len % DESC_SIZE != 0 || len > (long) DESC_SIZE * MAX_SIZE) {
                    throw fail(where(at, indirectFrom) + String.format(
                            ": indirect table length %d is not a multiple of 16 from 16 to %d", len,
                            DESC_SIZE * MAX_SIZE));
                }
                if (!memory.contains(addr, len)) {
                    throw fail(where(at, indirectFrom)
                            + String.format(": indirect table 0x%x+0x%x is outside guest RAM", addr, len));
                }
                table = addr;
                entries = (int) (len / DESC_SIZE);
                indirectFrom = at;
                at = 0;
                walked = 0;
                continue;
            }

            if (++descriptors > maxSize) {
                throw fail(where(at, indirectFrom)
                        + String.format(": the chain from head %d has more than %d descriptors", head, maxSize));
            }
            boolean isWritable = (flags & DESC_F_WRITE) != 0;
            if (isWritable) {
                sawWritable = true;
                writable += len;
                if (writable > MAX_CHAIN_BYTES) {
                    throw fail(where(at, indirectFrom) + String.format(
                            ": the chain from head %d has more than %d device-writable bytes", head, MAX_CHAIN_BYTES));
                }
            } else {
                if (sawWritable) {
                    throw fail(where(at, indirectFrom) + ": device-readable after a device-writable descriptor");
                }
                readable += len;
                if (readable > MAX_CHAIN_BYTES) {
                    throw fail(where(at, indirectFrom) + String.format(
                            ": the chain from head %d has more than %d device-readable bytes", head, MAX_CHAIN_BYTES));
                }
            }
            if (len != 0) {
                if (!memory.contains(addr, len)) {
                    throw fail(where(at, indirectFrom)
                            + String.format(": buffer 0x%x+0x%x is outside guest RAM", addr, len));
                }
                if (segments == scratchAddresses.length) {
                    int grown = Math.min(segments * 2, maxSize);
                    scratchAddresses = Arrays.copyOf(scratchAddresses, grown);
                    scratchLengths = Arrays.copyOf(scratchLengths, grown);
                }
                scratchAddresses[segments] = addr;
                scratchLengths[segments] = (int) len;
                segments++;
                if (!isWritable) {
                    readableSegments++;
                }
            }

            if ((flags & DESC_F_NEXT) == 0) {
                break;
            }
            if (next >= entries) {
                throw fail(where(at, indirectFrom) + (indirectFrom < 0
                        ? String.format(": next %d beyond the queue size %d", next, entries)
                        : String.format(": next %d beyond the indirect table's %d entries", next, entries)));
            }
            at = next;
        }
        return new DescriptorChain(this, generation, memory, head, Arrays.copyOf(scratchAddresses, segments),
                Arrays.copyOf(scratchLengths, segments), readableSegments, (int) readable, (int) writable);
    }

    private static String where(int at, int indirectFrom) {
        return indirectFrom < 0 ? "descriptor " + at
                : "descriptor " + indirectFrom + " (indirect table entry " + at + ")";
    }

    /** Marks the queue broken and returns the exception to throw. */
    private VirtqueueException fail(String detail) {
        broken = "queue " + index + ": " + detail;
        return new VirtqueueException(broken);
    }

    /**
     * Returns {@code chain} to the driver: writes the used element {id = head, len =
     * bytesWritten}, then (release) the new used idx (§2.7.8). A chain taken before the queue was
     * last reset, reconfigured or restored is dropped silently: the driver has forgotten it.
     *
     * @param bytesWritten bytes the device wrote into the chain's writable part, from 0 to
     *                     {@link DescriptorChain#writableLength()}
     * @throws VirtqueueException if the queue is broken (the device must stop using it)
     * @throws IllegalArgumentException if the chain is from another queue or the length is out of range
     * @throws IllegalStateException if the chain was already returned
     */
    public synchronized void putUsed(DescriptorChain chain, int bytesWritten) throws VirtqueueException {
        Objects.requireNonNull(chain, "chain");
        if (chain.queue() != this) {
            throw new IllegalArgumentException("a chain of queue " + chain.queue().index()
                    + " returned to queue " + index);
        }
        if (chain.generation() != generation) {
            return;
        }
        if (broken != null) {
            throw new VirtqueueException(broken);
        }
        if (chain.returned) {
            throw new IllegalStateException("queue " + index + ": chain " + chain.head() + " returned twice");
        }
        if (bytesWritten < 0 || bytesWritten > chain.writableLength()) {
            throw new IllegalArgumentException("queue " + index + ": chain " + chain.head() + " has "
                    + chain.writableLength() + " writable bytes, not " + bytesWritten);
        }
        try {
            long element = usedRing + 4 + 8L * (usedIdx & (size - 1));
            memory.writeInt(element, chain.head());
            memory.writeInt(element + 4, bytesWritten);
            // The element must be visible before the idx that publishes it.
            VarHandle.releaseFence();
            usedIdx = (usedIdx + 1) & 0xffff;
            memory.writeShort(usedRing + 2, (short) usedIdx);
            chain.returned = true;
        } catch (GuestMemoryException e) {
            throw fail("guest memory access failed: " + e.getMessage());
        }
    }

    /**
     * Whether the driver wants a used buffer notification for the chains returned since the
     * last call (§2.7.7): without EVENT_IDX unless avail flags has VIRTQ_AVAIL_F_NO_INTERRUPT;
     * with EVENT_IDX when the used idx passed used_event since the last call. False when nothing
     * was returned since the last call or the queue is not ready.
     */
    public synchronized boolean needsInterrupt() {
        if (!ready()) {
            return false;
        }
        // Our used idx store must be visible before we read the driver's suppression fields,
        // or we could miss a driver that just asked for an interrupt.
        VarHandle.fullFence();
        int old = signalledUsedIdx;
        int now = usedIdx;
        signalledUsedIdx = now;
        if (old == now) {
            return false;
        }
        try {
            if (eventIdx) {
                int usedEvent = memory.readShort(availRing + 4 + 2L * size) & 0xffff;
                // vring_need_event: did idx step over used_event on its way from old to now?
                return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
            }
            return (memory.readShort(availRing) & AVAIL_F_NO_INTERRUPT) == 0;
        } catch (GuestMemoryException e) {
            return true;  // cannot happen for a configured queue; a spurious interrupt is harmless
        }
    }

    /**
     * Asks the driver to notify this device of new chains (§2.7.10): clears
     * VIRTQ_USED_F_NO_NOTIFY, or with EVENT_IDX sets avail_event to the next chain expected.
     *
     * @return true if chains arrived that {@link #next()} has not yet taken: the driver may
     *         have skipped notifying them, so the caller must look again
     */
    public synchronized boolean enableNotifications() {
        if (!ready()) {
            return false;
        }
        notificationsEnabled = true;
        try {
            if (eventIdx) {
                memory.writeShort(availEventAddress(), (short) lastAvailIdx);
            } else {
                memory.writeShort(usedRing, (short) 0);
            }
            // Publish the request before looking at idx: a driver adding a chain now either
            // sees it and notifies, or added it before and we see it here.
            VarHandle.fullFence();
            return (memory.readShort(availRing + 2) & 0xffff) != lastAvailIdx;
        } catch (GuestMemoryException e) {
            return true;
        }
    }

    /**
     * Tells the driver that notifications are not needed while the device is polling. Without
     * EVENT_IDX this sets VIRTQ_USED_F_NO_NOTIFY; with EVENT_IDX the device must keep flags at 0,
     * and simply stops moving avail_event forward, so the driver stops notifying once it passes it.
     */
    public synchronized void disableNotifications() {
        if (!ready()) {
            return;
        }
        notificationsEnabled = false;
        if (!eventIdx) {
            try {
                memory.writeShort(usedRing, (short) USED_F_NO_NOTIFY);
            } catch (GuestMemoryException e) {
                // cannot happen for a configured queue; the hint is optional anyway
            }
        }
    }

    private long availEventAddress() {
        return usedRing + 4 + 8L * size;
    }

    /**
     * Writes the queue's device state: layout, size, EVENT_IDX, the avail and used indices,
     * notification state and any driver error. Chains taken but not yet returned are not part of
     * it; a device quiesces (or records their heads) before it is saved.
     */
    public synchronized void saveState(StateWriter out) {
        out.putInt("version", STATE_VERSION)
                .putBoolean("configured", configured)
                .putString("error", broken == null ? "" : broken)
                .putInt("size", size)
                .putLong("descTable", descTable)
                .putLong("availRing", availRing)
                .putLong("usedRing", usedRing)
                .putBoolean("eventIdx", eventIdx)
                .putInt("lastAvailIdx", lastAvailIdx)
                .putInt("usedIdx", usedIdx)
                .putInt("signalledUsedIdx", signalledUsedIdx)
                .putBoolean("notifications", notificationsEnabled);
    }

    /**
     * Replaces the state with one written by {@link #saveState}. Chains handed out before are
     * forgotten. On failure the queue keeps its previous state.
     *
     * @throws StateException if a field is missing or the layout does not fit this queue and memory
     */
    public synchronized void restoreState(StateReader in) throws StateException {
        int version = in.getInt("version");
        if (version != STATE_VERSION) {
            throw new StateException("queue " + index + ": state version " + version + ", this Vireo reads "
                    + STATE_VERSION);
        }
        boolean isConfigured = in.getBoolean("configured");
        String error = in.getString("error");
        int savedSize = in.getInt("size");
        long desc = in.getLong("descTable");
        long avail = in.getLong("availRing");
        long used = in.getLong("usedRing");
        boolean savedEventIdx = in.getBoolean("eventIdx");
        int savedLastAvail = index16(in, "lastAvailIdx");
        int savedUsed = index16(in, "usedIdx");
        int savedSignalled = index16(in, "signalledUsedIdx");
        boolean notifications = in.getBoolean("notifications");
        if (isConfigured) {
            String problem = layoutProblem(savedSize, desc, avail, used);
            if (problem != null) {
                throw new StateException("queue " + index + ": saved layout refused: " + problem);
            }
        }
        clear();
        if (isConfigured) {
            configured = true;
            broken = error.isEmpty() ? null : error;
            size = savedSize;
            descTable = desc;
            availRing = avail;
            usedRing = used;
            eventIdx = savedEventIdx;
            lastAvailIdx = savedLastAvail;
            shadowAvailIdx = savedLastAvail;
            usedIdx = savedUsed;
            signalledUsedIdx = savedSignalled;
            notificationsEnabled = notifications;
        }
    }

    private int index16(StateReader in, String key) throws StateException {
        int value = in.getInt(key);
        if (value < 0 || value > 0xffff) {
            throw new StateException("queue " + index + ": saved " + key + " " + value + " is not a 16-bit index");
        }
        return value;
    }

    @Override
    public synchronized String toString() {
        if (!configured) {
            return "virtqueue " + index + " (not configured)";
        }
        return String.format("virtqueue %d size %d desc 0x%x avail 0x%x used 0x%x%s: avail %d used %d%s", index, size,
                descTable, availRing, usedRing, eventIdx ? " event-idx" : "", lastAvailIdx, usedIdx,
                broken == null ? "" : " BROKEN: " + broken);
    }
}
