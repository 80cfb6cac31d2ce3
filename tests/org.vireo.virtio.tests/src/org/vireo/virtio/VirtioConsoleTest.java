package org.vireo.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vireo.virtio.VirtioPciBench.awaitUsed;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.pci.PciConfigHeader;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.DeviceConfig;

/**
 * virtio-console through the PCI transport, driven as Linux's virtio_console drives a port
 * without MULTIPORT: what the guest sends on transmitq0 reaches the console channel, what the
 * user types reaches the guest only in receive buffers it posted and never beyond them, and a
 * buffer in the wrong direction makes the device ask for a reset.
 */
class VirtioConsoleTest {

    private static final long FEATURES = VirtioDevice.F_VERSION_1 | VirtioDevice.F_EVENT_IDX | VirtioConsole.F_SIZE;

    private VirtioPciBench bench;
    private VirtioPciBench.TestChannel channel;

    @BeforeEach
    void setUp() throws Exception {
        bench = new VirtioPciBench(16 << 20, context -> new VirtioConsoleFactory().create(context,
                new DeviceConfig(VirtioConsole.TYPE, "con0", Map.of())));
        channel = bench.consoles.get("hvc0");
    }

    @AfterEach
    void tearDown() {
        bench.close();
    }

    @Test
    void identifiesAsAConsoleWithAnEightyByTwentyFiveScreen() {
        VirtioPciFunction f = bench.function;
        assertEquals(0x1043, f.configRead(PciConfigHeader.DEVICE_ID, 2));
        assertEquals(0x078000, f.configRead(PciConfigHeader.CLASS_CODE, 4) & 0xffffff);
        assertEquals(List.of("hvc0"), List.copyOf(bench.consoles.keySet()), "the factory took channel hvc0");
        assertEquals(VirtioConsole.F_SIZE, bench.deviceFeatures() & 0xffffffffL & ~(VirtioDevice.F_INDIRECT_DESC
                | VirtioDevice.F_EVENT_IDX), "SIZE, and neither MULTIPORT nor EMERG_WRITE");
        assertEquals(2, bench.common(VirtioPciFunction.NUM_QUEUES, 2));
        assertEquals(80, bench.deviceConfig(0, 2), "cols");
        assertEquals(25, bench.deviceConfig(2, 2), "rows");
        assertEquals(0, bench.deviceConfig(4, 4), "max_nr_ports");
    }

    @Test
    void guestOutputReachesTheChannel() throws Exception {
        TestDriver[] q = bench.start(FEATURES);
        TestDriver rx = q[VirtioConsole.RECEIVEQ], tx = q[VirtioConsole.TRANSMITQ];
        int first = tx.send(rx.readable("hello "));
        bench.kick(VirtioConsole.TRANSMITQ);
        assertEquals(new TestDriver.Used(first, 0), awaitUsed(tx));
        tx.send(rx.readable("wor"), rx.readable("ld\n"));
        // Bigger than the device's 4 KiB copy buffer, in segments that do not line up with it.
        StringBuilder big = new StringBuilder();
        for (int i = 0; big.length() < 20_000; i++) {
            big.append("line ").append(i).append('\n');
        }
        String text = big.toString();
        tx.send(rx.readable(text.substring(0, 5000)), rx.readable(text.substring(5000, 5001)),
                rx.readable(text.substring(5001)));
        bench.kick(VirtioConsole.TRANSMITQ);
        awaitUsed(tx);
        awaitUsed(tx);
        assertEquals("hello world\n" + text, channel.output());
        assertTrue(bench.msiCount(0x42) >= 1, "transmitq0's interrupt (vector 2): " + bench.msis);
    }

    @Test
    void inputFillsOnlyTheBuffersTheGuestPosted() throws Exception {
        TestDriver[] q = bench.start(FEATURES);
        TestDriver rx = q[VirtioConsole.RECEIVEQ];
        channel.type("abc");
        VirtioPciBench.settle();
        assertEquals(0, rx.usedIdx(), "no buffer, nothing delivered");
        assertTrue(channel.pendingInput() >= 2, "the input waits in the channel; the device holds at most a byte");

        TestDriver.Buffer two = rx.writable(2);
        int head = rx.send(two);
        bench.kick(VirtioConsole.RECEIVEQ);
        assertEquals(new TestDriver.Used(head, 2), awaitUsed(rx));
        assertEquals("ab", new String(rx.bytes(two.address(), 2), StandardCharsets.US_ASCII));
        assertTrue(bench.msiCount(0x41) >= 1, "receiveq0's interrupt (vector 1): " + bench.msis);

        TestDriver.Buffer sixteen = rx.writable(16);
        head = rx.send(sixteen);
        bench.kick(VirtioConsole.RECEIVEQ);
        assertEquals(new TestDriver.Used(head, 1), awaitUsed(rx), "what there is, not the whole buffer");
        assertEquals('c', rx.bytes(sixteen.address(), 1)[0]);

        // Buffers posted ahead of the typing wait for it.
        TestDriver.Buffer four = rx.writable(4);
        TestDriver.Buffer more = rx.writable(64);
        int h4 = rx.send(four);
        int h64 = rx.send(more);
        bench.kick(VirtioConsole.RECEIVEQ);
        VirtioPciBench.settle();
        assertNull(rx.takeUsed(), "no input, the buffers stay with the device");
        channel.type("0123456789");
        assertEquals(new TestDriver.Used(h4, 4), awaitUsed(rx));
        assertEquals(new TestDriver.Used(h64, 6), awaitUsed(rx));
        assertEquals("0123", new String(rx.bytes(four.address(), 4), StandardCharsets.US_ASCII));
        assertEquals("456789", new String(rx.bytes(more.address(), 6), StandardCharsets.US_ASCII));
        assertEquals(0, channel.pendingInput());
    }

    @Test
    void aFloodOfInputTakesNoMoreThanTheBuffersHold() throws Exception {
        TestDriver[] q = bench.start(FEATURES);
        TestDriver rx = q[VirtioConsole.RECEIVEQ];
        channel.type("x".repeat(100_000));
        for (int i = 0; i < 3; i++) {
            rx.send(rx.writable(100));
        }
        bench.kick(VirtioConsole.RECEIVEQ);
        for (int i = 0; i < 3; i++) {
            assertEquals(100, awaitUsed(rx).length());
        }
        VirtioPciBench.settle();
        assertTrue(channel.pendingInput() >= 100_000 - 300 - 1, "the rest still waits in the channel: "
                + channel.pendingInput());
        // A page-sized Linux buffer takes a page, no more.
        rx.send(rx.writable(8192));
        bench.kick(VirtioConsole.RECEIVEQ);
        assertEquals(VirtioConsole.CHUNK, awaitUsed(rx).length());
    }

    @Test
    void aWritableBufferOnTransmitqMakesTheDeviceAskForAReset() throws Exception {
        TestDriver[] q = bench.start(FEATURES);
        q[VirtioConsole.TRANSMITQ].send(q[0].writable(8));
        bench.kick(VirtioConsole.TRANSMITQ);
        assertTrue(VirtioPciBench.await(() -> (bench.readStatus() & VirtioPciFunction.DEVICE_NEEDS_RESET) != 0));
        assertTrue(bench.msiCount(VirtioPciBench.CONFIG_MSI) >= 1, "a configuration interrupt: " + bench.msis);
        assertEquals("", channel.output());

        bench.status(0);
        TestDriver[] again = bench.start(FEATURES);
        again[1].send(again[0].readable("after reset"));
        bench.kick(VirtioConsole.TRANSMITQ);
        awaitUsed(again[1]);
        assertEquals("after reset", channel.output());
    }

    @Test
    void theFactoryChecksTheChannelName() {
        VirtioConsoleFactory factory = new VirtioConsoleFactory();
        assertEquals(List.of(), factory.validate(new DeviceConfig(VirtioConsole.TYPE, "c", Map.of("channel", "hvc1",
                "slot", 5L))));
        assertEquals(List.of("channel"), paths(factory.validate(new DeviceConfig(VirtioConsole.TYPE, "c",
                Map.of("channel", "serial0")))), "serial0 is the serial port's");
        assertEquals(List.of("channel"), paths(factory.validate(new DeviceConfig(VirtioConsole.TYPE, "c",
                Map.of("channel", "no spaces")))));
        assertEquals(List.of("speed"), paths(factory.validate(new DeviceConfig(VirtioConsole.TYPE, "c",
                Map.of("speed", 9600L)))));
    }

    static List<String> paths(List<ConfigProblem> problems) {
        return problems.stream().map(ConfigProblem::path).toList();
    }
}
