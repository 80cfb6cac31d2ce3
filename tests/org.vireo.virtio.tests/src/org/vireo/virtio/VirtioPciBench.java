package org.vireo.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.bus.IoBus;
import org.vireo.api.device.ConsoleChannel;
import org.vireo.api.device.Device;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.irq.IrqLine;
import org.vireo.api.irq.MsiMessage;
import org.vireo.api.memory.RamRange;
import org.vireo.api.pci.PciBus;
import org.vireo.api.pci.PciConfigHeader;
import org.vireo.core.BasicMachine;
import org.vireo.core.bus.AddressSpace;
import org.vireo.core.memory.MappedGuestMemory;
import org.vireo.x86.pci.PciHostBridge;

/**
 * One virtio device on a PCI bus with guest RAM, driven through its BARs the way Linux's
 * virtio_pci_modern does: for device tests that go through the real transport. MSI-X vector 0
 * is the configuration vector (message data 0x40), vector 1 + q serves queue q (0x41 + q).
 * Console channels and published controls are kept for the test to look at.
 */
final class VirtioPciBench implements AutoCloseable {

    static final long BAR4 = 0xe000_0000L, BAR1 = 0xe001_0000L;
    static final int CONFIG_MSI = 0x40;

    /** Makes the device under test in the bench's context. */
    interface Maker {
        Device make(DeviceContext context) throws VireoException;
    }

    final MappedGuestMemory memory;
    final AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "bench");
    final List<MsiMessage> msis = new CopyOnWriteArrayList<>();
    /** The INTx lines' levels as the function last set them, by GSI. */
    final Map<Integer, Boolean> lines = new ConcurrentHashMap<>();
    final Map<String, TestChannel> consoles = new ConcurrentHashMap<>();
    final Map<Class<?>, Object> published = new ConcurrentHashMap<>();
    final VirtioPciFunction function;
    /** Where the MSI-X capability is in configuration space. */
    final int msixCap;

    VirtioPciBench(long ramBytes, Maker maker) throws VireoException {
        memory = new MappedGuestMemory(List.of(new RamRange(0, ramBytes)));
        AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "bench");
        IrqChip chip = new IrqChip() {
            @Override
            public int gsiCount() {
                return 24;
            }

            @Override
            public IrqLine line(int gsi) {
                return new IrqLine() {
                    @Override
                    public int gsi() {
                        return gsi;
                    }

                    @Override
                    public void set(boolean level) {
                        lines.put(gsi, level);
                    }
                };
            }

            @Override
            public void signalMsi(MsiMessage message) {
                msis.add(message);
            }
        };
        PciHostBridge bridge = new PciHostBridge(pio, chip);
        Machine machine = new BasicMachine("bench", memory, pio, mmio, (reason, detail) -> {
            throw new AssertionError("the device stopped the machine: " + detail);
        });
        DeviceContext context = new DeviceContext() {
            @Override
            public Machine machine() {
                return machine;
            }

            @Override
            public IrqChip irqChip() {
                return chip;
            }

            @Override
            public PciBus pciBus() {
                return bridge;
            }

            @Override
            public Path resolve(String path) {
                return Path.of(path);
            }

            @Override
            public ConsoleChannel console(String name) {
                return consoles.computeIfAbsent(name, n -> new TestChannel());
            }

            @Override
            public <T> void publish(Class<T> type, T control) {
                published.putIfAbsent(type, control);
            }
        };
        function = (VirtioPciFunction) maker.make(context);
        function.assignBar(4, BAR4);
        function.assignBar(1, BAR1);
        function.configWrite(PciConfigHeader.COMMAND, 2, PciConfigHeader.COMMAND_MEMORY_SPACE
                | PciConfigHeader.COMMAND_BUS_MASTER);
        int cap = 0;
        for (int at = function.configRead(PciConfigHeader.CAPABILITIES_POINTER, 1); at != 0;
                at = function.configRead(at + 1, 1)) {
            if (function.configRead(at, 1) == 0x11) {
                cap = at;
            }
        }
        msixCap = cap;
    }

    /**
     * The driver's initialization (§3.1.1) with MSI-X: features, then every queue at its
     * largest size through a {@link TestDriver} (queue q's rings at 0x10000 * (q + 1)), then
     * {@code beforeDriverOk} (what a driver does before DRIVER_OK, such as posting buffers),
     * then DRIVER_OK. Data buffers all come from the first driver's allocator.
     */
    TestDriver[] start(long features, Consumer<TestDriver[]> beforeDriverOk) {
        status(1 | 2);
        driverFeatures(features);
        status(1 | 2 | 8);
        assertEquals(8, readStatus() & 8, "FEATURES_OK");
        int queues = (int) common(VirtioPciFunction.NUM_QUEUES, 2);
        function.configWrite(msixCap + 2, 2, 1 << 15);
        for (int v = 0; v <= queues; v++) {
            mmio.write(BAR1 + 16L * v, 4, 0xfee00000L);
            mmio.write(BAR1 + 16L * v + 4, 4, 0);
            mmio.write(BAR1 + 16L * v + 8, 4, CONFIG_MSI + v);
            mmio.write(BAR1 + 16L * v + 12, 4, 0); // unmask
        }
        common(VirtioPciFunction.CONFIG_MSIX_VECTOR, 2, 0);
        TestDriver[] drivers = new TestDriver[queues];
        for (int q = 0; q < queues; q++) {
            common(VirtioPciFunction.QUEUE_SELECT, 2, q);
            int size = (int) common(VirtioPciFunction.QUEUE_SIZE, 2);
            drivers[q] = new TestDriver(memory, size, 0x10000L * (q + 1));
            common(VirtioPciFunction.QUEUE_MSIX_VECTOR, 2, q + 1);
            common(VirtioPciFunction.QUEUE_DESC, 8, drivers[q].desc);
            common(VirtioPciFunction.QUEUE_DRIVER, 8, drivers[q].avail);
            common(VirtioPciFunction.QUEUE_DEVICE, 8, drivers[q].used);
            common(VirtioPciFunction.QUEUE_ENABLE, 2, 1);
        }
        beforeDriverOk.accept(drivers);
        status(1 | 2 | 8 | 4);
        return drivers;
    }

    TestDriver[] start(long features) {
        return start(features, d -> { });
    }

    void kick(int queue) {
        mmio.write(BAR4 + VirtioPciFunction.NOTIFY + (long) VirtioPciFunction.NOTIFY_MULTIPLIER * queue, 2, queue);
    }

    long deviceConfig(int offset, int size) {
        return mmio.read(BAR4 + VirtioPciFunction.DEVICE_CONFIG + offset, size);
    }

    void deviceConfig(int offset, int size, long value) {
        mmio.write(BAR4 + VirtioPciFunction.DEVICE_CONFIG + offset, size, value);
    }

    long deviceFeatures() {
        common(VirtioPciFunction.DEVICE_FEATURE_SELECT, 4, 0);
        long low = common(VirtioPciFunction.DEVICE_FEATURE, 4);
        common(VirtioPciFunction.DEVICE_FEATURE_SELECT, 4, 1);
        return low | common(VirtioPciFunction.DEVICE_FEATURE, 4) << 32;
    }

    void driverFeatures(long features) {
        common(VirtioPciFunction.DRIVER_FEATURE_SELECT, 4, 0);
        common(VirtioPciFunction.DRIVER_FEATURE, 4, features & 0xffffffffL);
        common(VirtioPciFunction.DRIVER_FEATURE_SELECT, 4, 1);
        common(VirtioPciFunction.DRIVER_FEATURE, 4, features >>> 32);
    }

    void status(int value) {
        common(VirtioPciFunction.DEVICE_STATUS, 1, value);
    }

    int readStatus() {
        return (int) common(VirtioPciFunction.DEVICE_STATUS, 1);
    }

    long common(int register, int size) {
        return mmio.read(BAR4 + VirtioPciFunction.COMMON + register, size);
    }

    void common(int register, int size, long value) {
        mmio.write(BAR4 + VirtioPciFunction.COMMON + register, size, value);
    }

    /** MSI-X messages so far with data {@code data}. */
    long msiCount(int data) {
        return msis.stream().filter(m -> m.data() == data).count();
    }

    /** The next used element of {@code driver}, waiting up to 10 s for the device's thread. */
    static TestDriver.Used awaitUsed(TestDriver driver) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        TestDriver.Used used;
        while ((used = driver.takeUsed()) == null && System.currentTimeMillis() < deadline) {
            Thread.sleep(1);
        }
        assertNotNull(used, "the device returned the buffer");
        return used;
    }

    /** Waits up to 10 s for {@code condition}; returns whether it came true. */
    static boolean await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }

    /** Lets the device's thread finish what the last notification started. */
    static void settle() throws InterruptedException {
        Thread.sleep(100);
    }

    @Override
    public void close() {
        function.close();
        memory.close();
    }

    /** A console channel whose output the test reads and whose input it types, as the runtime's hub does. */
    static final class TestChannel implements ConsoleChannel {
        private final ByteArrayOutputStream output = new ByteArrayOutputStream();
        private final ArrayDeque<Byte> input = new ArrayDeque<>();
        private volatile Runnable listener = () -> { };

        @Override
        public synchronized void output(byte[] data, int offset, int length) {
            output.write(data, offset, length);
        }

        @Override
        public int readInput() {
            synchronized (input) {
                Byte b = input.poll();
                return b == null ? -1 : b & 0xff;
            }
        }

        @Override
        public void onInput(Runnable l) {
            listener = l;
        }

        void type(String text) {
            synchronized (input) {
                for (byte b : text.getBytes(StandardCharsets.ISO_8859_1)) {
                    input.add(b);
                }
            }
            listener.run();
        }

        /** Typed bytes nobody took yet. */
        int pendingInput() {
            synchronized (input) {
                return input.size();
            }
        }

        synchronized String output() {
            return output.toString(StandardCharsets.ISO_8859_1);
        }
    }
}
