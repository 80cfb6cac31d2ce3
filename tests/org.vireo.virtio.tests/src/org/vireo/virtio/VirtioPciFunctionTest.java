package org.vireo.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.irq.MsiMessage;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.pci.PciConfigHeader;
import org.vireo.core.bus.AddressSpace;

/**
 * The modern virtio-pci transport driven the way Linux's virtio_pci_modern does it, through
 * configuration space and the BARs on the machine's buses: capabilities, feature
 * negotiation, queue set-up, notification, MSI-X and INTx interrupts, reset, and a
 * malformed queue that makes the device ask for a reset while the machine goes on.
 */
class VirtioPciFunctionTest {

    private static final long BAR4 = VirtioPciBench.BAR4, BAR1 = VirtioPciBench.BAR1;

    private VirtioPciBench bench;
    private GuestMemory memory;
    private AddressSpace mmio;
    private List<MsiMessage> msis;
    private Map<Integer, Boolean> lines;
    private VirtioPciFunction function;
    /** Offsets in BAR4 of the areas the capabilities name, by cfg_type. */
    private final Map<Integer, Integer> areas = new HashMap<>();
    private int msixCap;

    @BeforeEach
    void setUp() throws Exception {
        bench = new VirtioPciBench(16 << 20, context -> new VirtioPciFunction("rng0", new VirtioRng("rng0"), context,
                -1));
        memory = bench.memory;
        mmio = bench.mmio;
        msis = bench.msis;
        lines = bench.lines;
        function = bench.function;
        msixCap = bench.msixCap;
        for (int at = function.configRead(PciConfigHeader.CAPABILITIES_POINTER, 1); at != 0;
                at = function.configRead(at + 1, 1)) {
            if (function.configRead(at, 1) == 0x09) {
                assertEquals(4, function.configRead(at + 4, 1), "every virtio area is in BAR4");
                areas.put(function.configRead(at + 3, 1), function.configRead(at + 8, 4));
            }
        }
    }

    @AfterEach
    void tearDown() {
        bench.close();
    }

    @Test
    void identifiesAsAModernVirtioEntropyDevice() {
        assertEquals(0x1af4, function.configRead(PciConfigHeader.VENDOR_ID, 2));
        assertEquals(0x1044, function.configRead(PciConfigHeader.DEVICE_ID, 2));
        assertEquals(1, function.configRead(PciConfigHeader.REVISION_ID, 1));
        assertEquals(Map.of(1, VirtioPciFunction.COMMON, 2, VirtioPciFunction.NOTIFY, 3, VirtioPciFunction.ISR),
                areas, "common, notify and ISR capabilities (no device config for rng)");
        assertNotEquals(0, msixCap, "an MSI-X capability");
        assertEquals(1, function.configRead(msixCap + 2, 2) & 0x7ff, "two MSI-X vectors: config and the queue");
    }

    @Test
    void negotiatesFeaturesAndRefusesADriverWithoutVersion1() {
        status(1 | 2);
        long offered = deviceFeatures();
        assertTrue((offered & VirtioDevice.F_VERSION_1) != 0);
        assertTrue((offered & VirtioDevice.F_EVENT_IDX) != 0);
        assertTrue((offered & VirtioDevice.F_INDIRECT_DESC) != 0);
        driverFeatures(0); // a legacy-only driver
        status(1 | 2 | 8);
        assertEquals(0, readStatus() & 8, "FEATURES_OK does not stick without VERSION_1");
        common(VirtioPciFunction.DEVICE_STATUS, 1, 0);
        status(1 | 2);
        driverFeatures(VirtioDevice.F_VERSION_1 | (1L << 40)); // a bit never offered
        status(1 | 2 | 8);
        assertEquals(0, readStatus() & 8, "FEATURES_OK does not stick with features never offered");
    }

    @Test
    void servesAQueueAndSignalsWithMsix() throws Exception {
        TestDriver driver = startDriver(true, VirtioDevice.F_VERSION_1 | VirtioDevice.F_EVENT_IDX);
        for (int round = 0; round < 20; round++) {
            TestDriver.Buffer b = driver.writable(64);
            int head = driver.send(b);
            mmio.write(BAR4 + VirtioPciFunction.NOTIFY, 2, 0);
            TestDriver.Used used = awaitUsed(driver);
            assertEquals(head, used.id());
            assertEquals(64, used.length());
            assertFalse(java.util.Arrays.equals(new byte[64], driver.bytes(b.address(), 64)), "random bytes");
        }
        assertTrue(msis.size() >= 1 && msis.stream().allMatch(m -> m.data() == 0x42 && m.address() == 0xfee00000L),
                "queue interrupts are MSI-X vector 1: " + msis);
    }

    @Test
    void fallsBackToIntxAndIsrWhenMsixIsOff() throws Exception {
        TestDriver driver = startDriver(false, VirtioDevice.F_VERSION_1);
        driver.send(driver.writable(16));
        mmio.write(BAR4 + VirtioPciFunction.NOTIFY, 2, 0);
        assertNotNull(awaitUsed(driver));
        int gsi = function.slot().intx().gsi();
        assertTrue(awaitLine(gsi, true), "INTx asserted");
        assertEquals(1, mmio.read(BAR4 + VirtioPciFunction.ISR, 1), "ISR: a queue interrupt");
        assertFalse(lines.get(gsi), "reading the ISR deasserts INTx");
        assertEquals(0, mmio.read(BAR4 + VirtioPciFunction.ISR, 1), "and clears it");
    }

    @Test
    void aMalformedQueueMakesTheDeviceAskForAResetAndAResetRecovers() throws Exception {
        TestDriver driver = startDriver(true, VirtioDevice.F_VERSION_1);
        driver.writeDescriptor(0, 0x300000, 16, TestDriver.WRITE | TestDriver.NEXT, 999); // next beyond the queue
        driver.setAvailEntry(0, 0);
        driver.setAvailIdx(1);
        mmio.write(BAR4 + VirtioPciFunction.NOTIFY, 2, 0);
        long deadline = System.currentTimeMillis() + 10_000;
        while ((readStatus() & VirtioPciFunction.DEVICE_NEEDS_RESET) == 0 && System.currentTimeMillis() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(VirtioPciFunction.DEVICE_NEEDS_RESET, readStatus() & VirtioPciFunction.DEVICE_NEEDS_RESET);
        assertTrue(msis.stream().anyMatch(m -> m.data() == 0x41), "a configuration-change interrupt: " + msis);

        common(VirtioPciFunction.DEVICE_STATUS, 1, 0);
        assertEquals(0, readStatus(), "reset");
        assertEquals(0, common(VirtioPciFunction.QUEUE_ENABLE, 2), "queues are off after a reset");
        TestDriver again = startDriver(true, VirtioDevice.F_VERSION_1);
        again.send(again.writable(8));
        mmio.write(BAR4 + VirtioPciFunction.NOTIFY, 2, 0);
        assertEquals(8, awaitUsed(again).length());
    }

    /** The driver's initialization sequence (§3.1.1) with queue 0 set up through {@link TestDriver}. */
    private TestDriver startDriver(boolean msix, long features) throws Exception {
        status(1 | 2);
        driverFeatures(features);
        status(1 | 2 | 8);
        assertEquals(8, readStatus() & 8, "FEATURES_OK");
        if (msix) {
            function.configWrite(msixCap + 2, 2, 1 << 15);
            for (int v = 0; v < 2; v++) {
                mmio.write(BAR1 + 16L * v, 4, 0xfee00000L);
                mmio.write(BAR1 + 16L * v + 4, 4, 0);
                mmio.write(BAR1 + 16L * v + 8, 4, 0x41 + v);
                mmio.write(BAR1 + 16L * v + 12, 4, 0); // unmask
            }
            common(VirtioPciFunction.CONFIG_MSIX_VECTOR, 2, 0);
        }
        common(VirtioPciFunction.QUEUE_SELECT, 2, 0);
        int size = (int) common(VirtioPciFunction.QUEUE_SIZE, 2);
        assertEquals(64, size);
        TestDriver driver = new TestDriver(memory, size);
        if (msix) {
            common(VirtioPciFunction.QUEUE_MSIX_VECTOR, 2, 1);
            assertEquals(1, common(VirtioPciFunction.QUEUE_MSIX_VECTOR, 2));
        }
        common(VirtioPciFunction.QUEUE_DESC, 8, driver.desc);
        common(VirtioPciFunction.QUEUE_DRIVER, 4, driver.avail);
        common(VirtioPciFunction.QUEUE_DRIVER + 4, 4, 0);
        common(VirtioPciFunction.QUEUE_DEVICE, 8, driver.used);
        common(VirtioPciFunction.QUEUE_ENABLE, 2, 1);
        status(1 | 2 | 8 | 4);
        return driver;
    }

    private TestDriver.Used awaitUsed(TestDriver driver) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        TestDriver.Used used;
        while ((used = driver.takeUsed()) == null && System.currentTimeMillis() < deadline) {
            Thread.sleep(1);
        }
        assertNotNull(used, "the device returned the buffer");
        return used;
    }

    private boolean awaitLine(int gsi, boolean level) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        while (System.currentTimeMillis() < deadline) {
            if (Boolean.valueOf(level).equals(lines.get(gsi))) {
                return true;
            }
            Thread.sleep(1);
        }
        return false;
    }

    private long deviceFeatures() {
        common(VirtioPciFunction.DEVICE_FEATURE_SELECT, 4, 0);
        long low = common(VirtioPciFunction.DEVICE_FEATURE, 4);
        common(VirtioPciFunction.DEVICE_FEATURE_SELECT, 4, 1);
        return low | common(VirtioPciFunction.DEVICE_FEATURE, 4) << 32;
    }

    private void driverFeatures(long features) {
        common(VirtioPciFunction.DRIVER_FEATURE_SELECT, 4, 0);
        common(VirtioPciFunction.DRIVER_FEATURE, 4, features & 0xffffffffL);
        common(VirtioPciFunction.DRIVER_FEATURE_SELECT, 4, 1);
        common(VirtioPciFunction.DRIVER_FEATURE, 4, features >>> 32);
    }

    private void status(int value) {
        common(VirtioPciFunction.DEVICE_STATUS, 1, value);
    }

    private int readStatus() {
        return (int) common(VirtioPciFunction.DEVICE_STATUS, 1);
    }

    private long common(int register, int size) {
        return mmio.read(BAR4 + VirtioPciFunction.COMMON + register, size);
    }

    private void common(int register, int size, long value) {
        mmio.write(BAR4 + VirtioPciFunction.COMMON + register, size, value);
    }
}
