package org.vireo.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vireo.virtio.VirtioPciBench.await;
import static org.vireo.virtio.VirtioPciBench.awaitUsed;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.pci.PciConfigHeader;
import org.vireo.api.vm.BalloonControl;
import org.vireo.api.vm.DeviceConfig;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * virtio-balloon through the PCI transport, driven as Linux's virtio_balloon does: a new
 * target reaches the driver with a configuration interrupt, inflated pages go back to the host
 * (no longer resident, and zero when read again), deflated pages are counted, a page frame
 * number outside RAM makes the device ask for a reset without releasing anything, and the
 * statistics buffer is kept and handed back to ask for fresh figures.
 */
class VirtioBalloonTest {

    private static final long RAM = 32 << 20;
    private static final long FEATURES = VirtioDevice.F_VERSION_1 | VirtioDevice.F_EVENT_IDX
            | VirtioBalloon.F_STATS_VQ | VirtioBalloon.F_DEFLATE_ON_OOM;
    private static final int PAGE = 4096;

    private VirtioPciBench bench;
    private VirtioBalloon balloon;

    private void create(Map<String, Object> options) throws Exception {
        bench = new VirtioPciBench(RAM, context -> new VirtioBalloonFactory().create(context,
                new DeviceConfig(VirtioBalloon.TYPE, "balloon0", options)));
        balloon = (VirtioBalloon) bench.published.get(BalloonControl.class);
    }

    @AfterEach
    void tearDown() {
        if (bench != null) {
            bench.close();
        }
    }

    @Test
    void identifiesAsABalloonAndPublishesItsControl() throws Exception {
        create(Map.of());
        assertTrue(balloon != null, "the factory published the BalloonControl");
        VirtioPciFunction f = bench.function;
        assertEquals(0x1045, f.configRead(PciConfigHeader.DEVICE_ID, 2));
        assertEquals(0x00ff00, f.configRead(PciConfigHeader.CLASS_CODE, 4) & 0xffffff);
        assertEquals(VirtioBalloon.F_STATS_VQ | VirtioBalloon.F_DEFLATE_ON_OOM,
                bench.deviceFeatures() & 0xffffffL, "STATS_VQ and DEFLATE_ON_OOM, not MUST_TELL_HOST");
        assertEquals(3, bench.common(VirtioPciFunction.NUM_QUEUES, 2), "inflateq, deflateq, statsq");
        assertEquals(0, bench.deviceConfig(VirtioBalloon.NUM_PAGES, 4));
        assertEquals(0, bench.deviceConfig(VirtioBalloon.ACTUAL, 4));
    }

    @Test
    void aNewTargetReachesTheDriverWithAConfigurationInterrupt() throws Exception {
        create(Map.of());
        bench.start(FEATURES);
        int generation = (int) bench.common(VirtioPciFunction.CONFIG_GENERATION, 1);
        balloon.setTargetPages(1234);
        assertEquals(1, bench.msiCount(VirtioPciBench.CONFIG_MSI), "a configuration interrupt: " + bench.msis);
        assertEquals(1234, bench.deviceConfig(VirtioBalloon.NUM_PAGES, 4), "num_pages");
        assertEquals(generation + 1, bench.common(VirtioPciFunction.CONFIG_GENERATION, 1));
        assertEquals(1234, balloon.targetPages());

        bench.deviceConfig(VirtioBalloon.NUM_PAGES, 4, 99); // read-only for the driver
        bench.deviceConfig(VirtioBalloon.ACTUAL, 4, 1000);
        assertEquals(1234, bench.deviceConfig(VirtioBalloon.NUM_PAGES, 4));
        assertEquals(1000, balloon.actualPages(), "actual, as the driver wrote it");
        assertEquals(1000, bench.deviceConfig(VirtioBalloon.ACTUAL, 4));

        assertThrows(IllegalArgumentException.class, () -> balloon.setTargetPages(-1));
        assertThrows(IllegalArgumentException.class, () -> balloon.setTargetPages((int) (RAM / PAGE) + 1));
        balloon.setTargetPages((int) (RAM / PAGE));
    }

    @Test
    void inflatedPagesGoBackToTheHostAndDeflatedOnesAreCounted() throws Exception {
        create(Map.of());
        TestDriver[] q = bench.start(FEATURES);
        // Sixteen pages in a run, two more apart, and a page between them that stays.
        long[] pfns = new long[19];
        for (int i = 0; i < 16; i++) {
            pfns[i] = 0x800 + i;
        }
        pfns[16] = 0x900;
        pfns[17] = 0x902;
        pfns[18] = 0x1000;
        long keep = 0x901L * PAGE;
        byte[] ones = new byte[PAGE];
        Arrays.fill(ones, (byte) 0xab);
        for (long pfn : pfns) {
            bench.memory.write(pfn * PAGE, ones, 0, PAGE);
        }
        bench.memory.write(keep, ones, 0, PAGE);
        assertTrue(Arrays.stream(pfns).allMatch(this::resident), "written pages are resident");

        int head = q[VirtioBalloon.INFLATEQ].send(q[0].readable(pfnArray(pfns)));
        bench.kick(VirtioBalloon.INFLATEQ);
        assertEquals(new TestDriver.Used(head, 0), awaitUsed(q[VirtioBalloon.INFLATEQ]));
        assertTrue(bench.msiCount(0x41) >= 1, "inflateq's interrupt: " + bench.msis);
        assertEquals(19, balloon.inflatedPages());
        assertEquals(19L * PAGE, balloon.releasedBytes());
        for (long pfn : pfns) {
            assertTrue(!resident(pfn), "page 0x" + Long.toHexString(pfn) + " was given back to the host");
        }
        assertTrue(resident(keep / PAGE), "the page between stays");
        for (long pfn : pfns) {
            assertArrayEquals(new byte[PAGE], bytes(pfn * PAGE), "page 0x" + Long.toHexString(pfn) + " reads as zeroes");
        }
        assertArrayEquals(ones, bytes(keep));

        bench.deviceConfig(VirtioBalloon.ACTUAL, 4, 19);
        assertEquals(19, balloon.actualPages());

        head = q[VirtioBalloon.DEFLATEQ].send(q[0].readable(pfnArray(pfns)));
        bench.kick(VirtioBalloon.DEFLATEQ);
        assertEquals(new TestDriver.Used(head, 0), awaitUsed(q[VirtioBalloon.DEFLATEQ]));
        assertEquals(19, balloon.deflatedPages());
        assertEquals(19L * PAGE, balloon.releasedBytes(), "deflating releases nothing");
        assertEquals(0, bench.readStatus() & VirtioPciFunction.DEVICE_NEEDS_RESET);
    }

    @Test
    void aPageOutsideRamMakesTheDeviceAskForAResetAndNothingIsReleased() throws Exception {
        create(Map.of());
        TestDriver[] q = bench.start(FEATURES);
        byte[] ones = new byte[PAGE];
        Arrays.fill(ones, (byte) 0x5a);
        bench.memory.write(0x800L * PAGE, ones, 0, PAGE);
        q[VirtioBalloon.INFLATEQ].send(q[0].readable(pfnArray(new long[] {0x800, RAM / PAGE})));
        bench.kick(VirtioBalloon.INFLATEQ);
        assertTrue(await(() -> (bench.readStatus() & VirtioPciFunction.DEVICE_NEEDS_RESET) != 0),
                "DEVICE_NEEDS_RESET");
        assertTrue(bench.msiCount(VirtioPciBench.CONFIG_MSI) >= 1, "a configuration interrupt: " + bench.msis);
        assertArrayEquals(ones, bytes(0x800L * PAGE), "the good page of the bad buffer was kept");
        assertEquals(0, balloon.releasedBytes());

        bench.status(0);
        q = bench.start(FEATURES);
        q[VirtioBalloon.DEFLATEQ].send(q[0].readable(new byte[] {1, 2, 3})); // not whole PFNs
        bench.kick(VirtioBalloon.DEFLATEQ);
        assertTrue(await(() -> (bench.readStatus() & VirtioPciFunction.DEVICE_NEEDS_RESET) != 0),
                "DEVICE_NEEDS_RESET for a buffer of 3 bytes");
    }

    @Test
    void theDeviceKeepsTheStatisticsBufferAndHandsItBackForFreshFigures() throws Exception {
        create(Map.of());
        long mib = 1 << 20;
        // Like Linux: the first buffer is posted, and notified, before DRIVER_OK.
        TestDriver[] q = bench.start(FEATURES, drivers -> {
            drivers[VirtioBalloon.STATSQ].send(drivers[0].readable(stats(4, 100 * mib, 5, 256 * mib, 6, 120 * mib,
                    42, 7)));
            bench.kick(VirtioBalloon.STATSQ);
        });
        TestDriver statsq = q[VirtioBalloon.STATSQ];
        assertTrue(await(() -> balloon.latestStats().isPresent()), "the first figures");
        BalloonControl.Stats first = balloon.latestStats().orElseThrow();
        assertEquals(Map.of(BalloonControl.FREE_MEMORY, 100 * mib, BalloonControl.TOTAL_MEMORY, 256 * mib,
                BalloonControl.AVAILABLE_MEMORY, 120 * mib, "tag-42", 7L), first.values());
        VirtioPciBench.settle();
        assertEquals(0, statsq.usedIdx(), "the device keeps the buffer");

        balloon.requestStats();
        TestDriver.Used used = awaitUsed(statsq);
        assertEquals(0, used.length());
        assertTrue(await(() -> bench.msiCount(0x43) >= 1), "statsq's interrupt: " + bench.msis);
        assertSame(first, balloon.latestStats().orElseThrow(), "the figures stay until the driver answers");

        balloon.requestStats(); // nothing to hand back: the driver has the buffer
        statsq.send(q[0].readable(stats(4, 60 * mib, 5, 256 * mib)));
        bench.kick(VirtioBalloon.STATSQ);
        assertTrue(await(() -> balloon.latestStats().orElseThrow() != first));
        assertEquals(60 * mib, balloon.latestStats().orElseThrow().values().get(BalloonControl.FREE_MEMORY));
        assertTrue(!balloon.latestStats().orElseThrow().received().isBefore(first.received()));
        VirtioPciBench.settle();
        assertEquals(1, statsq.usedIdx(), "the second request found no buffer, so nothing more came back");
    }

    @Test
    void aStatisticsIntervalAsksByItself() throws Exception {
        create(Map.of(VirtioBalloonFactory.STATS_INTERVAL, 1L));
        TestDriver[] q = bench.start(FEATURES, drivers -> drivers[VirtioBalloon.STATSQ].send(
                drivers[0].readable(stats(4, 1))));
        long start = System.nanoTime();
        assertEquals(0, awaitUsed(q[VirtioBalloon.STATSQ]).length(), "the buffer came back without a request");
        assertTrue(System.nanoTime() - start < 5_000_000_000L);
    }

    @Test
    void theFactoryChecksTheStatisticsInterval() {
        VirtioBalloonFactory factory = new VirtioBalloonFactory();
        assertEquals(List.of(), factory.validate(new DeviceConfig(VirtioBalloon.TYPE, "b",
                Map.of(VirtioBalloonFactory.STATS_INTERVAL, 10L))));
        for (Object bad : List.of(-1L, 1.5, "10", 1_000_000L)) {
            assertEquals(List.of(VirtioBalloonFactory.STATS_INTERVAL), VirtioConsoleTest.paths(factory.validate(
                    new DeviceConfig(VirtioBalloon.TYPE, "b", Map.of(VirtioBalloonFactory.STATS_INTERVAL, bad)))),
                    "stats-interval " + bad);
        }
    }

    private static byte[] pfnArray(long[] pfns) {
        ByteBuffer b = ByteBuffer.allocate(4 * pfns.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long pfn : pfns) {
            b.putInt((int) pfn);
        }
        return b.array();
    }

    /** Statistics as the driver lays them out: (le16 tag, le64 value) pairs. */
    private static byte[] stats(long... tagValue) {
        ByteBuffer b = ByteBuffer.allocate(tagValue.length / 2 * VirtioBalloon.STAT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < tagValue.length; i += 2) {
            b.putShort((short) tagValue[i]).putLong(tagValue[i + 1]);
        }
        return b.array();
    }

    private byte[] bytes(long address) {
        byte[] b = new byte[PAGE];
        bench.memory.read(address, b, 0, PAGE);
        return b;
    }

    /** Whether the host page behind guest page {@code pfn} is in memory (mincore(2)). */
    private boolean resident(long pfn) {
        byte[] vec = new byte[1];
        int rc = Mincore.mincore(new Pointer(bench.memory.hostAddress(pfn * PAGE)), PAGE, vec);
        assertEquals(0, rc, "mincore failed: errno " + Native.getLastError());
        return (vec[0] & 1) != 0;
    }

    private static final class Mincore {
        static {
            Native.register(Mincore.class, "c");
        }

        static native int mincore(Pointer address, long length, byte[] vector);
    }
}
