package org.vireo.x86.irq;

import org.vireo.api.bus.IoHandler;
import org.vireo.api.device.Device;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The I/O APIC (Intel 82093AA data sheet): 24 input pins, each with a redirection entry that
 * says which vector goes to which local APIC(s), how, and whether the pin is edge- or
 * level-triggered. Software reaches the registers indirectly: IOREGSEL at offset 0x00 selects
 * one, IOWIN at 0x10 reads or writes it.
 *
 * <p>Pin levels are logical: {@code true} means the source asserts its interrupt, whatever
 * the polarity bit says about the wire (devices in Vireo signal assertion, not voltage).
 */
public final class IoApic implements Device, IoHandler {

    public static final int PINS = 24;
    /** The MMIO window the chipset decodes for it. */
    public static final long WINDOW = 0x1000;
    static final int REGSEL = 0x00, WINDOW_DATA = 0x10;
    /** Version 0x11 (82093AA) with PINS - 1 as the highest redirection entry. */
    static final int VERSION_VALUE = 0x11 | ((PINS - 1) << 16);

    private static final long MASKED = 1L << 16, LEVEL = 1L << 15, REMOTE_IRR = 1L << 14, DELIVERY_STATUS = 1L << 12;
    /** The bits software may write in a redirection entry: not delivery status or remote IRR. */
    private static final long WRITABLE = 0xff00_0000_0001_afffL;

    private final Object lock;
    private final PcInterruptController controller;
    private final long[] redirection = new long[PINS];
    private int pinLevels;
    private int select;
    private int id;

    IoApic(Object lock, int id, PcInterruptController controller) {
        this.lock = lock;
        this.id = id;
        this.controller = controller;
        resetEntries();
    }

    @Override
    public String id() {
        return "ioapic";
    }

    private void resetEntries() {
        for (int k = 0; k < PINS; k++) {
            redirection[k] = MASKED;
        }
        select = 0;
    }

    @Override
    public void reset() {
        synchronized (lock) {
            resetEntries();
        }
    }

    /** Drives pin {@code pin} to {@code level}. */
    void setPin(int pin, boolean level) {
        synchronized (lock) {
            int bit = 1 << pin;
            boolean was = (pinLevels & bit) != 0;
            if (level) {
                pinLevels |= bit;
            } else {
                pinLevels &= ~bit;
            }
            long entry = redirection[pin];
            if ((entry & LEVEL) != 0) {
                if (level) {
                    deliverLevel(pin);
                }
            } else if (level && !was && (entry & MASKED) == 0) {
                deliver(entry, false);
            }
        }
    }

    /** A level-triggered pin sends again only once the previous one was acknowledged (remote IRR clear). */
    private void deliverLevel(int pin) {
        long entry = redirection[pin];
        if ((entry & MASKED) != 0 || (entry & REMOTE_IRR) != 0 || (pinLevels & (1 << pin)) == 0) {
            return;
        }
        redirection[pin] = entry | REMOTE_IRR;
        deliver(entry, true);
    }

    private void deliver(long entry, boolean level) {
        int vector = (int) entry & 0xff;
        int mode = (int) (entry >>> 8) & 7;
        boolean logical = (entry & (1L << 11)) != 0;
        int destination = (int) (entry >>> 56) & 0xff;
        controller.deliver(destination, logical, mode, vector, level);
    }

    /** A local APIC's EOI of a level-triggered {@code vector}: clears remote IRR of the pins that sent it. */
    void eoi(int vector) {
        synchronized (lock) {
            for (int pin = 0; pin < PINS; pin++) {
                long entry = redirection[pin];
                if ((entry & REMOTE_IRR) != 0 && (entry & 0xff) == vector) {
                    redirection[pin] = entry & ~REMOTE_IRR;
                    deliverLevel(pin);
                }
            }
        }
    }

    @Override
    public long read(long offset, int size) {
        synchronized (lock) {
            long v;
            if (offset == REGSEL) {
                v = select;
            } else if (offset == WINDOW_DATA) {
                v = readRegister(select);
            } else {
                v = 0;
            }
            return size >= 4 ? v & 0xffffffffL : v & ((1L << (8 * size)) - 1);
        }
    }

    private long readRegister(int reg) {
        return switch (reg) {
            case 0x00 -> (long) id << 24;
            case 0x01 -> VERSION_VALUE;
            case 0x02 -> (long) id << 24; // arbitration ID
            default -> {
                int pin = (reg - 0x10) >> 1;
                if (reg >= 0x10 && pin < PINS) {
                    long entry = redirection[pin];
                    yield (reg & 1) == 0 ? entry & 0xffffffffL : entry >>> 32;
                }
                yield 0;
            }
        };
    }

    @Override
    public void write(long offset, int size, long value) {
        synchronized (lock) {
            if (offset == REGSEL) {
                select = (int) value & 0xff;
            } else if (offset == WINDOW_DATA) {
                writeRegister(select, (int) value);
            }
        }
    }

    private void writeRegister(int reg, int v) {
        if (reg == 0x00) {
            id = (v >>> 24) & 0xf;
            return;
        }
        int pin = (reg - 0x10) >> 1;
        if (reg < 0x10 || pin >= PINS) {
            return; // read-only or absent: ignored
        }
        long entry = redirection[pin];
        long written = (reg & 1) == 0 ? (entry & 0xffffffff_00000000L) | (v & 0xffffffffL)
                : (entry & 0xffffffffL) | ((long) v << 32);
        long next = (written & WRITABLE) | (entry & REMOTE_IRR);
        if ((next & LEVEL) == 0) {
            next &= ~REMOTE_IRR;
        }
        redirection[pin] = next & ~DELIVERY_STATUS;
        // Unmasking a level pin that is still asserted delivers it now.
        if ((next & LEVEL) != 0) {
            deliverLevel(pin);
        }
    }

    // ---- save and restore ----

    private static final int STATE_VERSION = 1;

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            StateWriter s = out.section("ioapic", STATE_VERSION);
            s.putLongs("redirection", redirection);
            s.putInt("pinLevels", pinLevels);
            s.putInt("select", select);
            s.putInt("id", id);
        }
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        StateReader s = in.section("ioapic").expect("ioapic", 1, STATE_VERSION);
        long[] r = s.getLongs("redirection");
        if (r.length != PINS) {
            throw new StateException("state of 'ioapic': field 'redirection' has " + r.length + " entries, expected "
                    + PINS);
        }
        synchronized (lock) {
            System.arraycopy(r, 0, redirection, 0, PINS);
            pinLevels = s.getInt("pinLevels");
            select = s.getInt("select");
            id = s.getInt("id");
        }
    }
}
