package org.vireo.virtio;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.vireo.api.memory.GuestMemory;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;
import org.vireo.api.vm.BalloonControl;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * virtio-balloon, the traditional memory balloon (virtio 1.2 §5.5). The host sets num_pages,
 * the target; the guest's driver gives up pages until it holds that many, sending their page
 * frame numbers on inflateq, and takes pages back through deflateq, writing the count it holds
 * to actual. The device releases the host memory behind inflated pages with
 * madvise(MADV_DONTNEED) on the guest RAM mapping (a private anonymous mapping, so a released
 * page reads as zeroes when the guest touches it again), and has nothing to do on deflate but
 * count. With VIRTIO_BALLOON_F_STATS_VQ the driver keeps one statistics buffer at the device;
 * handing it back asks for fresh figures (§5.5.6.3). F_DEFLATE_ON_OOM lets the guest deflate
 * rather than run out of memory.
 *
 * <p>All queue work runs on the device's own thread; a PFN outside guest RAM is a driver error
 * (DEVICE_NEEDS_RESET) and nothing of that buffer is released. The statistics buffer the device
 * holds is not part of its saved state: after a restore, figures stay as they were until the
 * driver is reset.
 */
public final class VirtioBalloon implements VirtioDevice, BalloonControl {

    private static final Logger LOG = Logger.getLogger(VirtioBalloon.class.getName());

    public static final String TYPE = "virtio-balloon";
    static final int DEVICE_ID = 5;
    /** Feature bits (§5.5.3). */
    static final long F_STATS_VQ = 1L << 1, F_DEFLATE_ON_OOM = 1L << 2;
    static final int INFLATEQ = 0, DEFLATEQ = 1, STATSQ = 2;
    /** Configuration layout (§5.5.4): num_pages u32, actual u32, free_page_hint_cmd_id u32, poison_val u32. */
    static final int CONFIG_SIZE = 16, NUM_PAGES = 0, ACTUAL = 4;
    static final int PAGE_SHIFT = 12;
    /** One statistic: le16 tag, le64 value (§5.5.6.3). */
    static final int STAT_SIZE = 10;
    /** The most statistics read from one buffer (Linux sends 10). */
    static final int MAX_STATS = 64;
    private static final String[] STAT_NAMES = {SWAP_IN, SWAP_OUT, MAJOR_FAULTS, MINOR_FAULTS, FREE_MEMORY,
        TOTAL_MEMORY, AVAILABLE_MEMORY, DISK_CACHES, HUGETLB_ALLOCATIONS, HUGETLB_FAILURES};
    private static final int QUEUE_SIZE = 128;
    private static final int STATE_VERSION = 1;

    private final String id;
    private final GuestMemory memory;
    private final long ramPages;
    private final DeviceThread worker;
    private final ScheduledExecutorService statsTimer;
    /** PFNs of one buffer, read in pieces. Worker thread. */
    private final ByteBuffer pfns = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
    private volatile VirtioTransport transport;
    private volatile int targetPages;
    private volatile int actualPages;
    private volatile Stats stats;
    /** The driver's statistics buffer while the device holds it. Worker thread. */
    private DescriptorChain statsBuffer;
    private volatile long inflatedPages, deflatedPages, releasedBytes;
    private volatile boolean madviseFailed;

    /**
     * @param statsIntervalSeconds how often to ask the guest for statistics; 0 for only when
     *                             {@link #requestStats()} asks
     */
    public VirtioBalloon(String id, GuestMemory memory, int statsIntervalSeconds) {
        this.id = id;
        this.memory = memory;
        this.ramPages = memory.size() >>> PAGE_SHIFT;
        this.worker = new DeviceThread(id);
        if (statsIntervalSeconds > 0) {
            statsTimer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "vireo-" + id + "-stats");
                t.setDaemon(true);
                return t;
            });
            statsTimer.scheduleWithFixedDelay(this::requestStats, statsIntervalSeconds, statsIntervalSeconds,
                    TimeUnit.SECONDS);
        } else {
            statsTimer = null;
        }
    }

    @Override
    public int deviceType() {
        return DEVICE_ID;
    }

    @Override
    public int pciClass() {
        return 0x00ff00; // unclassified device
    }

    @Override
    public long deviceFeatures() {
        return F_STATS_VQ | F_DEFLATE_ON_OOM;
    }

    @Override
    public int queueCount() {
        return 3;
    }

    @Override
    public int queueMaxSize(int queue) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public void putConfig(ByteBuffer c) {
        c.putInt(NUM_PAGES, targetPages);
        c.putInt(ACTUAL, actualPages);
    }

    /** The driver writes actual; num_pages is the host's (§5.5.4), the rest unused here. */
    @Override
    public synchronized void writeConfig(int offset, int size, long value) {
        int value32 = actualPages;
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            if (at >= ACTUAL && at < ACTUAL + 4) {
                int shift = 8 * (at - ACTUAL);
                value32 = (value32 & ~(0xff << shift)) | (int) ((value >>> (8 * i)) & 0xff) << shift;
            }
        }
        actualPages = value32;
    }

    @Override
    public void activate(VirtioTransport t) {
        this.transport = t;
        // Linux posts its first statistics buffer before DRIVER_OK; its notification went nowhere.
        worker.execute(() -> serve(STATSQ));
    }

    @Override
    public void queueNotified(int queue) {
        worker.execute(() -> serve(queue));
    }

    /** Serves every buffer of {@code queue}. Worker thread. */
    private void serve(int queue) {
        VirtioTransport t = transport;
        if (t == null || (queue == STATSQ && (t.negotiatedFeatures() & F_STATS_VQ) == 0)) {
            return;
        }
        Virtqueue q = t.queue(queue);
        try {
            DescriptorChain chain;
            boolean used = false;
            while ((chain = q.next()) != null) {
                if (chain.writableLength() != 0) {
                    throw new VirtqueueException(queueName(queue) + ": descriptor chain " + chain.head()
                            + " has device-writable buffers (" + chain.writableLength() + " bytes)");
                }
                if (queue == STATSQ) {
                    readStats(chain);
                    if (statsBuffer != null) {
                        // A driver that posts a second buffer gets the first back.
                        q.putUsed(statsBuffer, 0);
                        used = true;
                    }
                    statsBuffer = chain;
                } else {
                    pages(chain, queue == INFLATEQ);
                    q.putUsed(chain, 0);
                    used = true;
                }
            }
            if (used) {
                t.usedBuffers(queue);
            }
        } catch (VirtqueueException e) {
            t.needsReset(e.getMessage());
        }
    }

    private static String queueName(int queue) {
        return switch (queue) {
            case INFLATEQ -> "inflateq";
            case DEFLATEQ -> "deflateq";
            default -> "statsq";
        };
    }

    /**
     * An inflate or deflate buffer: le32 page frame numbers of 4 KiB pages (§5.5.6). All are
     * checked before any is released, then runs of pages adjacent on the host go to one madvise.
     */
    private void pages(DescriptorChain chain, boolean inflate) throws VirtqueueException {
        int bytes = chain.readableLength();
        if (bytes % 4 != 0) {
            throw new VirtqueueException(queueName(inflate ? INFLATEQ : DEFLATEQ) + ": descriptor chain "
                    + chain.head() + " holds " + bytes + " bytes, not a whole number of 32-bit page frame numbers");
        }
        for (int pass = 0; pass < (inflate ? 2 : 1); pass++) {
            long runHost = 0, runLength = 0;
            for (int at = 0; at < bytes; at += pfns.capacity()) {
                pfns.clear().limit(Math.min(pfns.capacity(), bytes - at));
                chain.read(at, pfns);
                for (int i = 0; i < pfns.position(); i += 4) {
                    long pfn = pfns.getInt(i) & 0xffffffffL;
                    long address = pfn << PAGE_SHIFT;
                    if (pass == 0) {
                        if (!memory.contains(address, 1L << PAGE_SHIFT)) {
                            throw new VirtqueueException(String.format("%s: descriptor chain %d: page frame number"
                                    + " 0x%x (guest address 0x%x) is not guest RAM",
                                    queueName(inflate ? INFLATEQ : DEFLATEQ), chain.head(), pfn, address));
                        }
                    } else if (inflate) {
                        long host = memory.hostAddress(address);
                        if (runLength > 0 && host == runHost + runLength) {
                            runLength += 1L << PAGE_SHIFT;
                        } else {
                            release(runHost, runLength);
                            runHost = host;
                            runLength = 1L << PAGE_SHIFT;
                        }
                    }
                }
            }
            release(runHost, runLength);
        }
        if (inflate) {
            inflatedPages += bytes / 4;
        } else {
            deflatedPages += bytes / 4;
        }
    }

    /** Gives the host pages back to the host kernel; the guest reads zeroes there until it writes. */
    private void release(long hostAddress, long length) {
        if (length == 0 || madviseFailed) {
            return;
        }
        if ((hostAddress & ((1L << PAGE_SHIFT) - 1)) != 0) {
            return; // cannot happen with page-aligned RAM ranges; keeping the page is always safe
        }
        try {
            if (Libc.madvise(new Pointer(hostAddress), length, Libc.MADV_DONTNEED) != 0) {
                madviseFailed = true;
                LOG.warning(id + ": madvise(MADV_DONTNEED) failed with errno " + Native.getLastError()
                        + "; the balloon goes on without releasing host memory");
                return;
            }
            releasedBytes += length;
        } catch (LinkageError e) {
            madviseFailed = true;
            LOG.log(Level.WARNING, id + ": cannot call madvise; the balloon goes on without releasing host memory",
                    e);
        }
    }

    /** The statistics in the driver's buffer: le16 tag, le64 value, packed. */
    private void readStats(DescriptorChain chain) {
        int count = Math.min(chain.readableLength() / STAT_SIZE, MAX_STATS);
        ByteBuffer b = ByteBuffer.allocate(count * STAT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        chain.read(0, b);
        Map<String, Long> values = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            int tag = b.getShort(i * STAT_SIZE) & 0xffff;
            long value = b.getLong(i * STAT_SIZE + 2);
            values.put(tag < STAT_NAMES.length ? STAT_NAMES[tag] : "tag-" + tag, value);
        }
        stats = new Stats(Instant.now(), values);
    }

    // ---------------------------------------------------------------- BalloonControl

    @Override
    public int targetPages() {
        return targetPages;
    }

    @Override
    public void setTargetPages(int pages) {
        if (pages < 0 || pages > ramPages) {
            throw new IllegalArgumentException(id + ": a balloon of " + pages + " pages; the guest has " + ramPages
                    + " pages of RAM");
        }
        targetPages = pages;
        VirtioTransport t = transport;
        if (t != null) {
            t.configChanged();
        }
    }

    @Override
    public int actualPages() {
        return actualPages;
    }

    @Override
    public Optional<Stats> latestStats() {
        return Optional.ofNullable(stats);
    }

    @Override
    public void requestStats() {
        worker.execute(() -> {
            VirtioTransport t = transport;
            DescriptorChain buffer = statsBuffer;
            if (t == null || buffer == null) {
                return;
            }
            statsBuffer = null;
            try {
                t.queue(STATSQ).putUsed(buffer, 0);
                t.usedBuffers(STATSQ);
            } catch (VirtqueueException e) {
                t.needsReset(e.getMessage());
            }
        });
    }

    /** Pages the guest gave up, and took back, since the device was made. */
    long inflatedPages() {
        return inflatedPages;
    }

    long deflatedPages() {
        return deflatedPages;
    }

    /** Bytes of host memory given back with madvise. */
    long releasedBytes() {
        return releasedBytes;
    }

    // ---------------------------------------------------------------- lifecycle and state

    @Override
    public void reset() {
        transport = null;
        worker.drain(5);
        worker.execute(() -> statsBuffer = null);
        actualPages = 0; // a driver that comes back starts with an empty balloon
    }

    @Override
    public void close() {
        transport = null;
        if (statsTimer != null) {
            statsTimer.shutdownNow();
        }
        worker.close(5);
    }

    @Override
    public void saveState(StateWriter out) {
        worker.drain(5);
        out.putInt("version", STATE_VERSION)
                .putInt("targetPages", targetPages)
                .putInt("actualPages", actualPages)
                .putLong("inflatedPages", inflatedPages)
                .putLong("deflatedPages", deflatedPages);
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        int version = in.getInt("version");
        if (version != STATE_VERSION) {
            throw new StateException(id + ": balloon state version " + version + "; this Vireo reads "
                    + STATE_VERSION);
        }
        int target = in.getInt("targetPages");
        if (target < 0 || target > ramPages) {
            throw new StateException(id + ": saved balloon target of " + target + " pages; the guest has "
                    + ramPages);
        }
        targetPages = target;
        actualPages = in.getInt("actualPages");
        inflatedPages = in.getLong("inflatedPages");
        deflatedPages = in.getLong("deflatedPages");
        worker.execute(() -> statsBuffer = null);
        worker.drain(5);
    }

    @Override
    public String toString() {
        return id + " (" + TYPE + ", target " + targetPages + " pages, actual " + actualPages + ")";
    }

    /** madvise(2) from the C library, bound the way MappedGuestMemory binds mmap. */
    private static final class Libc {
        static final int MADV_DONTNEED = 4;

        static {
            Native.register(Libc.class, "c");
        }

        static native int madvise(Pointer address, long length, int advice);

        private Libc() {
        }
    }
}
