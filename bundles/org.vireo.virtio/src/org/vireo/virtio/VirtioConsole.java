package org.vireo.virtio;

import java.nio.ByteBuffer;

import org.vireo.api.device.ConsoleChannel;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * virtio-console (virtio 1.2 §5.3), the simple form with one port and no MULTIPORT: the guest's
 * /dev/hvc0 (Linux's virtio_console) joined to one of the VM's console channels. Two queues:
 * receiveq0 carries what the user types to the guest in buffers the driver posts, transmitq0
 * what the guest writes. Offers VIRTIO_CONSOLE_F_SIZE with an 80x25 console.
 *
 * <p>Both directions run on the device's own thread. Output goes to the channel through a
 * fixed 4 KiB buffer, however long the guest's chain. Input is pulled from the channel only
 * while the guest has a receive buffer for it, so typing ahead of the guest waits in the
 * channel's own bounded queue; the device holds back at most one byte (read to learn that
 * input is waiting, before a buffer turned up).
 */
public final class VirtioConsole implements VirtioDevice {

    public static final String TYPE = "virtio-console";
    static final int DEVICE_ID = 3;
    /** Feature bits (§5.3.3). */
    static final long F_SIZE = 1L << 0;
    static final int RECEIVEQ = 0, TRANSMITQ = 1;
    /** Configuration layout (§5.3.4): cols u16, rows u16, max_nr_ports u32, emerg_wr u32. */
    static final int CONFIG_SIZE = 12;
    static final int COLS = 80, ROWS = 25;
    static final int CHUNK = 4096;
    private static final int QUEUE_SIZE = 64;
    private static final int STATE_VERSION = 1;

    private final String id;
    private final ConsoleChannel channel;
    private final DeviceThread worker;
    /** Used by the worker thread only. */
    private final ByteBuffer chunk = ByteBuffer.allocate(CHUNK);
    private volatile VirtioTransport transport;
    /** An input byte taken from the channel that no receive buffer has taken yet, or -1. Worker thread. */
    private int held = -1;

    public VirtioConsole(String id, ConsoleChannel channel) {
        this.id = id;
        this.channel = channel;
        this.worker = new DeviceThread(id);
        channel.onInput(() -> worker.execute(this::receive));
    }

    @Override
    public int deviceType() {
        return DEVICE_ID;
    }

    @Override
    public int pciClass() {
        return 0x078000; // simple communication controller, other
    }

    @Override
    public long deviceFeatures() {
        return F_SIZE;
    }

    @Override
    public int queueCount() {
        return 2;
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
        c.putShort(0, (short) COLS);
        c.putShort(2, (short) ROWS);
        // max_nr_ports (only with MULTIPORT) and emerg_wr (write-only) read as 0
    }

    @Override
    public void activate(VirtioTransport t) {
        this.transport = t;
        // Buffers the driver posted before DRIVER_OK, and input typed meanwhile.
        worker.execute(this::transmit);
        worker.execute(this::receive);
    }

    @Override
    public void queueNotified(int queue) {
        worker.execute(queue == TRANSMITQ ? this::transmit : this::receive);
    }

    /** Sends every chain of transmitq0 to the channel. Worker thread. */
    private void transmit() {
        VirtioTransport t = transport;
        if (t == null) {
            return;
        }
        Virtqueue q = t.queue(TRANSMITQ);
        try {
            DescriptorChain chain;
            while ((chain = q.next()) != null) {
                if (chain.writableLength() != 0) {
                    throw new VirtqueueException("transmitq0: descriptor chain " + chain.head()
                            + " has device-writable buffers (" + chain.writableLength() + " bytes)");
                }
                for (int at = 0; at < chain.readableLength(); ) {
                    chunk.clear();
                    int n = chain.read(at, chunk);
                    if (n == 0) {
                        break;
                    }
                    channel.output(chunk.array(), 0, n);
                    at += n;
                }
                q.putUsed(chain, 0);
                // One by one: Linux's hvc output spins until its buffer comes back.
                t.usedBuffers(TRANSMITQ);
            }
        } catch (VirtqueueException e) {
            t.needsReset(e.getMessage());
        }
    }

    /** Moves waiting input into the receive buffers the driver posted, while both last. Worker thread. */
    private void receive() {
        VirtioTransport t = transport;
        if (t == null) {
            return;
        }
        Virtqueue q = t.queue(RECEIVEQ);
        boolean used = false;
        try {
            while (true) {
                if (held < 0) {
                    held = channel.readInput();
                    if (held < 0) {
                        break;
                    }
                }
                DescriptorChain chain = q.next();
                if (chain == null) {
                    break; // the driver posts more buffers and notifies
                }
                if (chain.readableLength() != 0) {
                    throw new VirtqueueException("receiveq0: descriptor chain " + chain.head()
                            + " has device-readable buffers (" + chain.readableLength() + " bytes)");
                }
                int room = Math.min(chain.writableLength(), CHUNK);
                chunk.clear().limit(room);
                if (room > 0) {
                    chunk.put((byte) held);
                    held = -1;
                    int c;
                    while (chunk.hasRemaining() && (c = channel.readInput()) >= 0) {
                        chunk.put((byte) c);
                    }
                }
                chunk.flip();
                q.putUsed(chain, chain.write(0, chunk));
                used = true;
            }
        } catch (VirtqueueException e) {
            t.needsReset(e.getMessage());
            return;
        }
        if (used) {
            t.usedBuffers(RECEIVEQ);
        }
    }

    @Override
    public void reset() {
        transport = null;
        worker.drain(5);
    }

    @Override
    public void close() {
        transport = null;
        channel.onInput(() -> { });
        worker.close(5);
    }

    @Override
    public void saveState(StateWriter out) {
        worker.drain(5);
        out.putInt("version", STATE_VERSION).putInt("heldInput", held);
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        int version = in.getInt("version");
        int savedHeld = in.getInt("heldInput");
        if (version != STATE_VERSION || savedHeld < -1 || savedHeld > 0xff) {
            throw new StateException(id + ": console state version " + version + " with held input " + savedHeld
                    + "; this Vireo reads version " + STATE_VERSION);
        }
        worker.execute(() -> held = savedHeld);
        worker.drain(5);
    }

    @Override
    public String toString() {
        return id + " (" + TYPE + ")";
    }
}
