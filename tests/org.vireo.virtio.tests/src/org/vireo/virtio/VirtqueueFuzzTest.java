package org.vireo.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.memory.RamRange;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;
import org.vireo.core.memory.MappedGuestMemory;
import org.vireo.virtio.TestDriver.Buffer;

/**
 * Feeds the parser what a buggy or hostile driver could write: random bytes, random but
 * plausible descriptors and ring indices, and well-formed queues with a few bytes flipped. Each
 * case comes from its own seed, so a failure names the one case to replay.
 *
 * <p>The properties: only {@link VirtqueueException} escapes; every call returns (the whole run
 * is under a timeout); a parsed chain only names guest RAM, within the bounds; a rejected queue
 * stays broken with the same message.
 */
class VirtqueueFuzzTest {

    private static final long[] SEEDS = {1, 2, 3, 0x5eed, 0xdecafbadL, 20240601, 7777, 31337};
    private static final int CASES = 200_000;
    private static final int[] SIZES = {1, 2, 4, 8, 16, 32, 64, 256};

    // Guest RAM with a hole, so "inside RAM" is more than one comparison.
    private static final long LOW_END = 8 << 20;
    private static final long HIGH_START = 10 << 20;
    private static final long HIGH_END = 16 << 20;
    /** Indirect tables the plausible generator points at. */
    private static final long POOL = 0x100000;
    private static final int POOL_ENTRIES = 64;

    private GuestMemory memory;
    private final ByteBuffer direct = ByteBuffer.allocateDirect(64);
    private long parsed;
    private long rejected;
    private final Map<String, Integer> rejections = new TreeMap<>();

    @BeforeEach
    void setUp() {
        memory = new MappedGuestMemory(List.of(new RamRange(0, LOW_END), new RamRange(HIGH_START, HIGH_END - HIGH_START)));
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    @Test
    void onlyVirtqueueExceptionEverEscapes() {
        long started = System.nanoTime();
        assertTimeoutPreemptively(Duration.ofMinutes(3), () -> {
            int perSeed = CASES / SEEDS.length;
            for (long seed : SEEDS) {
                for (int c = 0; c < perSeed; c++) {
                    runCase(seed, c);
                }
            }
        }, "next() or putUsed() did not return");
        long ms = (System.nanoTime() - started) / 1_000_000;

        System.out.printf("VirtqueueFuzzTest: %d cases, %d chains parsed, %d rejected%n", CASES, parsed, rejected);
        System.out.printf("VirtqueueFuzzTest: %d ms; rejections by kind:%n", ms);
        rejections.forEach((kind, n) -> System.out.printf("  %7d  %s%n", n, kind));

        assertTrue(parsed > CASES / 4, "the generator produces parseable chains");
        assertTrue(rejected > CASES / 10, "the generator produces malformed queues");
        // Kinds are messages with their numbers replaced by N.
        for (String kind : List.of("loops", "beyond the queue size", "beyond the indirect table's",
                "indirect table inside an indirect table", "INDIRECT and NEXT both set",
                "is not a multiple of N", "device-readable after a device-writable", "buffer N+N is outside guest RAM",
                "indirect table N+N is outside guest RAM", "more than the queue holds", "device-writable bytes",
                "has more than N descriptors")) {
            assertTrue(rejections.keySet().stream().anyMatch(k -> k.contains(kind)), "no case was rejected for: " + kind);
        }
    }

    private void runCase(long seed, int c) {
        Random r = new Random(seed * 0x9E3779B97F4A7C15L + c);
        try {
            fuzz(r);
        } catch (Throwable t) {
            throw new AssertionError("seed " + seed + " case " + c + ": " + t, t);
        }
    }

    private void fuzz(Random r) throws Exception {
        int size = SIZES[r.nextInt(SIZES.length)];
        int maxSize = r.nextInt(4) == 0 ? size : 256;
        boolean eventIdx = r.nextBoolean();
        Virtqueue queue = new Virtqueue(memory, 0, maxSize);
        TestDriver driver = new TestDriver(memory, size);

        if (r.nextInt(50) == 0) {
            // A layout from a confused driver.
            try {
                queue.configure(r.nextBoolean() ? size : r.nextInt(1 << 16) - 8, address(r), address(r), address(r),
                        eventIdx);
            } catch (VirtqueueException e) {
                reject(queue, e);
                return;
            }
        } else {
            driver.configure(queue, eventIdx);
        }

        switch (r.nextInt(3)) {
            case 0 -> randomBytes(r, driver);
            case 1 -> plausible(r, driver);
            default -> mutatedValid(r, driver);
        }
        if (r.nextInt(8) == 0) {
            memory.writeShort(driver.avail + 4 + 2L * size, (short) r.nextInt(1 << 16));  // used_event
        }

        List<DescriptorChain> held = new ArrayList<>();
        int rounds = 2 * size + 4;
        try {
            for (int i = 0; i < rounds; i++) {
                DescriptorChain chain = queue.next();
                if (chain == null) {
                    if (r.nextInt(4) == 0) {
                        driver.setAvailIdx(driver.availIdx() + r.nextInt(size + 2));  // publish more (or too many)
                        continue;
                    }
                    break;
                }
                parsed++;
                check(chain, maxSize);
                if (r.nextInt(4) == 0) {
                    // The driver rewrites descriptors after the device parsed them: the chain must not care.
                    memory.writeLong(driver.desc + 16L * r.nextInt(size), r.nextLong());
                }
                exercise(r, chain);
                held.add(chain);
                while (!held.isEmpty() && r.nextInt(3) != 0) {
                    DescriptorChain done = held.remove(r.nextInt(held.size()));
                    queue.putUsed(done, r.nextInt(done.writableLength() + 1));
                }
                switch (r.nextInt(6)) {
                    case 0 -> queue.needsInterrupt();
                    case 1 -> queue.disableNotifications();
                    case 2 -> queue.enableNotifications();
                    default -> { }
                }
                if (r.nextInt(64) == 0) {
                    queue = saveAndRestore(queue, maxSize);
                    held.clear();  // chains of the old queue object are not this one's
                }
            }
            for (DescriptorChain done : held) {
                queue.putUsed(done, 0);
            }
            queue.needsInterrupt();
        } catch (VirtqueueException e) {
            reject(queue, e);
        }
    }

    private void reject(Virtqueue queue, VirtqueueException e) throws Exception {
        rejected++;
        String message = e.getMessage();
        assertTrue(message.startsWith("queue 0: "), message);
        assertFalse(queue.ready());
        String kind = message.replaceAll("0x[0-9a-f]+|\\d+", "N");
        rejections.merge(kind, 1, Integer::sum);
        try {
            DescriptorChain again = queue.next();
            // Only a refused configure leaves the queue unconfigured rather than broken.
            assertEquals(null, again, "a queue that refused its layout has nothing available");
        } catch (VirtqueueException repeat) {
            assertEquals(message, repeat.getMessage(), "a broken queue repeats its error");
        }
    }

    /** Invariants of every chain the parser lets through. */
    private void check(DescriptorChain chain, int maxSize) {
        assertTrue(chain.segments() <= maxSize, "segments " + chain.segments());
        long readable = 0;
        long writable = 0;
        boolean sawWritable = false;
        for (int i = 0; i < chain.segments(); i++) {
            assertTrue(chain.length(i) > 0, "zero-length segments are dropped");
            assertTrue(memory.contains(chain.address(i), chain.length(i)), "segment inside RAM");
            if (chain.writable(i)) {
                sawWritable = true;
                writable += chain.length(i);
            } else {
                assertFalse(sawWritable, "readable segments come first");
                readable += chain.length(i);
            }
        }
        assertEquals(readable, chain.readableLength());
        assertEquals(writable, chain.writableLength());
        assertTrue(readable <= Virtqueue.MAX_CHAIN_BYTES && writable <= Virtqueue.MAX_CHAIN_BYTES);
    }

    private void exercise(Random r, DescriptorChain chain) {
        if (chain.readableLength() > 0) {
            int offset = r.nextInt(chain.readableLength() + 8);
            ByteBuffer dst = r.nextBoolean() ? ByteBuffer.allocate(r.nextInt(256)) : direct.clear();
            int expected = Math.max(0, Math.min(dst.remaining(), chain.readableLength() - offset));
            assertEquals(expected, chain.read(offset, dst));
        }
        if (chain.writableLength() > 0) {
            int offset = r.nextInt(chain.writableLength() + 8);
            byte[] bytes = new byte[r.nextInt(256)];
            r.nextBytes(bytes);
            int expected = Math.max(0, Math.min(bytes.length, chain.writableLength() - offset));
            assertEquals(expected, chain.write(offset, ByteBuffer.wrap(bytes)));
        }
    }

    private Virtqueue saveAndRestore(Virtqueue queue, int maxSize) throws Exception {
        StateWriter out = new StateWriter("queue", 1);
        queue.saveState(out);
        Virtqueue restored = new Virtqueue(memory, 0, maxSize);
        restored.restoreState(StateReader.parse(out.toBytes()));
        assertEquals(queue.ready(), restored.ready());
        return restored;
    }

    // ---- generators ----

    /** Mode 0: the rings and the indirect pool are noise. */
    private void randomBytes(Random r, TestDriver driver) {
        byte[] table = new byte[16 * driver.size];
        r.nextBytes(table);
        memory.write(driver.desc, table, 0, table.length);
        byte[] avail = new byte[6 + 2 * driver.size];
        r.nextBytes(avail);
        memory.write(driver.avail, avail, 0, avail.length);
        byte[] pool = new byte[16 * POOL_ENTRIES];
        r.nextBytes(pool);
        memory.write(POOL, pool, 0, pool.length);
        if (r.nextBoolean()) {
            driver.setAvailIdx(r.nextInt(driver.size + 2));  // noise behind a believable idx
        }
    }

    /** Mode 1: every field drawn from values near the edges of what is allowed. */
    private void plausible(Random r, TestDriver driver) {
        int size = driver.size;
        for (int i = 0; i < size; i++) {
            descriptor(r, driver.desc, i, size);
        }
        int tables = 1 + r.nextInt(POOL_ENTRIES);
        for (int i = 0; i < tables; i++) {
            descriptor(r, POOL, i, 1 + r.nextInt(8));
        }
        for (int slot = 0; slot < size; slot++) {
            driver.setAvailEntry(slot, r.nextInt(8) == 0 ? r.nextInt(1 << 16) : r.nextInt(size + 1));
        }
        driver.setAvailFlags(r.nextInt(3));
        driver.setAvailIdx(r.nextInt(16) == 0 ? r.nextInt(1 << 16) : r.nextInt(size + 2));
    }

    private void descriptor(Random r, long table, int i, int entries) {
        int flags;
        int pick = r.nextInt(16);
        if (pick < 6) {
            flags = TestDriver.NEXT;
        } else if (pick < 9) {
            flags = TestDriver.NEXT | TestDriver.WRITE;
        } else if (pick < 11) {
            flags = TestDriver.WRITE;
        } else if (pick < 13) {
            flags = TestDriver.INDIRECT | (r.nextInt(4) == 0 ? TestDriver.NEXT : 0);
        } else if (pick < 14) {
            flags = r.nextInt(1 << 16);
        } else {
            flags = 0;
        }
        long addr;
        int len;
        if ((flags & TestDriver.INDIRECT) != 0 && r.nextInt(4) != 0) {
            int first = r.nextInt(POOL_ENTRIES);
            addr = POOL + 16L * first;
            len = r.nextInt(8) == 0 ? r.nextInt(1024) : 16 * (1 + r.nextInt(POOL_ENTRIES - first + 1));
        } else {
            addr = address(r);
            len = length(r);
        }
        int next = r.nextInt(8) == 0 ? r.nextInt(1 << 16) : r.nextInt(entries + 1);
        long at = table + 16L * i;
        memory.writeLong(at, addr);
        memory.writeInt(at + 8, len);
        memory.writeShort(at + 12, (short) flags);
        memory.writeShort(at + 14, (short) next);
    }

    private static long address(Random r) {
        return switch (r.nextInt(8)) {
            case 0, 1, 2 -> 0x200000 + r.nextInt(6 << 20);
            case 3 -> LOW_END - r.nextInt(64);                // at the end of the low range
            case 4 -> LOW_END + r.nextInt((int) (HIGH_START - LOW_END));  // in the hole
            case 5 -> HIGH_END - r.nextInt(64);               // at the top of RAM
            case 6 -> HIGH_START + r.nextInt(6 << 20);
            default -> r.nextLong();
        };
    }

    private static int length(Random r) {
        return switch (r.nextInt(8)) {
            case 0 -> 0;
            case 1, 2, 3 -> 1 + r.nextInt(4096);
            case 4 -> 1 + r.nextInt(64);
            case 5 -> 0x10000000 + r.nextInt(16) - 8;     // about the chain bound
            case 6 -> (1 + r.nextInt(6)) << 20;
            default -> r.nextInt();
        };
    }

    /** Mode 2: a well-formed queue from the test driver, then a few bytes of it flipped. */
    private void mutatedValid(Random r, TestDriver driver) {
        int chains = 1 + r.nextInt(driver.size);
        int[] heads = new int[chains];
        int made = 0;
        while (made < chains && driver.freeDescriptors() > 0) {
            int n = 1 + r.nextInt(Math.min(4, driver.freeDescriptors()));
            Buffer[] buffers = new Buffer[n];
            int readable = r.nextInt(n + 1);
            for (int b = 0; b < n; b++) {
                int len = r.nextInt(8) == 0 ? 0 : 1 + r.nextInt(512);
                buffers[b] = b < readable ? new Buffer(driver.alloc(len), len, false) : driver.writable(len);
            }
            heads[made++] = r.nextInt(3) == 0 ? driver.addIndirect(buffers) : driver.add(buffers);
        }
        driver.publish(java.util.Arrays.copyOf(heads, made));
        long start = driver.desc;
        long span = driver.avail + 6 + 2L * driver.size - start;
        for (int flips = 1 + r.nextInt(4); flips > 0; flips--) {
            long at = start + (long) (r.nextDouble() * span);
            memory.writeByte(at, (byte) (memory.readByte(at) ^ (1 << r.nextInt(8))));
        }
    }
}
