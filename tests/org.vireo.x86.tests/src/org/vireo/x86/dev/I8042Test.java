package org.vireo.x86.dev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/** The keyboard controller and its keyboard as Linux's i8042 and atkbd drivers talk to them. */
class I8042Test {

    private static final int DATA = I8042.DATA_PORT;
    private static final int STATUS = I8042.STATUS_PORT;
    private static final int OBF = 0x01;
    private static final int SYS = 0x04;
    private static final int CMD = 0x08;
    private static final int UNLOCKED = 0x10;
    private static final int AUX_OBF = 0x20;
    private static final int TIMEOUT = 0x40;

    private MapIoBus bus;
    private RecordingIrqLine kbdIrq;
    private RecordingIrqLine auxIrq;
    private AtomicInteger resets;
    private I8042 i8042;

    @BeforeEach
    void createController() {
        bus = MapIoBus.ports();
        kbdIrq = new RecordingIrqLine(1);
        auxIrq = new RecordingIrqLine(12);
        resets = new AtomicInteger();
        i8042 = new I8042(bus, kbdIrq, auxIrq, resets::incrementAndGet);
    }

    private void command(int c) {
        bus.outb(STATUS, c);
    }

    private void data(int d) {
        bus.outb(DATA, d);
    }

    /** Reads one byte the way i8042_wait_read does: OBF must be set first. */
    private int read() {
        assertTrue((bus.inb(STATUS) & OBF) != 0, "a byte should be waiting");
        return bus.inb(DATA);
    }

    private void assertEmpty() {
        assertEquals(0, bus.inb(STATUS) & OBF, "no byte should be waiting");
    }

    private List<Integer> drain() {
        List<Integer> bytes = new ArrayList<>();
        while ((bus.inb(STATUS) & OBF) != 0) {
            bytes.add(bus.inb(DATA));
        }
        return bytes;
    }

    private int commandByte() {
        command(0x20);
        return read();
    }

    private void writeCommandByte(int value) {
        command(0x60);
        data(value);
    }

    @Test
    void claimsOnlyPorts60And64() {
        assertEquals("i8042 data", bus.ownerOf(0x60));
        assertEquals("i8042 status/command", bus.ownerOf(0x64));
        assertEquals(null, bus.ownerOf(0x61), "port B belongs to the PIT/speaker logic");
    }

    @Test
    void powerOnStatusIsEmptyUnlockedAndSystemFlagged() {
        assertEquals(UNLOCKED | SYS, bus.inb(STATUS));
    }

    @Test
    void selfTestAnswers55() {
        command(0xAA);
        assertEquals(OBF | SYS | CMD | UNLOCKED, bus.inb(STATUS));
        assertEquals(0x55, read());
        assertEmpty();
    }

    @Test
    void interfaceTestsReportNoError() {
        command(0xAB);
        assertEquals(0x00, read());
        command(0xA9);
        assertEquals(0x00, read());
    }

    @Test
    void commandByteIsReadAndWritten() {
        assertEquals(0x65, commandByte(), "XLAT, AUX disabled, SYS, keyboard interrupt");
        writeCommandByte(0x47);
        assertEquals(0, bus.inb(STATUS) & CMD, "the last write went to the data port");
        assertEquals(0x47, commandByte());
        assertEquals(CMD, bus.inb(STATUS) & CMD, "the last write went to the command port");
        writeCommandByte(0x41);
        assertEquals(0, bus.inb(STATUS) & SYS, "status SYS mirrors the command byte");
    }

    @Test
    void auxAndKeyboardEnableCommandsFlipTheirCommandByteBits() {
        command(0xA8);
        assertEquals(0, commandByte() & 0x20);
        command(0xA7);
        assertEquals(0x20, commandByte() & 0x20);
        command(0xAD);
        assertEquals(0x10, commandByte() & 0x10);
        command(0xAE);
        assertEquals(0, commandByte() & 0x10);
    }

    @Test
    void auxLoopbackPutsTheByteOnTheAuxPortWithIrq12() {
        writeCommandByte(0x47); // AUX interrupt on, as i8042_check_aux does for its IRQ test
        command(0xD3);
        data(0xA5);
        assertEquals(OBF | AUX_OBF, bus.inb(STATUS) & (OBF | AUX_OBF));
        assertEquals(1, auxIrq.risingEdges());
        assertEquals(0, kbdIrq.risingEdges());
        assertEquals(0xA5, read());
    }

    @Test
    void auxDeviceCommandsTimeOutBecauseThereIsNoMouse() {
        writeCommandByte(0x47);
        command(0xD4);
        data(0xF2); // psmouse: get device id
        int status = bus.inb(STATUS);
        assertEquals(OBF | AUX_OBF | TIMEOUT, status & (OBF | AUX_OBF | TIMEOUT));
        assertEquals(0xFE, read());
        assertEquals(1, auxIrq.risingEdges());
        assertEquals(0, bus.inb(STATUS) & TIMEOUT);
    }

    @Test
    void keyboardWritesRaiseIrq1PerByteOnlyAfterThePreviousWasRead() {
        data(0xFF); // reset
        assertEquals(1, kbdIrq.risingEdges());
        assertEquals(0xFA, read());
        assertEquals(2, kbdIrq.risingEdges(), "the BAT byte arrives once the ACK was taken");
        assertEquals(0xAA, read());
        assertEmpty();
        assertEquals(2, kbdIrq.risingEdges());
    }

    @Test
    void identifyAnswersAb83WithoutTranslationAndAb41ThroughIt() {
        writeCommandByte(0x25); // Linux's i8042.direct: no XLAT
        data(0xF2);
        assertEquals(List.of(0xFA, 0xAB, 0x83), drain());
        writeCommandByte(0x65);
        data(0xF2);
        assertEquals(List.of(0xFA, 0xAB, 0x41), drain());
    }

    @Test
    void ledsTypematicAndScanCodeSetTakeAnArgument() {
        data(0xED);
        assertEquals(0xFA, read());
        data(0x07);
        assertEquals(0xFA, read());
        data(0xF3);
        assertEquals(0xFA, read());
        data(0x00);
        assertEquals(0xFA, read());
        data(0xF0);
        assertEquals(0xFA, read());
        data(0x00);
        assertEquals(List.of(0xFA, 0x41), drain(), "set 2, as translated by XLAT");
        writeCommandByte(0x25);
        data(0xF0);
        data(0x03);
        assertEquals(List.of(0xFA, 0xFA), drain());
        data(0xF0);
        data(0x00);
        assertEquals(List.of(0xFA, 0xFA, 0x03), drain(), "ACK the command, ACK the argument, the set");
        data(0xF0);
        data(0x09);
        assertEquals(List.of(0xFA, 0xFE), drain(), "no set 9");
    }

    @Test
    void echoEnableDisableAndUnknownCommands() {
        data(0xEE);
        assertEquals(List.of(0xEE), drain());
        data(0xF5);
        assertEquals(List.of(0xFA), drain());
        data(0xF4);
        assertEquals(List.of(0xFA), drain());
        data(0xE8); // a mouse command: the keyboard asks for a resend
        assertEquals(List.of(0xFE), drain());
    }

    @Test
    void writingToTheKeyboardReenablesItsInterface() {
        command(0xAD);
        data(0xF4);
        assertEquals(List.of(0xFA), drain());
        assertEquals(0, commandByte() & 0x10);
    }

    @Test
    void pulseCommandsWithBitZeroClearResetTheMachine() {
        command(0xFF); // pulse nothing
        command(0xF1);
        assertEquals(0, resets.get());
        command(0xFE);
        assertEquals(1, resets.get());
        command(0xF0);
        assertEquals(2, resets.get());
    }

    @Test
    void outputPortResetBitResetsTheMachine() {
        command(0xD0);
        assertEquals(0x03, read() & 0x03, "running, A20 on");
        command(0xD1);
        data(0x03);
        assertEquals(0, resets.get());
        command(0xD1);
        data(0x02);
        assertEquals(1, resets.get());
    }

    @Test
    void ctrlAltDelThroughTranslationIsSetOneWithAnEdgePerByte() {
        assertTrue(i8042.sendCtrlAltDel());
        assertEquals(1, kbdIrq.risingEdges(), "only the first byte is in the output buffer");
        List<Integer> bytes = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            assertEquals(i + 1, kbdIrq.risingEdges());
            bytes.add(read());
        }
        assertEquals(List.of(0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D), bytes);
        assertEmpty();
        assertEquals(8, kbdIrq.risingEdges());
    }

    @Test
    void ctrlAltDelWithoutTranslationIsSetTwo() {
        writeCommandByte(0x25);
        assertTrue(i8042.sendCtrlAltDel());
        assertEquals(List.of(0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14), drain());
        assertEquals(11, kbdIrq.risingEdges());
    }

    @Test
    void ctrlAltDelWaitsWhileTheKeyboardInterfaceIsDisabled() {
        command(0xAD);
        assertTrue(i8042.sendCtrlAltDel());
        assertEmpty();
        assertEquals(0, kbdIrq.risingEdges());
        command(0xAE);
        assertEquals(1, kbdIrq.risingEdges());
        assertEquals(0x1D, read());
    }

    @Test
    void ctrlAltDelIsRefusedWhileScanningIsDisabled() {
        data(0xF5);
        drain();
        assertFalse(i8042.sendCtrlAltDel());
        assertEmpty();
    }

    @Test
    void enablingTheInterruptWithAByteWaitingFiresIt() {
        writeCommandByte(0x64); // keyboard interrupt off
        command(0xD2);
        data(0x1C);
        assertEquals(0, kbdIrq.risingEdges());
        writeCommandByte(0x65);
        assertEquals(1, kbdIrq.risingEdges());
        assertEquals(0x1C, read());
    }

    @Test
    void linuxProbeSequenceFindsAControllerAuxPortAndKeyboard() {
        // i8042_controller_check: flush
        assertTrue(drain().isEmpty());
        // i8042_controller_init: read CTR twice, disable keyboard and its interrupt
        int ctr = commandByte();
        assertEquals(ctr, commandByte());
        assertEquals(UNLOCKED, bus.inb(STATUS) & UNLOCKED, "no keylock warning");
        ctr = (ctr | 0x10) & ~0x01;
        writeCommandByte(ctr);
        // i8042_check_aux: loopback, then AUX disable/enable bit test, then IRQ test
        command(0xD3);
        data(0x5A);
        assertEquals(0x5A, read());
        command(0xA7);
        assertEquals(0x20, commandByte() & 0x20);
        command(0xA8);
        assertEquals(0, commandByte() & 0x20);
        writeCommandByte((ctr & ~0x20) | 0x02);
        command(0xD3);
        data(0xA5);
        assertEquals(1, auxIrq.risingEdges());
        assertEquals(0xA5, read());
        writeCommandByte(ctr);
        // i8042_enable_kbd_port
        ctr = (ctr & ~0x10) | 0x01;
        writeCommandByte(ctr);
        // atkbd_probe: GETID, deactivate; atkbd_reset_state; activate
        data(0xF2);
        assertEquals(List.of(0xFA, 0xAB, 0x41), drain());
        data(0xF5);
        assertEquals(List.of(0xFA), drain());
        data(0xED);
        data(0x00);
        data(0xF3);
        data(0x00);
        assertEquals(List.of(0xFA, 0xFA, 0xFA, 0xFA), drain());
        data(0xF4);
        assertEquals(List.of(0xFA), drain());
        assertEquals(0, resets.get());
    }

    @Test
    void saveAndRestoreMidwayThroughCtrlAltDel() throws StateException {
        command(0xAD);
        command(0xAE);
        assertTrue(i8042.sendCtrlAltDel());
        read();
        read();
        read();
        data(0xED); // the keyboard now waits for its LED argument
        command(0x60); // and the controller for a command byte

        StateWriter out = new StateWriter("i8042", 1);
        i8042.saveState(out);
        MapIoBus bus2 = MapIoBus.ports();
        RecordingIrqLine kbd2 = new RecordingIrqLine(1);
        AtomicInteger resets2 = new AtomicInteger();
        I8042 restored = new I8042(bus2, kbd2, new RecordingIrqLine(12), resets2::incrementAndGet);
        restored.restoreState(StateReader.parse(out.toBytes()));

        int edgesBefore = kbdIrq.risingEdges();
        for (MapIoBus b : new MapIoBus[] {bus, bus2}) {
            assertEquals(OBF | CMD | UNLOCKED | SYS, b.inb(STATUS));
            b.outb(DATA, 0x45); // completes the pending 0x60 command
            List<Integer> rest = new ArrayList<>();
            while ((b.inb(STATUS) & OBF) != 0) {
                rest.add(b.inb(DATA));
            }
            assertEquals(List.of(0x53, 0xE0, 0xD3, 0xB8, 0x9D, 0xFA), rest, "scan codes, then the LED command's ACK");
            b.outb(STATUS, 0x20);
            assertEquals(0x45, b.inb(DATA));
            b.outb(DATA, 0x02); // the LED argument
            assertEquals(0xFA, b.inb(DATA));
        }
        assertEquals(kbdIrq.risingEdges() - edgesBefore, kbd2.risingEdges(), "the same interrupts after restore");
        restored.close();
    }
}
