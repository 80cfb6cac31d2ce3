package org.vireo.x86.dev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.bus.BusConflictException;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/** The test device's registers, interrupt line, counting port and saved state, as a guest sees them. */
class TestDeviceTest {

    private static final long BASE = 0xfeb0_0000L;
    private static final int PORT = 0xf4;

    private MapIoBus mmio;
    private MapIoBus pio;
    private RecordingIrqLine irq;
    private TestDevice device;

    @BeforeEach
    void createDevice() {
        mmio = MapIoBus.memory();
        pio = MapIoBus.ports();
        irq = new RecordingIrqLine(5);
        device = new TestDevice("testdev0", mmio, BASE, pio, PORT, irq);
    }

    private long read(int offset) {
        return mmio.read(BASE + offset, 4);
    }

    private void write(int offset, long value) {
        mmio.write(BASE + offset, 4, value);
    }

    @Test
    void idReadsVtstInMemoryOrder() {
        assertEquals(0x5453_5456L, read(TestDevice.REG_ID));
        StringBuilder bytes = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            bytes.append((char) mmio.read(BASE + TestDevice.REG_ID + i, 1));
        }
        assertEquals("VTST", bytes.toString());
        write(TestDevice.REG_ID, 0);
        assertEquals(TestDevice.ID, read(TestDevice.REG_ID), "ID is read-only");
    }

    @Test
    void scratchAndResultHoldWhatWasWritten() {
        write(TestDevice.REG_SCRATCH, 0xa5c3_5a3cL);
        assertEquals(0xa5c3_5a3cL, read(TestDevice.REG_SCRATCH));
        write(TestDevice.REG_RESULT, 0x1f);
        assertEquals(0x1f, read(TestDevice.REG_RESULT));
        assertEquals(0x1f, device.result());
    }

    @Test
    void narrowAndWideAccessesUseByteLanes() {
        write(TestDevice.REG_SCRATCH, 0x1122_3344L);
        assertEquals(0x44, mmio.read(BASE + TestDevice.REG_SCRATCH, 1), "a byte read gives the low byte");
        assertEquals(0x3344, mmio.read(BASE + TestDevice.REG_SCRATCH, 2));
        mmio.write(BASE + TestDevice.REG_SCRATCH + 1, 1, 0xee);
        assertEquals(0x1122_ee44L, read(TestDevice.REG_SCRATCH), "a byte write changes that byte only");
        assertEquals(0x1122_ee44_5453_5456L, mmio.read(BASE, 8), "an 8-byte read spans ID and SCRATCH");
        mmio.write(BASE + TestDevice.REG_SCRATCH, 8, 0x0000_0002_cafe_f00dL);
        assertEquals(0xcafe_f00dL, read(TestDevice.REG_SCRATCH));
        assertTrue(irq.level(), "the high half of the 8-byte write reached IRQ: raise");
    }

    @Test
    void unusedOffsetsReadZeroAndIgnoreWrites() {
        write(0x18, 0xffff_ffffL);
        write(0xffc, 0xffff_ffffL);
        assertEquals(0, read(0x18));
        assertEquals(0, read(0xffc));
        assertEquals(0, read(0x800));
    }

    @Test
    void irqPulseGivesOneEdgeAndLeavesTheLineLow() {
        write(TestDevice.REG_IRQ, TestDevice.IRQ_PULSE);
        assertEquals(1, irq.risingEdges());
        assertFalse(irq.level());
        assertEquals(0, read(TestDevice.REG_IRQ));
        assertEquals(1, read(TestDevice.REG_IRQ_COUNT));
    }

    @Test
    void irqRaiseHoldsTheLevelUntilLowered() {
        write(TestDevice.REG_IRQ, TestDevice.IRQ_RAISE);
        assertTrue(irq.level());
        assertEquals(1, read(TestDevice.REG_IRQ));
        write(TestDevice.REG_IRQ, TestDevice.IRQ_LOWER);
        assertFalse(irq.level());
        assertEquals(0, read(TestDevice.REG_IRQ));
        write(TestDevice.REG_IRQ, TestDevice.IRQ_PULSE);
        mmio.write(BASE + TestDevice.REG_IRQ, 1, TestDevice.IRQ_RAISE);
        assertEquals(3, read(TestDevice.REG_IRQ_COUNT), "one raise, one pulse and a byte-wide raise");
        assertEquals(3, irq.risingEdges());
        write(TestDevice.REG_IRQ, 7);
        assertTrue(irq.level(), "an unknown command leaves the line alone");
        assertEquals(3, read(TestDevice.REG_IRQ_COUNT));
    }

    @Test
    void mmioAccessesCountsEveryAccessThisReadIncluded() {
        write(TestDevice.REG_SCRATCH, 1);
        read(TestDevice.REG_SCRATCH);
        read(0x100);
        assertEquals(4, read(TestDevice.REG_MMIO_ACCESSES));
        assertEquals(5, read(TestDevice.REG_MMIO_ACCESSES));
    }

    @Test
    void portWritesAreCountedAndReadBack() {
        for (int i = 0; i < 1000; i++) {
            pio.outl(PORT, i);
        }
        pio.outb(PORT, 1);
        assertEquals(1001, pio.inl(PORT));
        assertEquals(1001 & 0xff, pio.inb(PORT));
        pio.outl(PORT + 2, 1);
        assertEquals(0, pio.inl(PORT + 2), "the other ports read 0 and do not count");
        assertEquals(1001, device.portWrites());
    }

    @Test
    void saveAndRestoreKeepEveryRegister() throws StateException {
        write(TestDevice.REG_SCRATCH, 0xdead_beefL);
        write(TestDevice.REG_RESULT, 42);
        write(TestDevice.REG_IRQ, TestDevice.IRQ_PULSE);
        write(TestDevice.REG_IRQ, TestDevice.IRQ_RAISE);
        for (int i = 0; i < 7; i++) {
            pio.outl(PORT, 0);
        }
        long accesses = read(TestDevice.REG_MMIO_ACCESSES);
        StateWriter out = new StateWriter("testdev0", 1);
        device.saveState(out);
        device.close();

        MapIoBus mmio2 = MapIoBus.memory();
        MapIoBus pio2 = MapIoBus.ports();
        RecordingIrqLine irq2 = new RecordingIrqLine(5);
        TestDevice restored = new TestDevice("testdev0", mmio2, BASE, pio2, PORT, irq2);
        restored.restoreState(StateReader.parse(out.toBytes()));

        assertEquals(0xdead_beefL, mmio2.read(BASE + TestDevice.REG_SCRATCH, 4));
        assertEquals(42, mmio2.read(BASE + TestDevice.REG_RESULT, 4));
        assertEquals(2, mmio2.read(BASE + TestDevice.REG_IRQ_COUNT, 4));
        assertEquals(1, mmio2.read(BASE + TestDevice.REG_IRQ, 4));
        assertTrue(irq2.level(), "the raised line is driven again after the restore");
        assertEquals(7, pio2.inl(PORT));
        assertEquals(accesses + 5, mmio2.read(BASE + TestDevice.REG_MMIO_ACCESSES, 4));
    }

    @Test
    void restoreRefusesAnotherDevicesState() {
        StateWriter out = new StateWriter("com1", 1);
        out.section("uart16550", 1).putInt("ier", 0);
        write(TestDevice.REG_SCRATCH, 9);
        assertThrows(StateException.class, () -> device.restoreState(StateReader.parse(out.toBytes())));
        assertEquals(9, read(TestDevice.REG_SCRATCH), "a failed restore leaves the state as it was");
    }

    @Test
    void resetClearsEverything() {
        write(TestDevice.REG_SCRATCH, 5);
        write(TestDevice.REG_RESULT, 6);
        write(TestDevice.REG_IRQ, TestDevice.IRQ_RAISE);
        pio.outl(PORT, 0);
        device.reset();
        assertFalse(irq.level());
        assertEquals(0, read(TestDevice.REG_SCRATCH));
        assertEquals(0, read(TestDevice.REG_RESULT));
        assertEquals(0, read(TestDevice.REG_IRQ_COUNT));
        assertEquals(0, pio.inl(PORT));
        assertEquals(4, read(TestDevice.REG_MMIO_ACCESSES), "counting starts again from the reset");
        assertEquals(TestDevice.ID, read(TestDevice.REG_ID));
    }

    @Test
    void closeReleasesBothRanges() {
        assertEquals("testdev0", mmio.ownerOf(BASE + 0x10));
        assertEquals("testdev0", pio.ownerOf(PORT + 3));
        device.close();
        assertNull(mmio.ownerOf(BASE));
        assertNull(pio.ownerOf(PORT));
        assertEquals(0xffff_ffffL, mmio.read(BASE, 4), "nobody decodes the page any more");
    }

    @Test
    void aTakenPortLeavesNoMmioClaimBehind() {
        device.close();
        pio.register(PORT + 2, 1, "someone", new NoRegisters());
        assertThrows(BusConflictException.class, () -> new TestDevice("testdev1", mmio, BASE, pio, PORT, irq));
        assertNull(mmio.ownerOf(BASE), "the MMIO page is released when the ports cannot be had");
    }

    /** Another device's port. */
    private static final class NoRegisters implements org.vireo.api.bus.IoHandler {
        @Override
        public long read(long offset, int size) {
            return 0;
        }

        @Override
        public void write(long offset, int size, long value) {
        }
    }
}
