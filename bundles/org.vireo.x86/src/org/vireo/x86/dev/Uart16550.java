package org.vireo.x86.dev;

import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;
import org.vireo.api.device.ConsoleChannel;
import org.vireo.api.device.Device;
import org.vireo.api.irq.IrqLine;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * A 16550A UART (National Semiconductor / TI PC16550D datasheet) as the PC's COM ports have
 * it and Linux's 8250 driver probes it: scratch register, IER bits 0-3 only, the loopback
 * test, FIFO bits 0xC0 in IIR once FCR enables the FIFOs, and a THRE interrupt that fires
 * again whenever IER enables it while the transmitter is empty.
 *
 * <p>Transmission is instantaneous: a byte written to THR goes to the {@link ConsoleChannel}
 * at once, THRE and TEMT never clear, and the THRE interrupt is pending again right after the
 * write, as it is on hardware once the byte has left. Reception pulls bytes from the channel
 * while the receive FIFO has room (16 bytes, or 1 with the FIFOs off), so input is never
 * overrun; in loopback mode the transmitter feeds the receiver and overruns are possible.
 * The character-timeout interrupt is reported as soon as data sits below the trigger level,
 * without waiting four character times, which Linux handles like any timeout.
 *
 * <p>The interrupt output is a level: high while an enabled condition is pending, gated by
 * OUT2 (on a PC, OUT2 enables the IRQ driver) and forced off in loopback mode, where the
 * datasheet puts the modem outputs (OUT2 among them) in their inactive state.
 *
 * <p>Register access comes from vCPU threads and input notifications from the console's
 * thread; everything is serialized on this object.
 */
public final class Uart16550 implements Device {

    public static final int COM1_BASE = 0x3F8;
    public static final int COM1_IRQ = 4;
    public static final int COM2_BASE = 0x2F8;
    public static final int COM2_IRQ = 3;
    /** Number of I/O ports the UART decodes. */
    public static final int PORTS = 8;
    public static final int FIFO_SIZE = 16;

    // Register offsets, PC16550D table II. With LCR.DLAB set, 0 and 1 are the divisor latch.
    private static final int RBR_THR = 0;
    private static final int IER = 1;
    private static final int IIR_FCR = 2;
    private static final int LCR = 3;
    private static final int MCR = 4;
    private static final int LSR = 5;
    private static final int MSR = 6;
    private static final int SCR = 7;

    private static final int IER_RECEIVED_DATA = 0x01;
    private static final int IER_THR_EMPTY = 0x02;
    private static final int IER_LINE_STATUS = 0x04;
    private static final int IER_MODEM_STATUS = 0x08;
    private static final int IER_MASK = 0x0F;

    // IIR interrupt identification, highest priority first (PC16550D table IV).
    private static final int IIR_NONE = 0x01;
    private static final int IIR_LINE_STATUS = 0x06;
    private static final int IIR_RECEIVED_DATA = 0x04;
    private static final int IIR_CHARACTER_TIMEOUT = 0x0C;
    private static final int IIR_THR_EMPTY = 0x02;
    private static final int IIR_MODEM_STATUS = 0x00;
    private static final int IIR_FIFOS_ENABLED = 0xC0;

    private static final int FCR_ENABLE = 0x01;
    private static final int FCR_CLEAR_RX = 0x02;
    private static final int FCR_DMA_MODE = 0x08;
    private static final int FCR_TRIGGER = 0xC0;
    private static final int[] TRIGGER_LEVELS = {1, 4, 8, 14};

    private static final int LCR_DLAB = 0x80;

    private static final int MCR_DTR = 0x01;
    private static final int MCR_RTS = 0x02;
    private static final int MCR_OUT1 = 0x04;
    private static final int MCR_OUT2 = 0x08;
    private static final int MCR_LOOP = 0x10;
    private static final int MCR_MASK = 0x1F;

    private static final int LSR_DATA_READY = 0x01;
    private static final int LSR_OVERRUN = 0x02;
    private static final int LSR_THR_EMPTY = 0x20;
    private static final int LSR_TRANSMITTER_EMPTY = 0x40;

    private static final int MSR_DELTA_CTS = 0x01;
    private static final int MSR_DELTA_DSR = 0x02;
    private static final int MSR_TRAILING_RI = 0x04;
    private static final int MSR_DELTA_DCD = 0x08;
    private static final int MSR_CTS = 0x10;
    private static final int MSR_DSR = 0x20;
    private static final int MSR_RI = 0x40;
    private static final int MSR_DCD = 0x80;
    /** What a terminal on the line presents: clear to send, data set ready, carrier. */
    private static final int MSR_CONNECTED = MSR_CTS | MSR_DSR | MSR_DCD;

    private static final String STATE_SECTION = "uart16550";
    private static final int STATE_VERSION = 1;

    private final String id;
    private final IrqLine irq;
    private final ConsoleChannel console;
    private final IoBus.Registration registration;
    private final byte[] one = new byte[1];

    private final byte[] rx = new byte[FIFO_SIZE];
    private int rxHead;
    private int rxCount;
    private int ier;
    private int lcr;
    private int mcr;
    private int scr;
    private int dll = 0x0C;
    private int dlm;
    private boolean fifoEnabled;
    /** FCR bits kept: trigger level and DMA mode select. */
    private int fcr;
    private boolean overrun;
    private boolean thrInterruptPending;
    /** Modem status inputs (bits 4-7) and the delta bits (0-3) not yet read. */
    private int modemInputs = MSR_CONNECTED;
    private int modemDeltas;
    private boolean irqLevel;
    private boolean closed;

    /**
     * Creates the UART and claims {@code base .. base + 7} on {@code portIo}.
     *
     * @param id the device id ("com1"), also the bus owner name
     * @param irq the line the UART's interrupt output drives (GSI 4 for COM1)
     * @param console where transmitted bytes go and received bytes come from
     */
    public Uart16550(String id, IoBus portIo, int base, IrqLine irq, ConsoleChannel console) {
        this.id = id;
        this.irq = irq;
        this.console = console;
        this.registration = portIo.register(base, PORTS, id, new Registers());
        console.onInput(this::inputAvailable);
    }

    @Override
    public String id() {
        return id;
    }

    /** Master reset (PC16550D table I): everything but the divisor latch and scratch register. */
    @Override
    public synchronized void reset() {
        ier = 0;
        lcr = 0;
        mcr = 0;
        fcr = 0;
        fifoEnabled = false;
        overrun = false;
        thrInterruptPending = false;
        modemInputs = MSR_CONNECTED;
        modemDeltas = 0;
        clearReceiver();
        pullInput();
        updateIrq();
    }

    @Override
    public synchronized void close() {
        closed = true;
        registration.close();
        if (irqLevel) {
            irqLevel = false;
            irq.set(false);
        }
    }

    private synchronized void inputAvailable() {
        if (!closed) {
            pullInput();
            updateIrq();
        }
    }

    // ---------------------------------------------------------------- registers

    private int readRegister(int reg) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        return switch (reg) {
            case RBR_THR -> dlab ? dll : readReceiver();
            case IER -> dlab ? dlm : ier;
            case IIR_FCR -> readInterruptIdentification();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> readLineStatus();
            case MSR -> readModemStatus();
            default -> scr;
        };
    }

    private void writeRegister(int reg, int value) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch (reg) {
            case RBR_THR -> {
                if (dlab) {
                    dll = value;
                } else {
                    transmit(value);
                }
            }
            case IER -> {
                if (dlab) {
                    dlm = value;
                } else {
                    writeInterruptEnable(value);
                }
            }
            case IIR_FCR -> writeFifoControl(value);
            case LCR -> lcr = value;
            case MCR -> writeModemControl(value);
            case SCR -> scr = value;
            default -> {
                // LSR and MSR writes are the chip's factory test mode: ignored.
            }
        }
    }

    private int readReceiver() {
        if (rxCount == 0) {
            return 0;
        }
        int b = rx[rxHead] & 0xFF;
        rxHead = (rxHead + 1) % FIFO_SIZE;
        rxCount--;
        pullInput();
        return b;
    }

    private int readInterruptIdentification() {
        pullInput();
        int cause = pendingInterrupt();
        if (cause == IIR_THR_EMPTY) {
            // Reading IIR when THRE is the source clears it (PC16550D table IV).
            thrInterruptPending = false;
        }
        return cause | (fifoEnabled ? IIR_FIFOS_ENABLED : 0);
    }

    private int readLineStatus() {
        pullInput();
        int lsr = LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
        if (rxCount > 0) {
            lsr |= LSR_DATA_READY;
        }
        if (overrun) {
            lsr |= LSR_OVERRUN;
            overrun = false;
        }
        return lsr;
    }

    private int readModemStatus() {
        int msr = modemInputs | modemDeltas;
        modemDeltas = 0;
        return msr;
    }

    private void transmit(int value) {
        if ((mcr & MCR_LOOP) != 0) {
            receive(value);
        } else {
            one[0] = (byte) value;
            console.output(one, 0, 1);
        }
        // The byte left at once, so THR is empty again and says so.
        thrInterruptPending = true;
    }

    private void writeInterruptEnable(int value) {
        int next = value & IER_MASK;
        int changed = ier ^ next;
        ier = next;
        if ((changed & IER_THR_EMPTY) != 0) {
            // Enabling ETBEI with THR empty raises the THRE interrupt; Linux's startup checks it.
            thrInterruptPending = (next & IER_THR_EMPTY) != 0;
        }
    }

    private void writeFifoControl(int value) {
        boolean enable = (value & FCR_ENABLE) != 0;
        if (enable != fifoEnabled) {
            // Changing FCR0 clears both FIFOs.
            fifoEnabled = enable;
            clearReceiver();
        }
        if (enable) {
            // The other bits are only programmed together with FCR0 set.
            if ((value & FCR_CLEAR_RX) != 0) {
                clearReceiver();
            }
            fcr = value & (FCR_TRIGGER | FCR_DMA_MODE);
        }
        pullInput();
    }

    private void writeModemControl(int value) {
        mcr = value & MCR_MASK;
        int inputs;
        if ((mcr & MCR_LOOP) != 0) {
            // Loopback (PC16550D §8.6): RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
            inputs = ((mcr & MCR_RTS) != 0 ? MSR_CTS : 0)
                    | ((mcr & MCR_DTR) != 0 ? MSR_DSR : 0)
                    | ((mcr & MCR_OUT1) != 0 ? MSR_RI : 0)
                    | ((mcr & MCR_OUT2) != 0 ? MSR_DCD : 0);
        } else {
            inputs = MSR_CONNECTED;
        }
        int changed = modemInputs ^ inputs;
        // DCTS, DDSR and DDCD flag any change; TERI only RI going inactive.
        modemDeltas |= (changed >>> 4) & (MSR_DELTA_CTS | MSR_DELTA_DSR | MSR_DELTA_DCD);
        if ((modemInputs & MSR_RI) != 0 && (inputs & MSR_RI) == 0) {
            modemDeltas |= MSR_TRAILING_RI;
        }
        modemInputs = inputs;
        pullInput();
    }

    // ---------------------------------------------------------------- receiver and interrupts

    private int capacity() {
        return fifoEnabled ? FIFO_SIZE : 1;
    }

    private int triggerLevel() {
        return fifoEnabled ? TRIGGER_LEVELS[(fcr & FCR_TRIGGER) >>> 6] : 1;
    }

    private void clearReceiver() {
        rxHead = 0;
        rxCount = 0;
    }

    private void receive(int value) {
        if (rxCount == capacity()) {
            overrun = true;
            if (!fifoEnabled) {
                // 16450 mode: the new character overwrites the holding register.
                rx[rxHead] = (byte) value;
            }
            // FIFO mode: the character in the shift register is lost, the FIFO kept.
            return;
        }
        rx[(rxHead + rxCount) % FIFO_SIZE] = (byte) value;
        rxCount++;
    }

    /** Takes input from the console while there is room; the line is disconnected in loopback. */
    private void pullInput() {
        if (closed || (mcr & MCR_LOOP) != 0) {
            return;
        }
        while (rxCount < capacity()) {
            int c = console.readInput();
            if (c < 0) {
                return;
            }
            receive(c & 0xFF);
        }
    }

    /** The IIR identification of the highest-priority enabled interrupt, or IIR_NONE. */
    private int pendingInterrupt() {
        if ((ier & IER_LINE_STATUS) != 0 && overrun) {
            return IIR_LINE_STATUS;
        }
        if ((ier & IER_RECEIVED_DATA) != 0 && rxCount > 0) {
            return rxCount >= triggerLevel() ? IIR_RECEIVED_DATA : IIR_CHARACTER_TIMEOUT;
        }
        if ((ier & IER_THR_EMPTY) != 0 && thrInterruptPending) {
            return IIR_THR_EMPTY;
        }
        if ((ier & IER_MODEM_STATUS) != 0 && modemDeltas != 0) {
            return IIR_MODEM_STATUS;
        }
        return IIR_NONE;
    }

    private void updateIrq() {
        boolean level = pendingInterrupt() != IIR_NONE && (mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    // ---------------------------------------------------------------- save / restore

    @Override
    public synchronized void saveState(StateWriter out) {
        StateWriter s = out.section(STATE_SECTION, STATE_VERSION);
        byte[] fifo = new byte[rxCount];
        for (int i = 0; i < rxCount; i++) {
            fifo[i] = rx[(rxHead + i) % FIFO_SIZE];
        }
        s.putBytes("rx", fifo);
        s.putInt("ier", ier);
        s.putInt("lcr", lcr);
        s.putInt("mcr", mcr);
        s.putInt("scr", scr);
        s.putInt("dll", dll);
        s.putInt("dlm", dlm);
        s.putBoolean("fifoEnabled", fifoEnabled);
        s.putInt("fcr", fcr);
        s.putBoolean("overrun", overrun);
        s.putBoolean("thrInterruptPending", thrInterruptPending);
        s.putInt("modemInputs", modemInputs);
        s.putInt("modemDeltas", modemDeltas);
    }

    @Override
    public synchronized void restoreState(StateReader in) throws StateException {
        StateReader s = in.section(STATE_SECTION).expect(STATE_SECTION, 1, STATE_VERSION);
        byte[] fifo = s.getBytes("rx");
        boolean savedFifoEnabled = s.getBoolean("fifoEnabled");
        if (fifo.length > (savedFifoEnabled ? FIFO_SIZE : 1)) {
            throw new StateException("state of " + id + " holds " + fifo.length
                    + " received bytes, more than its receive buffer");
        }
        int savedIer = s.getInt("ier");
        int savedLcr = s.getInt("lcr");
        int savedMcr = s.getInt("mcr");
        int savedScr = s.getInt("scr");
        int savedDll = s.getInt("dll");
        int savedDlm = s.getInt("dlm");
        int savedFcr = s.getInt("fcr");
        boolean savedOverrun = s.getBoolean("overrun");
        boolean savedThr = s.getBoolean("thrInterruptPending");
        int savedInputs = s.getInt("modemInputs");
        int savedDeltas = s.getInt("modemDeltas");

        System.arraycopy(fifo, 0, rx, 0, fifo.length);
        rxHead = 0;
        rxCount = fifo.length;
        ier = savedIer & IER_MASK;
        lcr = savedLcr & 0xFF;
        mcr = savedMcr & MCR_MASK;
        scr = savedScr & 0xFF;
        dll = savedDll & 0xFF;
        dlm = savedDlm & 0xFF;
        fifoEnabled = savedFifoEnabled;
        fcr = savedFcr & (FCR_TRIGGER | FCR_DMA_MODE);
        overrun = savedOverrun;
        thrInterruptPending = savedThr;
        modemInputs = savedInputs & 0xF0;
        modemDeltas = savedDeltas & 0x0F;
        updateIrq();
    }

    /** The eight ports, byte registers; a wider access is split into byte accesses as the ISA bus does. */
    private final class Registers implements IoHandler {

        @Override
        public long read(long offset, int size) {
            synchronized (Uart16550.this) {
                long value = 0;
                for (int i = 0; i < size; i++) {
                    int reg = (int) offset + i;
                    int b = reg < PORTS ? readRegister(reg) : 0xFF;
                    value |= (long) (b & 0xFF) << (8 * i);
                }
                updateIrq();
                return value;
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (Uart16550.this) {
                for (int i = 0; i < size; i++) {
                    int reg = (int) offset + i;
                    if (reg < PORTS) {
                        writeRegister(reg, (int) (value >>> (8 * i)) & 0xFF);
                    }
                }
                updateIrq();
            }
        }
    }
}
