package org.vireo.virtio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.vireo.api.storage.BlockImage;

/**
 * virtio-blk, the block device (virtio 1.2 §5.2), over any {@link BlockImage}. Requests are
 * read from the queue and served on the device's own I/O thread, never on a vCPU thread:
 * read, write, flush (the image's flush, an fsync, completes before the request does),
 * get-id (the serial number), discard and write-zeroes. A read-only disk offers
 * VIRTIO_BLK_F_RO and fails writes with IOERR.
 *
 * <p>Cache modes: {@link Cache#WRITEBACK} advertises VIRTIO_BLK_F_FLUSH and honours it;
 * {@link Cache#UNSAFE} advertises no flush and never syncs (fast, and a host crash loses
 * data); {@link Cache#WRITETHROUGH} advertises no flush and syncs after every write.
 */
public final class VirtioBlk implements VirtioDevice {

    private static final Logger LOG = Logger.getLogger(VirtioBlk.class.getName());

    public static final String TYPE = "virtio-blk";
    static final int DEVICE_ID = 2;
    public static final int SECTOR = 512;

    /** Feature bits (§5.2.3). */
    static final long F_SEG_MAX = 1L << 2, F_RO = 1L << 5, F_BLK_SIZE = 1L << 6, F_FLUSH = 1L << 9,
            F_DISCARD = 1L << 13, F_WRITE_ZEROES = 1L << 14;
    /** Request types and status values (§5.2.6). */
    static final int T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13;
    static final int S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
    static final int HEADER = 16, ID_BYTES = 20, SEGMENT = 16;
    /** Limits the device states in its configuration. */
    static final int SEG_MAX = 126, MAX_DISCARD_SECTORS = 1 << 22, MAX_DISCARD_SEGMENTS = 1;
    /** Configuration space layout (§5.2.4). */
    static final int CONFIG_SIZE = 60;
    private static final int QUEUE_SIZE = 128;
    /** The largest data transfer per request that is copied through one buffer; bigger ones go in pieces. */
    private static final int BOUNCE = 1 << 20;

    /** How writes reach the host's disk. */
    public enum Cache { WRITEBACK, WRITETHROUGH, UNSAFE }

    private final String id;
    private final BlockImage image;
    private final Cache cache;
    private final byte[] serial;
    private final DeviceThread io;
    private final ByteBuffer bounce = ByteBuffer.allocateDirect(BOUNCE);
    private final ByteBuffer header = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
    private volatile VirtioTransport transport;

    /**
     * @param serial up to 20 bytes of ASCII, the answer to GET_ID (/sys/block/vda/serial)
     */
    public VirtioBlk(String id, BlockImage image, Cache cache, String serial) {
        this.id = id;
        this.image = image;
        this.cache = cache;
        byte[] s = serial.getBytes(StandardCharsets.US_ASCII);
        this.serial = java.util.Arrays.copyOf(s, Math.min(s.length, ID_BYTES));
        this.io = new DeviceThread(id + "-io");
    }

    @Override
    public int deviceType() {
        return DEVICE_ID;
    }

    @Override
    public int pciClass() {
        return 0x018000; // mass storage, other
    }

    @Override
    public long deviceFeatures() {
        long f = F_SEG_MAX | F_BLK_SIZE;
        if (image.readOnly()) {
            f |= F_RO;
        } else {
            f |= F_DISCARD | F_WRITE_ZEROES;
        }
        if (cache == Cache.WRITEBACK) {
            f |= F_FLUSH;
        }
        return f;
    }

    @Override
    public int queueCount() {
        return 1;
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
        c.putLong(0, image.size() / SECTOR); // capacity
        c.putInt(12, SEG_MAX); // seg_max
        c.putInt(20, SECTOR); // blk_size
        c.put(32, (byte) (cache == Cache.WRITEBACK ? 1 : 0)); // writeback
        c.putShort(34, (short) 1); // num_queues
        c.putInt(36, MAX_DISCARD_SECTORS); // max_discard_sectors
        c.putInt(40, MAX_DISCARD_SEGMENTS); // max_discard_seg
        c.putInt(44, 1); // discard_sector_alignment
        c.putInt(48, MAX_DISCARD_SECTORS); // max_write_zeroes_sectors
        c.putInt(52, MAX_DISCARD_SEGMENTS); // max_write_zeroes_seg
        c.put(56, (byte) 1); // write_zeroes_may_unmap
    }

    @Override
    public void activate(VirtioTransport t) {
        this.transport = t;
    }

    @Override
    public void queueNotified(int queue) {
        io.execute(this::serve);
    }

    /** Serves every available request. Runs on the I/O thread. */
    private void serve() {
        VirtioTransport t = transport;
        if (t == null) {
            return;
        }
        Virtqueue q = t.queue(0);
        try {
            DescriptorChain chain;
            while ((chain = q.next()) != null) {
                int written = handle(chain);
                q.putUsed(chain, written);
                t.usedBuffers(0);
            }
        } catch (VirtqueueException e) {
            t.needsReset(e.getMessage());
        }
    }

    /**
     * One request: header (device-readable), data, status byte (the last device-writable
     * byte). Returns the bytes written into the chain, status included.
     */
    private int handle(DescriptorChain chain) throws VirtqueueException {
        if (chain.readableLength() < HEADER || chain.writableLength() < 1) {
            throw new VirtqueueException("queue 0: descriptor " + chain.head() + ": a block request needs a "
                    + HEADER + "-byte header and a status byte; readable " + chain.readableLength() + ", writable "
                    + chain.writableLength());
        }
        header.clear();
        chain.read(0, header);
        int type = header.getInt(0);
        long sector = header.getLong(8);
        int dataIn = chain.writableLength() - 1; // device-writable data before the status byte
        int dataOut = chain.readableLength() - HEADER;
        int status;
        int written = 0;
        try {
            switch (type) {
                case T_IN -> {
                    status = checkRange(sector, dataIn);
                    if (status == S_OK) {
                        written = transfer(chain, sector, dataIn, false);
                    }
                }
                case T_OUT -> {
                    status = image.readOnly() ? S_IOERR : checkRange(sector, dataOut);
                    if (status == S_OK) {
                        transfer(chain, sector, dataOut, true);
                        if (cache == Cache.WRITETHROUGH) {
                            image.flush();
                        }
                    }
                }
                case T_FLUSH -> {
                    if (cache != Cache.UNSAFE) {
                        image.flush();
                    }
                    status = S_OK;
                }
                case T_GET_ID -> {
                    ByteBuffer idBytes = ByteBuffer.allocate(Math.min(ID_BYTES, dataIn));
                    idBytes.put(serial, 0, Math.min(serial.length, idBytes.capacity())).clear();
                    written = chain.write(0, idBytes);
                    status = S_OK;
                }
                case T_DISCARD, T_WRITE_ZEROES -> status = image.readOnly() ? S_IOERR : discard(chain, type, dataOut);
                default -> status = S_UNSUPP;
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, id + ": I/O error on the host: " + e.getMessage(), e);
            status = S_IOERR;
        }
        ByteBuffer s = ByteBuffer.allocate(1).put(0, (byte) status);
        chain.write(chain.writableLength() - 1, s);
        return written + 1;
    }

    private int checkRange(long sector, int bytes) {
        long end = sector * SECTOR + bytes;
        if (sector < 0 || sector > image.size() / SECTOR || end > image.size() || bytes % SECTOR != 0) {
            return S_IOERR;
        }
        return S_OK;
    }

    /** Moves {@code bytes} between the chain's data part and the image, through the bounce buffer. */
    private int transfer(DescriptorChain chain, long sector, int bytes, boolean toImage) throws IOException {
        long position = sector * SECTOR;
        int done = 0;
        while (done < bytes) {
            int n = Math.min(BOUNCE, bytes - done);
            bounce.clear().limit(n);
            if (toImage) {
                chain.read(HEADER + done, bounce);
                bounce.flip();
                image.write(position + done, bounce);
            } else {
                image.read(position + done, bounce);
                bounce.flip();
                chain.write(done, bounce);
            }
            done += n;
        }
        return toImage ? 0 : bytes;
    }

    /** DISCARD and WRITE_ZEROES: segments {sector u64, num_sectors u32, flags u32} (§5.2.6). */
    private int discard(DescriptorChain chain, int type, int dataOut) throws IOException {
        if (dataOut % SEGMENT != 0 || dataOut / SEGMENT > MAX_DISCARD_SEGMENTS || dataOut == 0) {
            return S_UNSUPP;
        }
        ByteBuffer seg = ByteBuffer.allocate(SEGMENT).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at < dataOut; at += SEGMENT) {
            seg.clear();
            chain.read(HEADER + at, seg);
            long sector = seg.getLong(0);
            long count = seg.getInt(8) & 0xffffffffL;
            int flags = seg.getInt(12);
            if ((flags & ~1) != 0 || count > MAX_DISCARD_SECTORS || sector < 0
                    || sector + count > image.size() / SECTOR) {
                return S_IOERR;
            }
            if (type == T_DISCARD) {
                image.discard(sector * SECTOR, count * SECTOR);
            } else {
                image.writeZeroes(sector * SECTOR, count * SECTOR);
            }
        }
        return S_OK;
    }

    @Override
    public void reset() {
        transport = null;
        io.drain(30);
    }

    @Override
    public void close() {
        transport = null;
        io.close(30);
        try {
            if (!image.readOnly() && cache != Cache.UNSAFE) {
                image.flush();
            }
            image.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, id + ": closing the image: " + e.getMessage(), e);
        }
    }
}
