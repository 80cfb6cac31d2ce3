package org.vireo.x86.dev;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;

import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;
import org.vireo.api.device.Device;
import org.vireo.api.irq.IrqLine;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The PC keyboard controller (Intel 8042 as the IBM PC/AT and PS/2 technical references
 * describe it) with a minimal AT keyboard behind it and no mouse: port 0x60 data, port 0x64
 * status (read) and command (write); keyboard interrupt IRQ1, auxiliary IRQ12.
 *
 * <p>Enough of it for Linux: the i8042 driver's self-test, command byte, AUX loop and
 * interface tests find a controller with an AUX port; atkbd's probe finds a keyboard
 * (identify gives AB 83, or AB 41 through XLAT translation as a real controller passes it);
 * psmouse's commands to the AUX device get 0xFE with the status timeout bit, which is what a
 * PC without a mouse answers and what Linux takes as "no device" without retrying.
 *
 * <p>The controller's single output buffer is fed from two queues: the controller's own
 * replies first, then the keyboard's bytes (held while the command byte disables the
 * keyboard interface). When a byte reaches the output buffer the matching interrupt is
 * pulsed if the command byte enables it; the next byte moves in only after the guest read
 * the previous one.
 *
 * <p>The reset line: output-port bit 0 written as 0 (command 0xD1) or a pulse command
 * 0xF0-0xFF with bit 0 clear (0xFE is the classic one) calls the reset callback, outside the
 * device's lock. A20 is not gated: guest memory is always linear.
 */
public final class I8042 implements Device {

    public static final int DATA_PORT = 0x60;
    public static final int STATUS_PORT = 0x64;
    public static final int KEYBOARD_IRQ = 1;
    public static final int AUX_IRQ = 12;

    // Status register (read 0x64).
    private static final int STATUS_OUTPUT_FULL = 0x01;
    private static final int STATUS_SYSTEM = 0x04;
    private static final int STATUS_LAST_WAS_COMMAND = 0x08;
    /** "Keyboard not inhibited" by the front-panel key lock. */
    private static final int STATUS_UNLOCKED = 0x10;
    private static final int STATUS_AUX_OUTPUT_FULL = 0x20;
    private static final int STATUS_TIMEOUT = 0x40;

    // Command byte (controller RAM byte 0).
    private static final int CTR_KEYBOARD_INTERRUPT = 0x01;
    private static final int CTR_AUX_INTERRUPT = 0x02;
    private static final int CTR_SYSTEM = 0x04;
    private static final int CTR_KEYBOARD_DISABLED = 0x10;
    private static final int CTR_AUX_DISABLED = 0x20;
    private static final int CTR_TRANSLATE = 0x40;
    /** What a BIOS leaves behind on a PC without a mouse: translated keyboard with interrupt, AUX off. */
    private static final int CTR_POWER_ON = CTR_TRANSLATE | CTR_AUX_DISABLED | CTR_SYSTEM | CTR_KEYBOARD_INTERRUPT;

    // Output port (commands 0xD0/0xD1).
    private static final int OUTPUT_PORT_RESET = 0x01;
    private static final int OUTPUT_PORT_A20 = 0x02;
    private static final int OUTPUT_PORT_KEYBOARD_FULL = 0x10;
    private static final int OUTPUT_PORT_AUX_FULL = 0x20;

    // Controller commands.
    private static final int CMD_READ_RAM = 0x20;
    private static final int CMD_WRITE_RAM = 0x60;
    private static final int CMD_AUX_DISABLE = 0xA7;
    private static final int CMD_AUX_ENABLE = 0xA8;
    private static final int CMD_AUX_TEST = 0xA9;
    private static final int CMD_SELF_TEST = 0xAA;
    private static final int CMD_KEYBOARD_TEST = 0xAB;
    private static final int CMD_KEYBOARD_DISABLE = 0xAD;
    private static final int CMD_KEYBOARD_ENABLE = 0xAE;
    private static final int CMD_READ_OUTPUT_PORT = 0xD0;
    private static final int CMD_WRITE_OUTPUT_PORT = 0xD1;
    private static final int CMD_WRITE_KEYBOARD_BUFFER = 0xD2;
    private static final int CMD_WRITE_AUX_BUFFER = 0xD3;
    private static final int CMD_WRITE_AUX_DEVICE = 0xD4;
    private static final int CMD_PULSE_OUTPUT = 0xF0;
    private static final int SELF_TEST_PASSED = 0x55;

    // Keyboard commands and replies (IBM PS/2 keyboard technical reference).
    private static final int KBD_SET_LEDS = 0xED;
    private static final int KBD_ECHO = 0xEE;
    private static final int KBD_SCANCODE_SET = 0xF0;
    private static final int KBD_IDENTIFY = 0xF2;
    private static final int KBD_TYPEMATIC = 0xF3;
    private static final int KBD_ENABLE = 0xF4;
    private static final int KBD_DISABLE = 0xF5;
    private static final int KBD_DEFAULTS = 0xF6;
    private static final int KBD_SET3_FIRST = 0xF7;
    private static final int KBD_SET3_LAST = 0xFD;
    private static final int KBD_RESEND = 0xFE;
    private static final int KBD_RESET = 0xFF;
    private static final int ACK = 0xFA;
    private static final int BAT_PASSED = 0xAA;
    private static final int RESEND = 0xFE;
    private static final int TYPEMATIC_DEFAULT = 0x2B;

    private static final int QUEUE_LIMIT = 16;

    // Ctrl, Alt, Delete pressed then released, in each scan code set.
    private static final int[] CTRL_ALT_DEL_SET1 = {0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D};
    private static final int[] CTRL_ALT_DEL_SET2 = {0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14};
    private static final int[] CTRL_ALT_DEL_SET3 = {0x11, 0x19, 0x64, 0xF0, 0x64, 0xF0, 0x19, 0xF0, 0x11};

    private static final String STATE_SECTION = "i8042";
    private static final int STATE_VERSION = 1;

    private final IrqLine keyboardIrq;
    private final IrqLine auxIrq;
    private final Runnable resetRequest;
    private final IoBus.Registration dataRegistration;
    private final IoBus.Registration commandRegistration;

    /** Controller RAM; byte 0 is the command byte. */
    private final byte[] ram = new byte[32];
    private int outputPort = OUTPUT_PORT_RESET | OUTPUT_PORT_A20;
    /** The controller command waiting for its data byte on port 0x60, or 0. */
    private int pendingCommand;
    private boolean lastWasCommand;
    /** The byte in the output buffer: data | AUX | TIMEOUT flags, or -1 when empty. */
    private int outputBuffer = -1;
    private int lastRead;
    private final ArrayDeque<Integer> controllerQueue = new ArrayDeque<>();
    private final ArrayDeque<Integer> keyboardQueue = new ArrayDeque<>();

    // The keyboard.
    private int scancodeSet = 2;
    private boolean scanning = true;
    private int leds;
    private int typematic = TYPEMATIC_DEFAULT;
    /** The keyboard command waiting for its argument, or 0. */
    private int keyboardPending;
    private int keyboardLastSent = ACK;

    /** Flags carried with a queued byte, above its 8 data bits. */
    private static final int FROM_AUX = 0x100;
    private static final int TIMED_OUT = 0x200;

    /**
     * Creates the controller on ports 0x60 and 0x64.
     *
     * @param keyboardIrq ISA IRQ 1
     * @param auxIrq ISA IRQ 12
     * @param resetRequest called when the guest pulls the CPU reset line; the board connects it
     *        to {@code Machine.requestStop(RESET, ...)}
     */
    public I8042(IoBus portIo, IrqLine keyboardIrq, IrqLine auxIrq, Runnable resetRequest) {
        this.keyboardIrq = keyboardIrq;
        this.auxIrq = auxIrq;
        this.resetRequest = resetRequest;
        ram[0] = (byte) CTR_POWER_ON;
        this.dataRegistration = portIo.register(DATA_PORT, 1, "i8042 data", new Port(false));
        this.commandRegistration = portIo.register(STATUS_PORT, 1, "i8042 status/command", new Port(true));
    }

    @Override
    public String id() {
        return "i8042";
    }

    @Override
    public synchronized void reset() {
        Arrays.fill(ram, (byte) 0);
        ram[0] = (byte) CTR_POWER_ON;
        outputPort = OUTPUT_PORT_RESET | OUTPUT_PORT_A20;
        pendingCommand = 0;
        lastWasCommand = false;
        outputBuffer = -1;
        lastRead = 0;
        controllerQueue.clear();
        keyboardQueue.clear();
        resetKeyboard();
        keyboardPending = 0;
        keyboardLastSent = ACK;
    }

    @Override
    public void close() {
        dataRegistration.close();
        commandRegistration.close();
    }

    /**
     * Presses and releases Ctrl, Alt and Delete: the host's graceful shutdown request. The
     * scan codes are those the guest expects: set 1 while the controller translates (Linux's
     * setting), else the keyboard's current set.
     *
     * @return false if the keyboard is disabled by the guest or its buffer is full
     */
    public synchronized boolean sendCtrlAltDel() {
        if (!scanning) {
            return false;
        }
        int[] codes;
        if ((commandByte() & CTR_TRANSLATE) != 0 || scancodeSet == 1) {
            codes = CTRL_ALT_DEL_SET1;
        } else if (scancodeSet == 3) {
            codes = CTRL_ALT_DEL_SET3;
        } else {
            codes = CTRL_ALT_DEL_SET2;
        }
        if (keyboardQueue.size() + codes.length > QUEUE_LIMIT) {
            return false;
        }
        for (int code : codes) {
            keyboardQueue.add(code);
        }
        refill();
        return true;
    }

    // ---------------------------------------------------------------- ports

    private int commandByte() {
        return ram[0] & 0xFF;
    }

    private int readStatus() {
        int status = STATUS_UNLOCKED;
        if ((commandByte() & CTR_SYSTEM) != 0) {
            status |= STATUS_SYSTEM;
        }
        if (lastWasCommand) {
            status |= STATUS_LAST_WAS_COMMAND;
        }
        if (outputBuffer >= 0) {
            status |= STATUS_OUTPUT_FULL;
            if ((outputBuffer & FROM_AUX) != 0) {
                status |= STATUS_AUX_OUTPUT_FULL;
            }
            if ((outputBuffer & TIMED_OUT) != 0) {
                status |= STATUS_TIMEOUT;
            }
        }
        return status;
    }

    private int readData() {
        if (outputBuffer >= 0) {
            lastRead = outputBuffer & 0xFF;
            outputBuffer = -1;
            refill();
        }
        // An empty buffer reads as the last byte again, as on the real controller.
        return lastRead;
    }

    /** @return whether the guest asked for a CPU reset */
    private boolean writeCommand(int command) {
        lastWasCommand = true;
        pendingCommand = 0;
        if (command >= CMD_READ_RAM && command < CMD_READ_RAM + 0x20) {
            reply(ram[command & 0x1F] & 0xFF, 0);
            return false;
        }
        if (command >= CMD_WRITE_RAM && command < CMD_WRITE_RAM + 0x20) {
            pendingCommand = command;
            return false;
        }
        if (command >= CMD_PULSE_OUTPUT) {
            // Bits 3:0 select output port lines to pulse low; bit 0 is the CPU reset line.
            return (command & OUTPUT_PORT_RESET) == 0;
        }
        switch (command) {
            case CMD_AUX_DISABLE -> setCommandByte(commandByte() | CTR_AUX_DISABLED);
            case CMD_AUX_ENABLE -> setCommandByte(commandByte() & ~CTR_AUX_DISABLED);
            case CMD_AUX_TEST, CMD_KEYBOARD_TEST -> reply(0x00, 0);
            case CMD_SELF_TEST -> {
                setCommandByte(commandByte() | CTR_SYSTEM);
                reply(SELF_TEST_PASSED, 0);
            }
            case CMD_KEYBOARD_DISABLE -> setCommandByte(commandByte() | CTR_KEYBOARD_DISABLED);
            case CMD_KEYBOARD_ENABLE -> setCommandByte(commandByte() & ~CTR_KEYBOARD_DISABLED);
            case CMD_READ_OUTPUT_PORT -> reply(outputPortValue(), 0);
            case CMD_WRITE_OUTPUT_PORT, CMD_WRITE_KEYBOARD_BUFFER, CMD_WRITE_AUX_BUFFER, CMD_WRITE_AUX_DEVICE ->
                    pendingCommand = command;
            default -> {
                // Vendor-specific or obsolete commands: no reply, as a controller that lacks them.
            }
        }
        return false;
    }

    /** @return whether the guest asked for a CPU reset */
    private boolean writeData(int value) {
        lastWasCommand = false;
        int command = pendingCommand;
        pendingCommand = 0;
        if (command >= CMD_WRITE_RAM && command < CMD_WRITE_RAM + 0x20) {
            if (command == CMD_WRITE_RAM) {
                setCommandByte(value);
            } else {
                ram[command & 0x1F] = (byte) value;
            }
            return false;
        }
        switch (command) {
            case CMD_WRITE_OUTPUT_PORT -> {
                outputPort = value & ~(OUTPUT_PORT_KEYBOARD_FULL | OUTPUT_PORT_AUX_FULL);
                return (value & OUTPUT_PORT_RESET) == 0;
            }
            case CMD_WRITE_KEYBOARD_BUFFER -> reply(value, 0);
            case CMD_WRITE_AUX_BUFFER -> reply(value, FROM_AUX);
            case CMD_WRITE_AUX_DEVICE -> {
                // Sending to the AUX device enables its clock line, but there is no mouse:
                // the controller reports the transmission timed out.
                setCommandByte(commandByte() & ~CTR_AUX_DISABLED);
                reply(RESEND, FROM_AUX | TIMED_OUT);
            }
            default -> {
                // A byte for the keyboard; sending it re-enables the keyboard interface.
                setCommandByte(commandByte() & ~CTR_KEYBOARD_DISABLED);
                keyboardReceive(value);
            }
        }
        return false;
    }

    private int outputPortValue() {
        int value = outputPort & ~(OUTPUT_PORT_KEYBOARD_FULL | OUTPUT_PORT_AUX_FULL);
        if (outputBuffer >= 0) {
            value |= (outputBuffer & FROM_AUX) != 0 ? OUTPUT_PORT_AUX_FULL : OUTPUT_PORT_KEYBOARD_FULL;
        }
        return value;
    }

    private void setCommandByte(int value) {
        int before = commandByte();
        ram[0] = (byte) value;
        // An interrupt enabled while its byte waits in the buffer fires now.
        if (outputBuffer >= 0) {
            boolean aux = (outputBuffer & FROM_AUX) != 0;
            int bit = aux ? CTR_AUX_INTERRUPT : CTR_KEYBOARD_INTERRUPT;
            if ((before & bit) == 0 && (value & bit) != 0) {
                (aux ? auxIrq : keyboardIrq).pulse();
            }
        }
        refill();
    }

    // ---------------------------------------------------------------- output buffer

    private void reply(int value, int flags) {
        if (controllerQueue.size() < QUEUE_LIMIT) {
            controllerQueue.add((value & 0xFF) | flags);
        }
        refill();
    }

    /** Moves the next byte into the empty output buffer and signals it. */
    private void refill() {
        if (outputBuffer >= 0) {
            return;
        }
        if (!controllerQueue.isEmpty()) {
            outputBuffer = controllerQueue.poll();
        } else if (!keyboardQueue.isEmpty() && (commandByte() & CTR_KEYBOARD_DISABLED) == 0) {
            outputBuffer = keyboardQueue.poll();
        } else {
            return;
        }
        if ((outputBuffer & FROM_AUX) != 0) {
            if ((commandByte() & CTR_AUX_INTERRUPT) != 0) {
                auxIrq.pulse();
            }
        } else if ((commandByte() & CTR_KEYBOARD_INTERRUPT) != 0) {
            keyboardIrq.pulse();
        }
    }

    // ---------------------------------------------------------------- the keyboard

    private void keyboardReceive(int value) {
        int command = keyboardPending;
        keyboardPending = 0;
        switch (command) {
            case KBD_SET_LEDS -> {
                leds = value & 0x07;
                keyboardSend(ACK);
                return;
            }
            case KBD_TYPEMATIC -> {
                typematic = value & 0x7F;
                keyboardSend(ACK);
                return;
            }
            case KBD_SCANCODE_SET -> {
                if (value == 0) {
                    keyboardSend(ACK);
                    keyboardSend(scancodeSet);
                } else if (value >= 1 && value <= 3) {
                    scancodeSet = value;
                    keyboardSend(ACK);
                } else {
                    keyboardSend(RESEND);
                }
                return;
            }
            default -> {
                // Not waiting for an argument: value is a command.
            }
        }
        switch (value) {
            case KBD_RESET -> {
                keyboardQueue.clear();
                resetKeyboard();
                keyboardSend(ACK);
                keyboardSend(BAT_PASSED);
            }
            case KBD_IDENTIFY -> {
                keyboardSend(ACK);
                keyboardSend(0xAB);
                keyboardSend(0x83);
            }
            case KBD_ENABLE -> {
                keyboardQueue.clear();
                scanning = true;
                keyboardSend(ACK);
            }
            case KBD_DISABLE -> {
                keyboardQueue.clear();
                resetKeyboard();
                scanning = false;
                keyboardSend(ACK);
            }
            case KBD_DEFAULTS -> {
                keyboardQueue.clear();
                resetKeyboard();
                keyboardSend(ACK);
            }
            case KBD_SET_LEDS, KBD_TYPEMATIC, KBD_SCANCODE_SET -> {
                keyboardPending = value;
                keyboardSend(ACK);
            }
            case KBD_ECHO -> keyboardSend(KBD_ECHO);
            case KBD_RESEND -> keyboardSend(keyboardLastSent);
            default -> {
                if (value >= KBD_SET3_FIRST && value <= KBD_SET3_LAST) {
                    // Set-3 key type commands: accepted, no effect on a keyboard without keys.
                    keyboardSend(ACK);
                } else {
                    keyboardSend(RESEND);
                }
            }
        }
    }

    private void resetKeyboard() {
        scancodeSet = 2;
        scanning = true;
        leds = 0;
        typematic = TYPEMATIC_DEFAULT;
    }

    /** Queues a keyboard reply as the guest will read it, through the controller's translation when XLAT is on. */
    private void keyboardSend(int value) {
        if (value != KBD_RESEND) {
            keyboardLastSent = value;
        }
        int b = (commandByte() & CTR_TRANSLATE) != 0 ? translate(value) : value;
        if (keyboardQueue.size() < QUEUE_LIMIT) {
            keyboardQueue.add(b);
        }
        refill();
    }

    /**
     * The 8042's set-2 to set-1 translation for the bytes this keyboard sends without keys:
     * the second identify byte and the scan code set numbers change, everything else this
     * keyboard says (FA, AA, AB, EE, FE) translates to itself.
     */
    private static int translate(int value) {
        return switch (value) {
            case 0x01 -> 0x43;
            case 0x02 -> 0x41;
            case 0x03 -> 0x3F;
            case 0x83 -> 0x41;
            case 0x84 -> 0x54;
            default -> value;
        };
    }

    // ---------------------------------------------------------------- save / restore

    @Override
    public synchronized void saveState(StateWriter out) {
        StateWriter s = out.section(STATE_SECTION, STATE_VERSION);
        s.putBytes("ram", ram);
        s.putInt("outputPort", outputPort);
        s.putInt("pendingCommand", pendingCommand);
        s.putBoolean("lastWasCommand", lastWasCommand);
        s.putInt("outputBuffer", outputBuffer);
        s.putInt("lastRead", lastRead);
        s.putLongs("controllerQueue", toLongs(controllerQueue));
        s.putLongs("keyboardQueue", toLongs(keyboardQueue));
        s.putInt("scancodeSet", scancodeSet);
        s.putBoolean("scanning", scanning);
        s.putInt("leds", leds);
        s.putInt("typematic", typematic);
        s.putInt("keyboardPending", keyboardPending);
        s.putInt("keyboardLastSent", keyboardLastSent);
    }

    @Override
    public synchronized void restoreState(StateReader in) throws StateException {
        StateReader s = in.section(STATE_SECTION).expect(STATE_SECTION, 1, STATE_VERSION);
        byte[] savedRam = s.getBytes("ram", ram.length);
        int savedOutputPort = s.getInt("outputPort");
        int savedPending = s.getInt("pendingCommand");
        boolean savedLastWasCommand = s.getBoolean("lastWasCommand");
        int savedBuffer = s.getInt("outputBuffer");
        int savedLastRead = s.getInt("lastRead");
        long[] savedController = s.getLongs("controllerQueue");
        long[] savedKeyboard = s.getLongs("keyboardQueue");
        int savedSet = s.getInt("scancodeSet");
        boolean savedScanning = s.getBoolean("scanning");
        int savedLeds = s.getInt("leds");
        int savedTypematic = s.getInt("typematic");
        int savedKeyboardPending = s.getInt("keyboardPending");
        int savedLastSent = s.getInt("keyboardLastSent");
        if (savedController.length > QUEUE_LIMIT || savedKeyboard.length > QUEUE_LIMIT) {
            throw new StateException("state of i8042 has more queued bytes than its buffers hold");
        }
        if (savedSet < 1 || savedSet > 3) {
            throw new StateException("state of i8042 has scan code set " + savedSet + ", expected 1 to 3");
        }
        System.arraycopy(savedRam, 0, ram, 0, ram.length);
        outputPort = savedOutputPort & 0xFF;
        pendingCommand = savedPending & 0xFF;
        lastWasCommand = savedLastWasCommand;
        outputBuffer = savedBuffer < 0 ? -1 : savedBuffer & (0xFF | FROM_AUX | TIMED_OUT);
        lastRead = savedLastRead & 0xFF;
        fromLongs(savedController, controllerQueue);
        fromLongs(savedKeyboard, keyboardQueue);
        scancodeSet = savedSet;
        scanning = savedScanning;
        leds = savedLeds & 0x07;
        typematic = savedTypematic & 0x7F;
        keyboardPending = savedKeyboardPending & 0xFF;
        keyboardLastSent = savedLastSent & 0xFF;
        // The edge for a byte already in the buffer was delivered before the save.
    }

    private static long[] toLongs(ArrayDeque<Integer> queue) {
        long[] values = new long[queue.size()];
        Iterator<Integer> it = queue.iterator();
        for (int i = 0; i < values.length; i++) {
            values[i] = it.next();
        }
        return values;
    }

    private static void fromLongs(long[] values, ArrayDeque<Integer> queue) {
        queue.clear();
        for (long v : values) {
            queue.add((int) v & (0xFF | FROM_AUX | TIMED_OUT));
        }
    }

    /**
     * Port 0x60 or 0x64, each registered alone (0x61-0x63 belong to the PIT and speaker
     * logic). Byte registers: a wider access reaches the same register once.
     */
    private final class Port implements IoHandler {
        private final boolean commandPort;

        Port(boolean commandPort) {
            this.commandPort = commandPort;
        }

        @Override
        public long read(long offset, int size) {
            synchronized (I8042.this) {
                return commandPort ? readStatus() : readData();
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            boolean reset;
            synchronized (I8042.this) {
                int b = (int) value & 0xFF;
                reset = commandPort ? writeCommand(b) : writeData(b);
            }
            if (reset) {
                resetRequest.run();
            }
        }
    }
}
