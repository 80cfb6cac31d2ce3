package org.vireo.x86.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.pci.PciBus;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;
import org.vireo.x86.dev.MapIoBus;

/** Configuration mechanism #1 on 0xCF8/0xCFC, the bridge's slots, and the config header of a function. */
class PciHostBridgeTest {

    private static final int ADDRESS = 0xCF8;
    private static final int DATA = 0xCFC;

    private MapIoBus ports;
    private MapIoBus mmio;
    private TestIrqChip chip;
    private PciHostBridge bridge;

    @BeforeEach
    void createBridge() {
        ports = MapIoBus.ports();
        mmio = MapIoBus.memory();
        chip = new TestIrqChip();
        bridge = new PciHostBridge(ports, chip);
    }

    private static int address(int device, int register) {
        return 0x8000_0000 | device << 11 | register & 0xFC;
    }

    private int configRead(int device, int register) {
        ports.outl(ADDRESS, address(device, register));
        return ports.inl(DATA);
    }

    private void configWrite(int device, int register, int value) {
        ports.outl(ADDRESS, address(device, register));
        ports.outl(DATA, value);
    }

    private TestPciFunction attachFunction(String name) {
        TestPciFunction f = new TestPciFunction(name, ports, mmio);
        f.attachTo(bridge, -1);
        return f;
    }

    @Test
    void linuxConfType1ProbeFindsTheHostBridge() {
        // arch/x86/pci/direct.c pci_check_type1 and pci_sanity_check
        ports.outb(0xCFB, 0x01);
        int saved = ports.inl(ADDRESS);
        ports.outl(ADDRESS, 0x8000_0000);
        assertEquals(0x8000_0000, ports.inl(ADDRESS));
        ports.outl(ADDRESS, saved);
        ports.outl(ADDRESS, address(0, 0x08));
        assertEquals(0x0600, ports.read(DATA + 2, 2), "class: host bridge");
    }

    @Test
    void hostBridgeIdentityAtDeviceZero() {
        assertEquals(0x29C0_8086, configRead(0, 0x00));
        assertEquals(0x0600_0000, configRead(0, 0x08) & 0xFFFF_FF00);
        assertEquals(0x00, (configRead(0, 0x0C) >>> 16) & 0xFF, "header type 0, single function");
    }

    @Test
    void byteAndWordAccessesAtTheDataPortOffsets() {
        ports.outl(ADDRESS, address(0, 0x00));
        assertEquals(0x86, ports.inb(DATA));
        assertEquals(0x80, ports.inb(DATA + 1));
        assertEquals(0xC0, ports.inb(DATA + 2));
        assertEquals(0x29, ports.inb(DATA + 3));
        assertEquals(0x29C0, ports.read(DATA + 2, 2));
        assertEquals(0x8086, ports.read(DATA, 2));
    }

    @Test
    void absentFunctionsReadAllOnes() {
        assertEquals(0xFFFF_FFFF, configRead(7, 0x00), "empty slot");
        ports.outl(ADDRESS, 0x8000_0000 | 1 << 8);
        assertEquals(0xFFFF_FFFF, ports.inl(DATA), "function 1 of the bridge");
        ports.outl(ADDRESS, 0x8000_0000 | 1 << 16);
        assertEquals(0xFFFF_FFFF, ports.inl(DATA), "bus 1");
        ports.outl(ADDRESS, 0x0000_0000);
        assertEquals(0xFFFF_FFFF, ports.inl(DATA), "enable bit clear");
        ports.outl(ADDRESS, address(7, 0));
        assertEquals(0xFFFF, ports.read(DATA, 2), "vendor id 0xFFFF");
        assertEquals(0xFF, ports.inb(DATA + 3));
    }

    @Test
    void attachedFunctionIsReadThroughTheConfigPorts() {
        TestPciFunction f = attachFunction("nic0");
        assertEquals(1, f.slot().device());
        assertEquals(0x10F0_1AF4, configRead(1, 0x00));
        assertEquals(0x0200_0001, configRead(1, 0x08), "class 02/00/00, revision 1");
        assertEquals(0x0001_1AF4, configRead(1, 0x2C), "subsystem");
        assertEquals(0x10, (configRead(1, 0x04) >>> 16) & 0x10, "status: capability list");
        assertEquals(0x40, configRead(1, 0x34) & 0xFF);
    }

    @Test
    void capabilitiesAreLinkedAndHonourTheirWritableBits() {
        TestPciFunction f = attachFunction("nic0");
        int first = configRead(1, 0x40);
        assertEquals(0x09, first & 0xFF);
        int second = (first >>> 8) & 0xFF;
        assertEquals(0x48, second, "dword aligned after the 6-byte capability");
        assertEquals(0x05, configRead(1, second) & 0xFF);
        assertEquals(0x00, (configRead(1, second) >>> 8) & 0xFF, "end of list");
        assertEquals(0x1106_4809, configRead(1, 0x40), "ID, next, then the body bytes");
        assertEquals(0x3322, configRead(1, 0x44) & 0xFFFF);

        ports.outl(ADDRESS, address(1, 0x44));
        ports.outb(DATA, 0x77); // the writable byte
        ports.outb(DATA + 1, 0x77); // read-only
        assertEquals(0x77, ports.inb(DATA));
        assertEquals(0x33, ports.inb(DATA + 1), "read-only capability byte unchanged");
        assertTrue(f.hookCalls.contains("write 4/1=77"), f.hookCalls.toString());
        assertTrue(f.hookCalls.contains("read 4/1"), f.hookCalls.toString());

        configWrite(1, second, 0xFFFF_FFFF);
        assertEquals(0x0001, configRead(1, second) >>> 16, "only the enable bit of the control word");
        assertEquals(0x0001, f.msiCapability.read(2, 2));
    }

    @Test
    void readOnlyHeaderBitsKeepTheirValue() {
        attachFunction("nic0");
        configWrite(1, 0x00, 0x1234_5678);
        assertEquals(0x10F0_1AF4, configRead(1, 0x00));
        configWrite(1, 0x08, 0);
        assertEquals(0x0200_0001, configRead(1, 0x08));
        configWrite(1, 0x04, 0xFFFF_FFFF);
        int commandStatus = configRead(1, 0x04);
        assertEquals(0x0547, commandStatus & 0xFFFF, "writable command bits only");
        assertEquals(0x0010, commandStatus >>> 16, "writing ones to status sets nothing");
        configWrite(1, 0x04, 0);
        configWrite(1, 0x3C, 0xFFFF_FF0B);
        assertEquals(0x010B, configRead(1, 0x3C) & 0xFFFF, "line writable, pin 1 = INTA# read-only");
    }

    @Test
    void barSizingByWritingAllOnes() {
        attachFunction("nic0");
        int[] expected = {0xFFFF_F000, 0xFFFF_FFE1, 0xFFFF_C00C, 0xFFFF_FFFF, 0x0000_0000, 0x0000_0000};
        for (int bar = 0; bar < 6; bar++) {
            int reg = 0x10 + 4 * bar;
            int original = configRead(1, reg);
            configWrite(1, reg, 0xFFFF_FFFF);
            assertEquals(expected[bar], configRead(1, reg), "BAR" + bar);
            configWrite(1, reg, original);
            assertEquals(original, configRead(1, reg));
        }
        assertEquals(0x0000_0000, configRead(1, 0x30), "no expansion ROM");
    }

    @Test
    void barsAreRegisteredWhereTheGuestPutsThemOnlyWhileDecodeIsOn() {
        TestPciFunction f = attachFunction("nic0");
        configWrite(1, 0x10, 0xE000_0000);
        configWrite(1, 0x14, 0xC000);
        configWrite(1, 0x18, 0x0000_0000);
        configWrite(1, 0x1C, 0x0000_0001);
        assertNull(mmio.ownerOf(0xE000_0000L), "memory decode still off");
        assertEquals(0xE000_0000L, f.barAddress(0));

        configWrite(1, 0x04, 0x0002);
        assertEquals("nic0 (pci 00:01.0) BAR0", mmio.ownerOf(0xE000_0FFFL));
        assertEquals(0xB000_0010L, mmio.read(0xE000_0010L, 4), "reads reach BAR0's handler");
        assertEquals("nic0 (pci 00:01.0) BAR2", mmio.ownerOf(0x1_0000_0000L), "64-bit BAR above 4 GiB");
        assertNull(ports.ownerOf(0xC000), "I/O decode off");

        configWrite(1, 0x04, 0x0003);
        assertEquals("nic0 (pci 00:01.0) BAR1", ports.ownerOf(0xC01F));
        ports.outb(0xC004, 0x5A);
        assertEquals(List.of("BAR1+4=5a"), f.barWrites);

        configWrite(1, 0x10, 0xE010_0000); // move BAR0 while decoding
        assertNull(mmio.ownerOf(0xE000_0000L));
        assertEquals("nic0 (pci 00:01.0) BAR0", mmio.ownerOf(0xE010_0000L));
        assertTrue(f.barMapped(0));

        configWrite(1, 0x04, 0x0000);
        assertNull(mmio.ownerOf(0xE010_0000L));
        assertNull(ports.ownerOf(0xC000));
        assertEquals(0, mmio.size());
        assertFalse(f.barMapped(0));
    }

    @Test
    void aBarPlacedOverAnotherIsLeftUnmappedWithoutAnError() {
        TestPciFunction f = attachFunction("nic0");
        configWrite(1, 0x10, 0xE000_0000);
        configWrite(1, 0x18, 0xE000_0000);
        configWrite(1, 0x04, 0x0002);
        assertTrue(f.barMapped(0));
        assertFalse(f.barMapped(2));
        configWrite(1, 0x18, 0xE100_0000);
        assertTrue(f.barMapped(2), "mapped once moved to a free place");
        configWrite(1, 0x14, 0xFFFF_FFE1);
        configWrite(1, 0x04, 0x0003);
        assertFalse(f.barMapped(1), "an I/O BAR above 64 KiB decodes nothing");
    }

    @Test
    void firmwareHelpersAssignAndEnable() {
        TestPciFunction f = attachFunction("nic0");
        f.assignBar(0, 0xFEB0_0123L);
        assertEquals(0xFEB0_0000L, f.barAddress(0), "aligned to the BAR's size");
        f.assignBar(2, 0x8_0000_0000L);
        f.enableDecode();
        assertEquals(0xFEB0_0000, configRead(1, 0x10));
        assertEquals(0x0000_000C, configRead(1, 0x18));
        assertEquals(0x0000_0008, configRead(1, 0x1C));
        assertTrue(f.barMapped(0));
        assertEquals("nic0 (pci 00:01.0) BAR2", mmio.ownerOf(0x8_0000_0000L));
    }

    @Test
    void attachPlacesFunctionsInFreeOrRequestedSlots() {
        TestPciFunction a = attachFunction("disk0");
        TestPciFunction b = new TestPciFunction("net0", ports, mmio);
        b.attachTo(bridge, 5);
        TestPciFunction c = attachFunction("rng0");
        assertEquals(1, a.slot().device());
        assertEquals(5, b.slot().device());
        assertEquals(2, c.slot().device());
        assertEquals(List.of(a.slot(), c.slot(), b.slot()), bridge.attachedSlots());

        IllegalStateException taken = assertThrows(IllegalStateException.class,
                () -> new TestPciFunction("blk1", ports, mmio).attachTo(bridge, 5));
        assertTrue(taken.getMessage().contains("net0") && taken.getMessage().contains("blk1"), taken.getMessage());
        IllegalStateException bridgeSlot = assertThrows(IllegalStateException.class,
                () -> new TestPciFunction("blk2", ports, mmio).attachTo(bridge, 0));
        assertTrue(bridgeSlot.getMessage().contains("host bridge"), bridgeSlot.getMessage());
        assertThrows(IllegalArgumentException.class, () -> bridge.attach(new TestPciFunction("x", ports, mmio), 32, "x"));
    }

    @Test
    void aFullBusSaysSo() {
        for (int i = 1; i < 32; i++) {
            bridge.attach(new TestPciFunction("f" + i, ports, mmio), -1, "f" + i);
        }
        IllegalStateException full = assertThrows(IllegalStateException.class,
                () -> bridge.attach(new TestPciFunction("one-too-many", ports, mmio), -1, "one-too-many"));
        assertTrue(full.getMessage().contains("full") && full.getMessage().contains("one-too-many"), full.getMessage());
    }

    @Test
    void intxSwizzleIsSixteenPlusDevicePlusPinModEight() {
        assertEquals(16, PciHostBridge.intxGsi(0, 0));
        assertEquals(17, PciHostBridge.intxGsi(1, 0));
        assertEquals(23, PciHostBridge.intxGsi(7, 0));
        assertEquals(16, PciHostBridge.intxGsi(8, 0));
        assertEquals(16, PciHostBridge.intxGsi(7, 1));
        assertEquals(22, PciHostBridge.intxGsi(3, 3));
        assertThrows(IllegalArgumentException.class, () -> PciHostBridge.intxGsi(32, 0));
        assertThrows(IllegalArgumentException.class, () -> PciHostBridge.intxGsi(1, 4));
    }

    @Test
    void intxReachesTheSwizzledGsiAndIsSharedAsWiredOr() {
        TestPciFunction one = attachFunction("a");
        TestPciFunction nine = new TestPciFunction("b", ports, mmio);
        PciBus.PciSlot slot9 = nine.attachTo(bridge, 9);
        assertEquals(17, one.slot().intx().gsi());
        assertEquals(17, slot9.intx().gsi(), "device 9 INTA# shares GSI 17 with device 1");
        assertEquals(17, configRead(1, 0x3C) & 0xFF, "interrupt line register preset like firmware");

        one.raiseIntx(true);
        assertTrue(chip.line(17).level());
        assertEquals(0x08, (configRead(1, 0x04) >>> 16) & 0x08, "status: interrupt");
        nine.raiseIntx(true);
        one.raiseIntx(false);
        assertTrue(chip.line(17).level(), "still held by device 9");
        nine.raiseIntx(false);
        assertFalse(chip.line(17).level());

        one.raiseIntx(true);
        configWrite(1, 0x04, 0x0400); // Interrupt Disable
        assertFalse(chip.line(17).level());
        assertEquals(0x08, (configRead(1, 0x04) >>> 16) & 0x08, "status still shows the request");
        configWrite(1, 0x04, 0x0000);
        assertTrue(chip.line(17).level());
    }

    @Test
    void saveAndRestoreRoundTrip() throws StateException {
        TestPciFunction f = attachFunction("nic0");
        configWrite(1, 0x10, 0xE000_0000);
        configWrite(1, 0x14, 0xC040);
        configWrite(1, 0x0C, 0x0000_4010); // latency timer, cache line size
        configWrite(1, 0x04, 0x0007);
        configWrite(1, 0x44, 0x0000_00AB);
        f.raiseIntx(true);
        configWrite(0, 0x0C, 0x0000_2000); // the host bridge's own latency timer
        ports.outl(ADDRESS, address(1, 0x10));

        StateWriter bridgeState = new StateWriter("pci-host", 1);
        bridge.saveState(bridgeState);
        StateWriter functionState = new StateWriter("nic0", 1);
        f.save(functionState);

        MapIoBus ports2 = MapIoBus.ports();
        MapIoBus mmio2 = MapIoBus.memory();
        TestIrqChip chip2 = new TestIrqChip();
        PciHostBridge bridge2 = new PciHostBridge(ports2, chip2);
        TestPciFunction f2 = new TestPciFunction("nic0", ports2, mmio2);
        f2.attachTo(bridge2, 1);
        bridge2.restoreState(StateReader.parse(bridgeState.toBytes()));
        f2.restore(StateReader.parse(functionState.toBytes()));

        assertEquals(address(1, 0x10), ports2.inl(ADDRESS), "CONFIG_ADDRESS restored");
        assertEquals(0xE000_0000, ports2.inl(DATA));
        for (int device : new int[] {0, 1}) {
            for (int reg = 0; reg < 256; reg += 4) {
                ports.outl(ADDRESS, address(device, reg));
                ports2.outl(ADDRESS, address(device, reg));
                assertEquals(ports.inl(DATA), ports2.inl(DATA), String.format("device %d register 0x%02x", device, reg));
            }
        }
        assertEquals("nic0 (pci 00:01.0) BAR0", mmio2.ownerOf(0xE000_0000L));
        assertEquals("nic0 (pci 00:01.0) BAR1", ports2.ownerOf(0xC040));
        assertTrue(chip2.line(17).level(), "INTx asserted again");
        f2.raiseIntx(false);
        assertFalse(chip2.line(17).level());
    }

    @Test
    void restoreRefusesAnotherFunctionsHeader() {
        TestPciFunction f = attachFunction("nic0");
        StateWriter out = new StateWriter("nic0", 1);
        f.save(out);
        TestPciFunction other = new TestPciFunction("blk0", 0x1001, ports, mmio);
        other.attachTo(bridge, -1);
        configWrite(2, 0x04, 0x0002);
        StateException e = assertThrows(StateException.class, () -> other.restore(StateReader.parse(out.toBytes())));
        assertTrue(e.getMessage().contains("blk0"), e.getMessage());
        assertEquals(0x0002, configRead(2, 0x04) & 0xFFFF, "unchanged");
    }

    @Test
    void closeReleasesTheConfigPorts() {
        bridge.close();
        assertNull(ports.ownerOf(ADDRESS));
    }
}
