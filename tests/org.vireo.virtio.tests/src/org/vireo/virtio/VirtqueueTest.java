package org.vireo.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.memory.RamRange;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;
import org.vireo.core.memory.MappedGuestMemory;
import org.vireo.virtio.TestDriver.Buffer;
import org.vireo.virtio.TestDriver.Used;

class VirtqueueTest {

    private static final long RAM = 16 << 20;
    private static final int SIZE = 8;

    private GuestMemory memory;
    private Virtqueue queue;
    private TestDriver driver;

    @BeforeEach
    void setUp() throws VirtqueueException {
        memory = new MappedGuestMemory(List.of(new RamRange(0, RAM)));
        queue = new Virtqueue(memory, 0, 256);
        driver = new TestDriver(memory, SIZE);
        driver.configure(queue, false);
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    private static String text(ByteBuffer b) {
        b.flip();
        return StandardCharsets.US_ASCII.decode(b).toString();
    }

    private String guestText(long address, int length) {
        return new String(driver.bytes(address, length), StandardCharsets.US_ASCII);
    }

    // ---- normal traffic ----

    @Test
    void singleReadableDescriptor() throws VirtqueueException {
        assertTrue(queue.ready());
        assertNull(queue.next(), "nothing published yet");
        int head = driver.send(driver.readable("hello"));

        DescriptorChain chain = queue.next();
        assertNotNull(chain);
        assertEquals(head, chain.head());
        assertEquals(5, chain.readableLength());
        assertEquals(0, chain.writableLength());
        assertEquals(1, chain.segments());
        assertFalse(chain.writable(0));
        ByteBuffer dst = ByteBuffer.allocate(16);
        assertEquals(5, chain.read(0, dst));
        assertEquals("hello", text(dst));
        assertNull(queue.next());

        queue.putUsed(chain, 0);
        assertEquals(List.of(new Used(head, 0)), driver.takeAllUsed());
        assertEquals(SIZE, driver.freeDescriptors());
    }

    @Test
    void blockStyleRequestWithReadableHeaderAndWritableData() throws VirtqueueException {
        Buffer header = driver.readable("HEADER-16-BYTES!");
        Buffer data = driver.writable(512);
        Buffer status = driver.writable(1);
        int head = driver.send(header, data, status);

        DescriptorChain chain = queue.next();
        assertEquals(head, chain.head());
        assertEquals(3, chain.segments());
        assertEquals(16, chain.readableLength());
        assertEquals(513, chain.writableLength());
        assertEquals(header.address(), chain.address(0));
        assertEquals(data.address(), chain.address(1));
        assertEquals(512, chain.length(1));
        assertFalse(chain.writable(0));
        assertTrue(chain.writable(1));
        assertTrue(chain.writable(2));

        byte[] sector = new byte[512];
        new Random(7).nextBytes(sector);
        assertEquals(512, chain.write(0, ByteBuffer.wrap(sector)));
        assertEquals(1, chain.write(512, ByteBuffer.wrap(new byte[] {0x5a})));
        queue.putUsed(chain, 513);

        assertEquals(List.of(new Used(head, 513)), driver.takeAllUsed());
        assertArrayEquals(sector, driver.bytes(data.address(), 512));
        assertEquals(0x5a, driver.bytes(status.address(), 1)[0]);
    }

    @Test
    void indirectTable() throws VirtqueueException {
        Buffer out = driver.readable("request");
        Buffer in1 = driver.writable(100);
        Buffer in2 = driver.writable(28);
        int head = driver.addIndirect(out, in1, in2);
        driver.publish(head);

        DescriptorChain chain = queue.next();
        assertEquals(head, chain.head());
        assertEquals(3, chain.segments());
        assertEquals(7, chain.readableLength());
        assertEquals(128, chain.writableLength());
        assertEquals(in2.address(), chain.address(2));
        ByteBuffer dst = ByteBuffer.allocate(7);
        chain.read(0, dst);
        assertEquals("request", text(dst));
        queue.putUsed(chain, 128);
        assertEquals(List.of(new Used(head, 128)), driver.takeAllUsed());
    }

    @Test
    void directDescriptorsFollowedByAnIndirectOne() throws VirtqueueException {
        // §2.7.5.3.2: the device must handle normal descriptors followed by one indirect descriptor.
        Buffer first = driver.readable("abc");
        Buffer second = driver.readable("def");
        Buffer reply = driver.writable(4);
        long table = driver.alloc(32);
        driver.writeDescriptorAt(table, 0, second.address(), 3, TestDriver.NEXT, 1);
        driver.writeDescriptorAt(table, 1, reply.address(), 4, TestDriver.WRITE, 0);
        driver.writeDescriptor(2, first.address(), 3, TestDriver.NEXT, 5);
        // WRITE on the descriptor that refers to a table is ignored (§2.7.5.3.2).
        driver.writeDescriptor(5, table, 32, TestDriver.INDIRECT | TestDriver.WRITE, 0);
        driver.setAvailEntry(0, 2);
        driver.setAvailIdx(1);

        DescriptorChain chain = queue.next();
        assertEquals(2, chain.head());
        assertEquals(3, chain.segments());
        assertEquals(6, chain.readableLength());
        assertEquals(4, chain.writableLength());
        ByteBuffer dst = ByteBuffer.allocate(6);
        chain.read(0, dst);
        assertEquals("abcdef", text(dst));
    }

    @Test
    void zeroLengthDescriptorsAreSkipped() throws VirtqueueException {
        driver.send(new Buffer(0x300000, 0, false), driver.readable("data"), new Buffer(0x300000, 0, true),
                driver.writable(8));
        DescriptorChain chain = queue.next();
        assertEquals(2, chain.segments());
        assertEquals(4, chain.readableLength());
        assertEquals(8, chain.writableLength());
        assertFalse(chain.writable(0));
        assertTrue(chain.writable(1));
    }

    @Test
    void readAndWriteWithOffsetsAcrossSegmentBoundaries() throws VirtqueueException {
        Buffer w0 = driver.writable(3);
        Buffer w1 = driver.writable(5);
        Buffer w2 = driver.writable(7);
        driver.send(driver.readable("abc"), driver.readable("defgh"), driver.readable("ijklmno"), w0, w1, w2);
        DescriptorChain chain = queue.next();
        assertEquals(15, chain.readableLength());
        assertEquals(15, chain.writableLength());

        ByteBuffer six = ByteBuffer.allocate(6);
        assertEquals(6, chain.read(2, six));
        assertEquals("cdefgh", text(six));
        ByteBuffer rest = ByteBuffer.allocate(64);
        assertEquals(8, chain.read(7, rest), "stops at the end of the readable part");
        assertEquals("hijklmno", text(rest));
        assertEquals(0, chain.read(15, ByteBuffer.allocate(4)));
        assertEquals(0, chain.read(1000, ByteBuffer.allocate(4)));
        ByteBuffer direct = ByteBuffer.allocateDirect(5);
        assertEquals(5, chain.read(1, direct));
        assertEquals("bcdef", text(direct));
        ByteBuffer window = ByteBuffer.allocate(10).position(4).limit(7);
        assertEquals(3, chain.read(3, window));
        assertEquals("def", new String(window.array(), 4, 3, StandardCharsets.US_ASCII));

        ByteBuffer src = ByteBuffer.wrap("0123456789".getBytes(StandardCharsets.US_ASCII));
        assertEquals(10, chain.write(1, src));
        assertFalse(src.hasRemaining());
        assertEquals("\0" + "01", guestText(w0.address(), 3));
        assertEquals("23456", guestText(w1.address(), 5));
        assertEquals("789\0\0\0\0", guestText(w2.address(), 7));

        ByteBuffer tail = ByteBuffer.wrap("XYZ".getBytes(StandardCharsets.US_ASCII));
        assertEquals(2, chain.write(13, tail), "stops at the end of the writable part");
        assertEquals(1, tail.remaining());
        assertEquals("789\0\0XY", guestText(w2.address(), 7));

        ByteBuffer directSrc = ByteBuffer.allocateDirect(4).put("PQRS".getBytes(StandardCharsets.US_ASCII)).flip();
        assertEquals(4, chain.write(2, directSrc));
        assertEquals("\0" + "0P", guestText(w0.address(), 3));
        assertEquals("QRS56", guestText(w1.address(), 5));
        ByteBuffer readOnly = ByteBuffer.wrap("!".getBytes(StandardCharsets.US_ASCII)).asReadOnlyBuffer();
        assertEquals(1, chain.write(0, readOnly));
        assertEquals("!0P", guestText(w0.address(), 3));

        assertThrows(IllegalArgumentException.class, () -> chain.read(-1, ByteBuffer.allocate(1)));
        assertThrows(IndexOutOfBoundsException.class, () -> chain.address(6));
    }

    @Test
    void aBatchPublishedWithOneIdxUpdateAndReturnedOutOfOrder() throws VirtqueueException {
        driver = new TestDriver(memory, 16);
        driver.configure(queue, false);
        int[] heads = new int[8];
        for (int i = 0; i < heads.length; i++) {
            heads[i] = driver.add(driver.readable("request " + i), driver.writable(16));
        }
        driver.publish(heads);
        assertEquals(0, driver.freeDescriptors());

        List<DescriptorChain> chains = new ArrayList<>();
        for (DescriptorChain c = queue.next(); c != null; c = queue.next()) {
            chains.add(c);
        }
        assertEquals(8, chains.size());
        for (int i = 0; i < 8; i++) {
            assertEquals(heads[i], chains.get(i).head());
            ByteBuffer dst = ByteBuffer.allocate(32);
            chains.get(i).read(0, dst);
            assertEquals("request " + i, text(dst));
        }
        Collections.reverse(chains);
        for (DescriptorChain c : chains) {
            queue.putUsed(c, c.head() % 16);
        }
        List<Used> used = driver.takeAllUsed();
        assertEquals(8, used.size());
        for (int i = 0; i < 8; i++) {
            int head = heads[7 - i];
            assertEquals(new Used(head, head % 16), used.get(i));
        }
        assertEquals(16, driver.freeDescriptors());
    }

    @Test
    void indicesWrapPast65535() throws VirtqueueException {
        Random random = new Random(65536);
        int total = 0;
        boolean straddled = false;
        while (total < 70_000) {
            int batch = 1 + random.nextInt(SIZE / 2);  // up to two descriptors a chain
            int[] heads = new int[batch];
            for (int i = 0; i < batch; i++) {
                int n = total + i;
                heads[i] = random.nextBoolean()
                        ? driver.add(driver.readable(Integer.toString(n)), driver.writable(4))
                        : driver.addIndirect(driver.readable(Integer.toString(n)), driver.writable(4));
            }
            int before = driver.availIdx();
            driver.publish(heads);
            straddled |= driver.availIdx() < before;
            for (int i = 0; i < batch; i++) {
                DescriptorChain chain = queue.next();
                assertEquals(heads[i], chain.head());
                ByteBuffer dst = ByteBuffer.allocate(8);
                chain.read(0, dst);
                assertEquals(Integer.toString(total + i), text(dst));
                chain.write(0, ByteBuffer.allocate(4).putInt(0, total + i));
                queue.putUsed(chain, 4);
            }
            assertNull(queue.next());
            List<Used> used = driver.takeAllUsed();
            assertEquals(batch, used.size());
            for (int i = 0; i < batch; i++) {
                assertEquals(new Used(heads[i], 4), used.get(i));
            }
            total += batch;
        }
        assertTrue(straddled, "a batch was published across the 16-bit wrap");
        assertEquals(total & 0xffff, driver.usedIdx());
        assertEquals(SIZE, driver.freeDescriptors());
    }

    @Test
    void largeChainHoldsAddressesOnly() throws VirtqueueException {
        // 16 overlapping 12.5 MiB segments: 200 MiB that the host must not allocate.
        int segment = 12800 << 10;
        Buffer[] parts = new Buffer[16];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = new Buffer(0x200000, segment, false);
        }
        driver.publish(driver.addIndirect(parts));
        DescriptorChain chain = queue.next();
        assertEquals(16 * segment, chain.readableLength());
        assertEquals(16, chain.segments());
    }

    @Test
    void unconfiguredQueueHasNothingAvailable() throws VirtqueueException {
        Virtqueue fresh = new Virtqueue(memory, 3, 64);
        assertFalse(fresh.ready());
        assertNull(fresh.next());
        assertFalse(fresh.needsInterrupt());
        assertEquals("virtqueue 3 (not configured)", fresh.toString());
    }

    @Test
    void deviceMistakesAreHostErrors() throws VirtqueueException {
        driver.send(driver.writable(4));
        DescriptorChain chain = queue.next();
        assertThrows(IllegalArgumentException.class, () -> queue.putUsed(chain, 5));
        assertThrows(IllegalArgumentException.class, () -> queue.putUsed(chain, -1));
        Virtqueue other = new Virtqueue(memory, 1, 256);
        assertThrows(IllegalArgumentException.class, () -> other.putUsed(chain, 0));
        queue.putUsed(chain, 4);
        assertThrows(IllegalStateException.class, () -> queue.putUsed(chain, 4));
        assertThrows(IllegalArgumentException.class, () -> new Virtqueue(memory, 0, 48));
        assertThrows(IllegalArgumentException.class, () -> new Virtqueue(memory, 0, 65536));
    }

    @Test
    void chainsTakenBeforeAResetAreDropped() throws VirtqueueException {
        driver.send(driver.writable(4));
        DescriptorChain stale = queue.next();
        queue.reset();
        driver = new TestDriver(memory, SIZE);
        driver.configure(queue, false);
        queue.putUsed(stale, 4);
        assertEquals(0, driver.usedIdx(), "the used ring of the new queue is untouched");
    }

    // ---- notification suppression ----

    @Test
    void usedNotificationsWithoutEventIdx() throws VirtqueueException {
        assertFalse(queue.needsInterrupt(), "nothing returned yet");
        driver.send(driver.writable(1));
        queue.putUsed(queue.next(), 1);
        assertTrue(queue.needsInterrupt(), "flags 0: the device must notify");
        assertFalse(queue.needsInterrupt(), "nothing returned since the last notification");

        driver.setAvailFlags(1);  // VIRTQ_AVAIL_F_NO_INTERRUPT
        driver.send(driver.writable(1));
        queue.putUsed(queue.next(), 1);
        assertFalse(queue.needsInterrupt(), "flags 1: the device should not notify");

        driver.setAvailFlags(0);
        driver.send(driver.writable(1));
        driver.send(driver.writable(1));
        queue.putUsed(queue.next(), 0);
        queue.putUsed(queue.next(), 0);
        assertTrue(queue.needsInterrupt());
    }

    @Test
    void availNotificationsWithoutEventIdx() throws VirtqueueException {
        queue.disableNotifications();
        assertEquals(1, driver.usedFlags(), "VIRTQ_USED_F_NO_NOTIFY");
        assertFalse(queue.enableNotifications(), "nothing arrived meanwhile");
        assertEquals(0, driver.usedFlags());

        queue.disableNotifications();
        driver.send(driver.readable("x"));
        assertTrue(queue.enableNotifications(), "a chain arrived while notifications were off");
        assertNotNull(queue.next());
        assertFalse(queue.enableNotifications());
        assertEquals(0, driver.availEvent(), "avail_event is not used without EVENT_IDX");
    }

    /** Sends {@code n} one-buffer chains, has the device return them all, and lets the driver collect them. */
    private void complete(int n) throws VirtqueueException {
        for (int i = 0; i < n; i++) {
            driver.send(driver.writable(1));
            queue.putUsed(queue.next(), 1);
        }
        driver.takeAllUsed();
    }

    @Test
    void usedNotificationsWithEventIdx() throws VirtqueueException {
        driver.configure(queue, true);
        driver.setUsedEvent(0);
        complete(1);
        assertTrue(queue.needsInterrupt(), "used idx 0 -> 1 wrote the entry used_event 0 names");
        complete(1);
        assertFalse(queue.needsInterrupt(), "used_event 0 already passed");

        driver.setUsedEvent(4);  // interrupt when entry 4 is written, i.e. idx reaches 5
        complete(1);
        assertFalse(queue.needsInterrupt(), "idx 3");
        complete(1);
        assertFalse(queue.needsInterrupt(), "idx 4");
        complete(1);
        assertTrue(queue.needsInterrupt(), "idx 5: entry 4 was written");

        driver.setUsedEvent(6);
        complete(3);
        assertTrue(queue.needsInterrupt(), "a batch, idx 5 -> 8, stepped over entry 6");

        driver.setAvailFlags(1);  // ignored with EVENT_IDX (§2.7.7.1)
        driver.setUsedEvent(8);
        complete(1);
        assertTrue(queue.needsInterrupt(), "NO_INTERRUPT is ignored with EVENT_IDX");
    }

    @Test
    void usedEventAcrossTheWrap() throws VirtqueueException {
        driver.configure(queue, true);
        // Run the indices up to just below 65536.
        for (int i = 0; i < 65534; i++) {
            complete(1);
        }
        assertTrue(queue.needsInterrupt());
        driver.setUsedEvent(0);  // entry 0 is the 65537th
        complete(2);
        assertFalse(queue.needsInterrupt(), "idx 65534 -> 0: entry 0 not yet written");
        complete(1);
        assertTrue(queue.needsInterrupt(), "idx 0 -> 1 wrote entry 0");
    }

    @Test
    void availEventWithEventIdx() throws VirtqueueException {
        driver.configure(queue, true);
        driver.send(driver.readable("a"));
        driver.send(driver.readable("b"));
        queue.next();
        assertEquals(1, driver.availEvent(), "notify me when you add chain 1 (already there)");
        queue.next();
        assertEquals(2, driver.availEvent());

        queue.disableNotifications();
        assertEquals(0, driver.usedFlags(), "flags stay 0 with EVENT_IDX (§2.7.10.1)");
        driver.send(driver.readable("c"));
        assertNotNull(queue.next());
        assertEquals(2, driver.availEvent(), "avail_event stays behind while notifications are off");

        driver.send(driver.readable("d"));
        assertTrue(queue.enableNotifications(), "chain d arrived while notifications were off");
        assertEquals(3, driver.availEvent());
        assertNotNull(queue.next());
        assertEquals(4, driver.availEvent());
        assertFalse(queue.enableNotifications());
    }

    // ---- save and restore ----

    @Test
    void saveAndRestoreMidStream() throws Exception {
        driver.configure(queue, true);
        for (int i = 0; i < 3; i++) {
            driver.send(driver.readable("old " + i), driver.writable(8));
            queue.putUsed(queue.next(), 8);
        }
        assertTrue(queue.needsInterrupt());
        driver.takeAllUsed();
        driver.send(driver.readable("new 0"), driver.writable(8));
        driver.send(driver.readable("new 1"), driver.writable(8));

        StateWriter out = new StateWriter("queue0", 1);
        queue.saveState(out);
        byte[] saved = out.toBytes();

        Virtqueue restored = new Virtqueue(memory, 0, 256);
        restored.restoreState(StateReader.parse(saved));
        assertTrue(restored.ready());
        assertEquals(SIZE, restored.size());
        for (int i = 0; i < 2; i++) {
            DescriptorChain chain = restored.next();
            ByteBuffer dst = ByteBuffer.allocate(16);
            chain.read(0, dst);
            assertEquals("new " + i, text(dst));
            restored.putUsed(chain, 2);
        }
        assertNull(restored.next());
        assertEquals(5, driver.usedIdx());
        assertEquals(5, driver.availEvent());
        assertEquals(2, driver.takeAllUsed().size());
        driver.setUsedEvent(3);
        assertTrue(restored.needsInterrupt(), "used idx 3 -> 5 wrote entry 3: the saved 'last signalled' idx counts");
    }

    @Test
    void restoreOfUnconfiguredAndBrokenQueues() throws Exception {
        StateWriter blank = new StateWriter("q", 1);
        new Virtqueue(memory, 0, 256).saveState(blank);
        queue.restoreState(StateReader.parse(blank.toBytes()));
        assertFalse(queue.ready());
        assertNull(queue.next());

        driver = new TestDriver(memory, SIZE);
        driver.configure(queue, false);
        driver.setAvailIdx(100);
        VirtqueueException error = assertThrows(VirtqueueException.class, queue::next);
        StateWriter brokenState = new StateWriter("q", 1);
        queue.saveState(brokenState);
        Virtqueue restored = new Virtqueue(memory, 0, 256);
        restored.restoreState(StateReader.parse(brokenState.toBytes()));
        assertFalse(restored.ready());
        assertEquals(error.getMessage(), assertThrows(VirtqueueException.class, restored::next).getMessage());
    }

    @Test
    void restoreRefusesALayoutThatDoesNotFit() throws Exception {
        StateWriter out = new StateWriter("q", 1);
        out.putInt("version", 1).putBoolean("configured", true).putString("error", "").putInt("size", 512)
                .putLong("descTable", 0x10000).putLong("availRing", 0x20000).putLong("usedRing", 0x30000)
                .putBoolean("eventIdx", false).putInt("lastAvailIdx", 0).putInt("usedIdx", 0)
                .putInt("signalledUsedIdx", 0).putBoolean("notifications", true);
        StateException e = assertThrows(StateException.class,
                () -> queue.restoreState(StateReader.parse(out.toBytes())));
        assertEquals("queue 0: saved layout refused: size 512 is not a power of two from 1 to 256", e.getMessage());
        assertTrue(queue.ready(), "the previous state is kept");
        assertEquals(SIZE, queue.size());

        StateWriter missing = new StateWriter("q", 1).putInt("version", 1);
        assertThrows(StateException.class, () -> queue.restoreState(StateReader.parse(missing.toBytes())));
        assertTrue(queue.ready());
    }

    // ---- layout errors ----

    private void assertConfigureFails(String expected, int size, long desc, long avail, long used) {
        VirtqueueException e = assertThrows(VirtqueueException.class,
                () -> queue.configure(size, desc, avail, used, false));
        assertEquals(expected, e.getMessage());
        assertFalse(queue.ready());
    }

    @Test
    void configureChecksTheLayout() throws VirtqueueException {
        assertConfigureFails("queue 0: size 0 is not a power of two from 1 to 256", 0, 0x10000, 0x20000, 0x30000);
        assertConfigureFails("queue 0: size 3 is not a power of two from 1 to 256", 3, 0x10000, 0x20000, 0x30000);
        assertConfigureFails("queue 0: size 512 is not a power of two from 1 to 256", 512, 0x10000, 0x20000, 0x30000);
        assertConfigureFails("queue 0: descriptor table at 0x10008 is not 16-byte aligned", 8, 0x10008, 0x20000,
                0x30000);
        assertConfigureFails("queue 0: available ring at 0x20001 is not 2-byte aligned", 8, 0x10000, 0x20001,
                0x30000);
        assertConfigureFails("queue 0: used ring at 0x30002 is not 4-byte aligned", 8, 0x10000, 0x20000, 0x30002);
        assertConfigureFails("queue 0: descriptor table 0xffff80+0x100 is outside guest RAM", 16, RAM - 0x80,
                0x20000, 0x30000);
        assertConfigureFails("queue 0: available ring 0xfffffe+0x16 is outside guest RAM", 8, 0x10000, RAM - 2,
                0x30000);
        assertConfigureFails("queue 0: used ring 0xfffff8+0x46 is outside guest RAM", 8, 0x10000, 0x20000, RAM - 8);
        assertConfigureFails("queue 0: descriptor table 0x7ffffffffffffff0+0x80 is outside guest RAM", 8,
                Long.MAX_VALUE - 15, 0x20000, 0x30000);
        assertNull(queue.next(), "a queue whose layout was refused is unconfigured");

        queue.configure(1, RAM - 16, RAM - 32, RAM - 64, true);
        assertTrue(queue.ready(), "size 1 at the very top of RAM fits");
    }

    // ---- malformed chains: the queue breaks, and reset recovers ----

    /** Expects next() to fail with exactly {@code expected}, the queue to stay broken, and reset to recover. */
    private void assertBrokenThenRecovers(Virtqueue q, int size, String expected) throws VirtqueueException {
        VirtqueueException e = assertThrows(VirtqueueException.class, q::next);
        assertEquals(expected, e.getMessage());
        assertFalse(q.ready());
        assertEquals(expected, assertThrows(VirtqueueException.class, q::next).getMessage(), "still broken");
        assertFalse(q.needsInterrupt());
        assertFalse(q.enableNotifications());

        q.reset();
        assertFalse(q.ready());
        assertNull(q.next());
        TestDriver fresh = new TestDriver(memory, size);
        fresh.configure(q, false);
        assertTrue(q.ready());
        int head = fresh.send(fresh.readable("again"), fresh.writable(2));
        DescriptorChain chain = q.next();
        assertEquals(head, chain.head());
        q.putUsed(chain, 2);
        assertEquals(List.of(new Used(head, 2)), fresh.takeAllUsed());
    }

    private void expectBroken(String expected) throws VirtqueueException {
        assertBrokenThenRecovers(queue, SIZE, expected);
    }

    @Test
    void availIdxMovedTooFar() throws VirtqueueException {
        driver.setAvailIdx(9);
        expectBroken("queue 0: available idx 9: the driver claims 9 new buffers, more than the queue holds"
                + " (8; last seen idx 0)");
    }

    @Test
    void availIdxMovedBackwards() throws VirtqueueException {
        driver.send(driver.readable("a"));
        queue.next();
        driver.setAvailIdx(0);  // "unexposing" a buffer reads as 65535 new ones
        expectBroken("queue 0: available idx 0: the driver claims 65535 new buffers, more than the queue holds"
                + " (8; last seen idx 1)");
    }

    @Test
    void headBeyondTheQueue() throws VirtqueueException {
        driver.setAvailEntry(0, 8);
        driver.setAvailIdx(1);
        expectBroken("queue 0: available ring entry 0: head descriptor 8 beyond the queue size 8");
    }

    @Test
    void nextBeyondTheQueue() throws VirtqueueException {
        Virtqueue q64 = new Virtqueue(memory, 0, 64);
        TestDriver d64 = new TestDriver(memory, 64);
        d64.configure(q64, false);
        d64.writeDescriptor(5, d64.alloc(4), 4, TestDriver.NEXT, 70);
        d64.setAvailEntry(0, 5);
        d64.setAvailIdx(1);
        assertBrokenThenRecovers(q64, 64, "queue 0: descriptor 5: next 70 beyond the queue size 64");
    }

    @Test
    void loopInTheDescriptorTable() throws VirtqueueException {
        long buf = driver.alloc(4);
        driver.writeDescriptor(0, buf, 4, TestDriver.NEXT, 1);
        driver.writeDescriptor(1, buf, 4, TestDriver.NEXT, 0);
        driver.setAvailEntry(0, 0);
        driver.setAvailIdx(1);
        expectBroken("queue 0: descriptor 0: the chain from head 0 loops (more than 8 descriptors in the queue)");
    }

    @Test
    void descriptorPointingAtItself() throws VirtqueueException {
        driver.writeDescriptor(3, 0, 0, TestDriver.NEXT, 3);
        driver.setAvailEntry(0, 3);
        driver.setAvailIdx(1);
        expectBroken("queue 0: descriptor 3: the chain from head 3 loops (more than 8 descriptors in the queue)");
    }

    @Test
    void indirectTogetherWithNext() throws VirtqueueException {
        long table = driver.alloc(32);
        driver.writeDescriptorAt(table, 0, driver.alloc(4), 4, 0, 0);
        driver.writeDescriptor(0, table, 16, TestDriver.INDIRECT | TestDriver.NEXT, 1);
        driver.setAvailEntry(0, 0);
        driver.setAvailIdx(1);
        expectBroken("queue 0: descriptor 0: INDIRECT and NEXT both set");
    }

    @Test
    void indirectTableInsideAnIndirectTable() throws VirtqueueException {
        long inner = driver.alloc(16);
        driver.writeDescriptorAt(inner, 0, driver.alloc(4), 4, 0, 0);
        long outer = driver.alloc(32);
        driver.writeDescriptorAt(outer, 0, driver.alloc(4), 4, TestDriver.NEXT, 1);
        driver.writeDescriptorAt(outer, 1, inner, 16, TestDriver.INDIRECT, 0);
        driver.writeDescriptor(2, outer, 32, TestDriver.INDIRECT, 0);
        driver.setAvailEntry(0, 2);
        driver.setAvailIdx(1);
        expectBroken("queue 0: descriptor 2 (indirect table entry 1): an indirect table inside an indirect table");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 8, 24, 16 * 32768 + 16, -16})
    void indirectTableLengthRefused(int length) throws VirtqueueException {
        driver.writeDescriptor(0, driver.alloc(64), length, TestDriver.INDIRECT, 0);
        driver.setAvailEntry(0, 0);
        driver.setAvailIdx(1);
        expectBroken("queue 0: descriptor 0: indirect table length " + Integer.toUnsignedString(length)
                + " is not a multiple of 16 from 16 to 524288");
    }

    @Test
    void indirectTableOutsideRam() throws VirtqueueException {
        driver.writeDescriptor(0, RAM - 16, 32, TestDriver.INDIRECT, 0);
        driver.setAvailEntry(0, 0);
        driver.setAvailIdx(1);
        expectBroken("queue 0: descriptor 0: indirect table 0xfffff0+0x20 is outside guest RAM");
    }

    @Test
    void nextBeyondTheIndirectTable() throws VirtqueueException {
        long table = driver.alloc(32);
        driver.writeDescriptorAt(table, 0, driver.alloc(4), 4, TestDriver.NEXT, 2);
        driver.writeDescriptor(0, table, 32, TestDriver.INDIRECT, 0);
        driver.setAvailEntry(0, 0);
        driver.setAvailIdx(1);
        expectBroken("queue 0: descriptor 0 (indirect table entry 0): next 2 beyond the indirect table's 2 entries");
    }

    @Test
    void loopInsideAnIndirectTable() throws VirtqueueException {
        long table = driver.alloc(48);
        long buf = driver.alloc(4);
        driver.writeDescriptorAt(table, 0, buf, 4, TestDriver.NEXT, 1);
        driver.writeDescriptorAt(table, 1, buf, 4, TestDriver.NEXT, 2);
        driver.writeDescriptorAt(table, 2, buf, 4, TestDriver.NEXT, 1);
        driver.writeDescriptor(0, table, 48, TestDriver.INDIRECT, 0);
        driver.setAvailEntry(0, 0);
        driver.setAvailIdx(1);
        expectBroken("queue 0: descriptor 0 (indirect table entry 1): the chain from head 0 loops"
                + " (more than 3 entries in the indirect table)");
    }

    @Test
    void readableAfterWritable() throws VirtqueueException {
        driver.send(driver.writable(4), driver.readable("late"));
        expectBroken("queue 0: descriptor 1: device-readable after a device-writable descriptor");
    }

    @Test
    void readableAfterWritableInAnIndirectTable() throws VirtqueueException {
        driver.publish(driver.addIndirect(driver.readable("ok"), driver.writable(4), driver.readable("late")));
        expectBroken("queue 0: descriptor 0 (indirect table entry 2): device-readable after a device-writable"
                + " descriptor");
    }

    @Test
    void bufferOutsideRam() throws VirtqueueException {
        driver.send(driver.readable("ok"), new Buffer(RAM - 4, 8, true));
        expectBroken("queue 0: descriptor 1: buffer 0xfffffc+0x8 is outside guest RAM");
    }

    @Test
    void bufferWhoseEndWrapsTheAddressSpace() throws VirtqueueException {
        driver.send(new Buffer(-16L, 32, false));
        expectBroken("queue 0: descriptor 0: buffer 0xfffffffffffffff0+0x20 is outside guest RAM");
    }

    @Test
    void bufferAcrossAHoleInRam() throws VirtqueueException {
        memory.close();
        memory = new MappedGuestMemory(List.of(new RamRange(0, 1 << 20), new RamRange(2 << 20, 1 << 20)));
        queue = new Virtqueue(memory, 2, 256);
        TestDriver d = new TestDriver(memory, SIZE, 0x8000);
        d.configure(queue, false);
        d.send(new Buffer((1 << 20) - 8, 8, false), new Buffer((2 << 20) - 8, 16, true));
        VirtqueueException e = assertThrows(VirtqueueException.class, queue::next);
        assertEquals("queue 2: descriptor 1: buffer 0x1ffff8+0x10 is outside guest RAM", e.getMessage());
    }

    @Test
    void oneHugeDescriptor() throws VirtqueueException {
        driver.send(new Buffer(0, -1, true));  // len 0xffffffff
        expectBroken("queue 0: descriptor 0: the chain from head 0 has more than 268435456 device-writable bytes");
    }

    @Test
    void totalLengthOverTheBound() throws VirtqueueException {
        // 22 overlapping 12 MiB buffers, each inside RAM: 264 MiB in all.
        Buffer[] parts = new Buffer[22];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = new Buffer(0x100000, 12 << 20, false);
        }
        driver.publish(driver.addIndirect(parts));
        expectBroken("queue 0: descriptor 0 (indirect table entry 21): the chain from head 0 has more than"
                + " 268435456 device-readable bytes");
    }

    @Test
    void chainLongerThanTheDeviceAllows() throws VirtqueueException {
        Virtqueue small = new Virtqueue(memory, 1, 8);
        TestDriver d = new TestDriver(memory, 8);
        d.configure(small, false);
        Buffer[] parts = new Buffer[9];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = d.readable("x");
        }
        d.publish(d.addIndirect(parts));
        assertBrokenThenRecovers(small, 8,
                "queue 1: descriptor 0 (indirect table entry 8): the chain from head 0 has more than 8 descriptors");
    }

    @Test
    void putUsedOnABrokenQueue() throws VirtqueueException {
        driver.send(driver.writable(4));
        DescriptorChain inFlight = queue.next();
        driver.setAvailIdx(100);
        VirtqueueException e = assertThrows(VirtqueueException.class, queue::next);
        assertEquals(e.getMessage(), assertThrows(VirtqueueException.class, () -> queue.putUsed(inFlight, 4))
                .getMessage());
        assertEquals(0, driver.usedIdx(), "a broken queue's used ring is left alone");
    }
}
