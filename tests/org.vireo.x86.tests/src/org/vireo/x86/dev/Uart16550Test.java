package org.vireo.x86.dev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/** The 16550A as Linux's 8250 driver probes and drives it, through its I/O ports. */
class Uart16550Test {

    private static final int COM1 = Uart16550.COM1_BASE;
    private static final int RBR = COM1;
    private static final int THR = COM1;
    private static final int DLL = COM1;
    private static final int IER = COM1 + 1;
    private static final int DLM = COM1 + 1;
    private static final int IIR = COM1 + 2;
    private static final int FCR = COM1 + 2;
    private static final int LCR = COM1 + 3;
    private static final int MCR = COM1 + 4;
    private static final int LSR = COM1 + 5;
    private static final int MSR = COM1 + 6;
    private static final int SCR = COM1 + 7;

    private static final int MCR_DTR = 0x01;
    private static final int MCR_RTS = 0x02;
    private static final int MCR_OUT2 = 0x08;
    private static final int MCR_LOOP = 0x10;

    private MapIoBus bus;
    private RecordingIrqLine irq;
    private TestConsole console;
    private Uart16550 uart;

    @BeforeEach
    void createUart() {
        bus = MapIoBus.ports();
        irq = new RecordingIrqLine(Uart16550.COM1_IRQ);
        console = new TestConsole();
        uart = new Uart16550("com1", bus, COM1, irq, console);
    }

    @Test
    void claimsEightPortsAtCom1() {
        assertEquals("com1", bus.ownerOf(0x3F8));
        assertEquals("com1", bus.ownerOf(0x3FF));
        assertEquals(null, bus.ownerOf(0x400));
    }

    @Test
    void scratchRegisterKeepsWhatIsWritten() {
        for (int v : new int[] {0x00, 0x55, 0xAA, 0xFF}) {
            bus.outb(SCR, v);
            assertEquals(v, bus.inb(SCR));
        }
    }

    @Test
    void interruptEnableHasFourBitsAsLinuxIerTestExpects() {
        bus.outb(IER, 0);
        assertEquals(0, bus.inb(IER) & 0x0F);
        bus.outb(IER, 0x0F);
        assertEquals(0x0F, bus.inb(IER));
        // Bit 6 (XScale UUE) and the rest do not stick on a 16550A.
        bus.outb(IER, 0xFF);
        assertEquals(0x0F, bus.inb(IER));
    }

    @Test
    void loopbackTestGivesMsr0x90() {
        bus.outb(MCR, MCR_LOOP | 0x0A);
        assertEquals(0x90, bus.inb(MSR) & 0xF0);
        bus.outb(MCR, MCR_LOOP | MCR_DTR | 0x04);
        assertEquals(0x60, bus.inb(MSR) & 0xF0, "DSR=DTR, RI=OUT1");
        bus.outb(MCR, 0);
        assertEquals(0xB0, bus.inb(MSR) & 0xF0, "out of loopback the line shows CTS, DSR and DCD");
    }

    @Test
    void fifoControlSetsIirFifoBitsAndNoSixtyFourByteBit() {
        assertEquals(0x01, bus.inb(IIR));
        bus.outb(FCR, 0x01);
        assertEquals(0xC1, bus.inb(IIR));
        assertEquals(3, bus.inb(IIR) >> 6, "Linux's autoconfig reads 3: a 16550A");
        bus.outb(FCR, 0x21);
        assertEquals(6, bus.inb(IIR) >> 5, "no TI16750 64-byte FIFO bit");
        bus.outb(FCR, 0x00);
        assertEquals(0x01, bus.inb(IIR));
    }

    @Test
    void divisorLatchRoundTripsBehindDlab() {
        bus.outb(IER, 0x05);
        bus.outb(LCR, 0x83);
        bus.outb(DLL, 0x01);
        bus.outb(DLM, 0x02);
        assertEquals(0x01, bus.inb(DLL));
        assertEquals(0x02, bus.inb(DLM));
        assertEquals(0x83, bus.inb(LCR));
        bus.outb(LCR, 0x03);
        assertEquals(0x05, bus.inb(IER), "IER untouched by the divisor writes");
        assertEquals("", console.printed(), "DLL writes are not transmitted");
        bus.outb(LCR, 0x80);
        assertEquals(0x01, bus.inb(DLL));
        assertEquals(0x02, bus.inb(DLM));
    }

    @Test
    void lineStatusShowsEmptyTransmitterAndNoData() {
        assertEquals(0x60, bus.inb(LSR));
    }

    @Test
    void transmittedBytesReachTheConsole() {
        for (char c : "Linux version 6.1\r\n".toCharArray()) {
            bus.outb(THR, c);
        }
        assertEquals("Linux version 6.1\r\n", console.printed());
        assertEquals(0x60, bus.inb(LSR) & 0x60, "THRE and TEMT stay set: transmission is instant");
    }

    @Test
    void thrEmptyInterruptIsRaisedByIerAndClearedByReadingIir() {
        bus.outb(MCR, MCR_OUT2);
        bus.outb(IER, 0x02);
        assertTrue(irq.level());
        assertEquals(0x02, bus.inb(IIR));
        assertFalse(irq.level(), "reading IIR with THRE as the source clears it");
        assertEquals(0x01, bus.inb(IIR));
        // Linux's UART_BUG_THRE check: disabling and re-enabling ETBEI must raise THRE again.
        bus.outb(IER, 0x00);
        bus.outb(IER, 0x02);
        assertEquals(0x02, bus.inb(IIR));
        // A byte written leaves at once, and THRE is pending again.
        bus.outb(THR, 'x');
        assertTrue(irq.level());
        assertEquals(0x02, bus.inb(IIR));
        assertEquals(3, irq.risingEdges());
    }

    @Test
    void out2GatesTheInterruptLine() {
        bus.outb(IER, 0x02);
        assertEquals(0x02, bus.inb(IIR) & 0x0F, "the condition is pending inside the UART");
        bus.outb(IER, 0);
        bus.outb(IER, 0x02);
        assertFalse(irq.level(), "but OUT2 is clear, so the PC's IRQ driver is off");
        bus.outb(MCR, MCR_OUT2);
        assertTrue(irq.level());
        bus.outb(MCR, MCR_OUT2 | MCR_LOOP);
        assertFalse(irq.level(), "loopback forces OUT2 inactive at the pin");
        bus.outb(MCR, MCR_OUT2);
        assertTrue(irq.level());
        bus.outb(MCR, 0);
        assertFalse(irq.level());
    }

    @Test
    void typedInputReachesTheReceiveBuffer() {
        console.type("ok");
        assertEquals(0x61, bus.inb(LSR), "DR set");
        assertEquals('o', bus.inb(RBR));
        assertEquals('k', bus.inb(RBR));
        assertEquals(0x60, bus.inb(LSR));
    }

    @Test
    void inputIsPulledOnlyAsTheFifoHasRoom() {
        bus.outb(FCR, 0x01);
        String text = "the quick brown fox jumps over the lazy dog";
        console.type(text);
        assertEquals(text.length() - 16, console.pendingInput(), "16 bytes taken, the rest waits");
        StringBuilder received = new StringBuilder();
        while ((bus.inb(LSR) & 0x01) != 0) {
            received.append((char) bus.inb(RBR));
        }
        assertEquals(text, received.toString());
        assertEquals(0x60, bus.inb(LSR), "never an overrun");
    }

    @Test
    void withoutFifoOneByteIsHeld() {
        console.type("abc");
        assertEquals(2, console.pendingInput());
        assertEquals('a', bus.inb(RBR));
        assertEquals('b', bus.inb(RBR));
        assertEquals('c', bus.inb(RBR));
    }

    @Test
    void receiveTriggerLevelsAndCharacterTimeout() {
        bus.outb(MCR, MCR_OUT2);
        bus.outb(IER, 0x01);
        bus.outb(FCR, 0x81); // FIFO on, trigger 8
        console.type("12345");
        assertEquals(0xCC, bus.inb(IIR), "below the trigger: character timeout");
        assertTrue(irq.level());
        console.type("678");
        assertEquals(0xC4, bus.inb(IIR), "at the trigger: received data available");
        bus.inb(RBR);
        assertEquals(0xCC, bus.inb(IIR));
        bus.outb(FCR, 0xC3); // trigger 14, clear RX
        assertEquals(0xC1, bus.inb(IIR));
        assertFalse(irq.level());
        console.type("abcdefghijklm");
        assertEquals(0xCC, bus.inb(IIR), "13 bytes, below 14");
        console.type("n");
        assertEquals(0xC4, bus.inb(IIR));
        bus.outb(FCR, 0x41); // trigger 4
        assertEquals(0xC4, bus.inb(IIR));
        bus.outb(FCR, 0x07); // trigger 1, both FIFOs cleared
        console.type("z");
        assertEquals(0xC4, bus.inb(IIR), "trigger 1: one byte is enough");
        assertEquals('z', bus.inb(RBR));
        assertEquals(0xC1, bus.inb(IIR));
    }

    @Test
    void loopbackOverrunsTheFifoAndReadingLsrClearsOe() {
        bus.outb(FCR, 0x01);
        bus.outb(MCR, MCR_LOOP);
        bus.outb(IER, 0x04);
        for (int i = 0; i < 17; i++) {
            bus.outb(THR, i);
        }
        assertEquals("", console.printed(), "loopback output never reaches the line");
        assertEquals(0xC6, bus.inb(IIR), "receiver line status is the top priority");
        assertEquals(0x63, bus.inb(LSR), "DR and OE");
        assertEquals(0x61, bus.inb(LSR), "OE cleared by the read");
        assertEquals(0xC1, bus.inb(IIR));
        for (int i = 0; i < 16; i++) {
            assertEquals(i, bus.inb(RBR), "the FIFO kept the first 16; the 17th was lost");
        }
        assertEquals(0x60, bus.inb(LSR));
    }

    @Test
    void withoutFifoAnOverrunReplacesTheHeldByte() {
        bus.outb(MCR, MCR_LOOP);
        bus.outb(THR, 'a');
        bus.outb(THR, 'b');
        assertEquals(0x63, bus.inb(LSR));
        assertEquals('b', bus.inb(RBR));
    }

    @Test
    void interruptPriorityLineStatusThenDataThenThrThenModem() {
        bus.outb(FCR, 0x01);
        bus.outb(MCR, MCR_LOOP);
        assertEquals(0x0B, bus.inb(MSR), "entering loopback drops CTS, DSR and DCD: three deltas");
        bus.outb(IER, 0x0F);
        bus.outb(MCR, MCR_LOOP | MCR_RTS); // CTS rises: modem status pending
        for (int i = 0; i < 17; i++) {
            bus.outb(THR, 'x');
        }
        assertEquals(0xC6, bus.inb(IIR));
        bus.inb(LSR);
        assertEquals(0xC4, bus.inb(IIR));
        while ((bus.inb(LSR) & 1) != 0) {
            bus.inb(RBR);
        }
        assertEquals(0xC2, bus.inb(IIR));
        assertEquals(0xC0, bus.inb(IIR), "THRE cleared by the IIR read, modem status next");
        assertEquals(0x11, bus.inb(MSR), "CTS with its delta bit");
        assertEquals(0x10, bus.inb(MSR), "delta cleared by the read");
        assertEquals(0xC1, bus.inb(IIR));
    }

    @Test
    void trailingEdgeOfRingIndicatorIsReported() {
        bus.outb(MCR, MCR_LOOP);
        bus.inb(MSR);
        bus.outb(MCR, MCR_LOOP | 0x04);
        assertEquals(0x40, bus.inb(MSR), "RI on, no TERI for a rising edge");
        bus.outb(MCR, MCR_LOOP);
        assertEquals(0x04, bus.inb(MSR));
    }

    @Test
    void saveAndRestoreCarryRegistersFifoAndPendingInterrupts() throws StateException {
        bus.outb(LCR, 0x80);
        bus.outb(DLL, 0x0C);
        bus.outb(DLM, 0x01);
        bus.outb(LCR, 0x1B);
        bus.outb(FCR, 0x81);
        bus.outb(SCR, 0x5A);
        bus.outb(MCR, MCR_OUT2 | MCR_DTR | MCR_RTS);
        bus.outb(IER, 0x03);
        console.type("hello");

        StateWriter out = new StateWriter("com1", 1);
        uart.saveState(out);

        MapIoBus bus2 = MapIoBus.ports();
        RecordingIrqLine irq2 = new RecordingIrqLine(4);
        TestConsole console2 = new TestConsole();
        Uart16550 restored = new Uart16550("com1", bus2, COM1, irq2, console2);
        restored.restoreState(StateReader.parse(out.toBytes()));

        for (MapIoBus b : new MapIoBus[] {bus, bus2}) {
            assertEquals(0x1B, b.inb(LCR));
            assertEquals(0x0B, b.inb(MCR));
            assertEquals(0x5A, b.inb(SCR));
            assertEquals(0x03, b.inb(IER));
        }
        assertEquals(irq.level(), irq2.level());
        assertTrue(irq2.level());
        assertEquals(0xCC, bus2.inb(IIR), "five bytes below trigger 8, as before");
        assertEquals(bus.inb(IIR), 0xCC);
        StringBuilder a = new StringBuilder();
        StringBuilder b = new StringBuilder();
        while ((bus.inb(LSR) & 1) != 0) {
            a.append((char) bus.inb(RBR));
        }
        while ((bus2.inb(LSR) & 1) != 0) {
            b.append((char) bus2.inb(RBR));
        }
        assertEquals("hello", b.toString());
        assertEquals(a.toString(), b.toString());
        assertEquals(0xC2, bus2.inb(IIR), "THRE still pending after the data was drained");
        bus2.outb(LCR, 0x9B);
        assertEquals(0x0C, bus2.inb(DLL));
        assertEquals(0x01, bus2.inb(DLM));
        bus2.outb(LCR, 0x1B);
        bus2.outb(THR, '!');
        assertEquals("!", console2.printed());
    }

    @Test
    void restoreRefusesAnotherDevicesState() {
        StateWriter out = new StateWriter("rtc", 1);
        out.section("cmos-rtc", 1).putInt("registerA", 0x26);
        assertThrows(StateException.class, () -> uart.restoreState(StateReader.parse(out.toBytes())));
        assertEquals(0x60, bus.inb(LSR), "the UART is untouched");
    }

    @Test
    void resetKeepsDivisorAndScratch() {
        bus.outb(LCR, 0x80);
        bus.outb(DLL, 0x30);
        bus.outb(LCR, 0x03);
        bus.outb(SCR, 0x42);
        bus.outb(IER, 0x0F);
        bus.outb(MCR, MCR_OUT2);
        uart.reset();
        assertEquals(0, bus.inb(IER));
        assertEquals(0, bus.inb(MCR));
        assertEquals(0x42, bus.inb(SCR));
        bus.outb(LCR, 0x80);
        assertEquals(0x30, bus.inb(DLL));
        assertFalse(irq.level());
    }

    @Test
    void inputFromAnotherThreadArrivesCompleteAndInOrder() throws InterruptedException {
        bus.outb(FCR, 0x01);
        StringBuilder expected = new StringBuilder();
        for (int i = 0; i < 2000; i++) {
            expected.append((char) ('a' + i % 26));
        }
        Thread typist = new Thread(() -> {
            for (int i = 0; i < expected.length(); i += 7) {
                console.type(expected.substring(i, Math.min(expected.length(), i + 7)));
            }
        });
        typist.start();
        StringBuilder received = new StringBuilder();
        long deadline = System.currentTimeMillis() + 10_000;
        while (received.length() < expected.length() && System.currentTimeMillis() < deadline) {
            if ((bus.inb(LSR) & 0x01) != 0) {
                received.append((char) bus.inb(RBR));
            }
        }
        typist.join();
        assertEquals(expected.toString(), received.toString());
    }

    @Test
    void closeReleasesThePorts() {
        uart.close();
        assertEquals(0, bus.size());
        assertEquals(0xFF, bus.inb(LSR));
    }
}
