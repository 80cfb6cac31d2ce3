package org.vireo.virtio;

import java.nio.ByteBuffer;
import java.security.SecureRandom;

/**
 * virtio-rng, the entropy device (virtio 1.2 §5.4): one queue of device-writable buffers
 * that it fills with bytes from the host's non-blocking random source. The guest's
 * hw_random core reads it through /dev/hwrng. Requests are served on the device's own
 * thread, at most {@link #MAX_REQUEST} bytes each.
 */
public final class VirtioRng implements VirtioDevice {

    public static final String TYPE = "virtio-rng";
    static final int DEVICE_ID = 4;
    /** The most bytes given for one buffer: the guest asks again for more. */
    static final int MAX_REQUEST = 64 * 1024;
    private static final int QUEUE_SIZE = 64;

    private final String id;
    private final SecureRandom random = new SecureRandom();
    private final DeviceThread worker;
    private final ByteBuffer chunk = ByteBuffer.allocate(4096);
    private volatile VirtioTransport transport;

    public VirtioRng(String id) {
        this.id = id;
        this.worker = new DeviceThread(id);
    }

    @Override
    public int deviceType() {
        return DEVICE_ID;
    }

    @Override
    public int pciClass() {
        return 0xff0000; // unclassified device
    }

    @Override
    public long deviceFeatures() {
        return 0;
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
        return 0;
    }

    @Override
    public void activate(VirtioTransport t) {
        this.transport = t;
    }

    @Override
    public void queueNotified(int queue) {
        worker.execute(this::serve);
    }

    /** Fills every available buffer. Runs on the worker thread. */
    private void serve() {
        VirtioTransport t = transport;
        if (t == null) {
            return;
        }
        Virtqueue q = t.queue(0);
        try {
            DescriptorChain chain;
            boolean used = false;
            while ((chain = q.next()) != null) {
                int want = Math.min(chain.writableLength(), MAX_REQUEST);
                int done = 0;
                while (done < want) {
                    chunk.clear().limit(Math.min(chunk.capacity(), want - done));
                    random.nextBytes(chunk.array());
                    int written = chain.write(done, chunk);
                    if (written == 0) {
                        break;
                    }
                    done += written;
                }
                q.putUsed(chain, done);
                used = true;
            }
            if (used) {
                t.usedBuffers(0);
            }
        } catch (VirtqueueException e) {
            t.needsReset(e.getMessage());
        }
    }

    @Override
    public void reset() {
        transport = null;
        worker.drain(5); // a request in progress finishes before the queue is taken apart
    }

    @Override
    public void close() {
        transport = null;
        worker.close();
    }

    @Override
    public String toString() {
        return id + " (" + TYPE + ")";
    }
}
