package org.vireo.x86.irq;

import org.vireo.api.device.Device;
import org.vireo.api.irq.IrqLine;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The 8254 programmable interval timer (Intel 8254 data sheet) on ports 0x40-0x43, and the
 * PC's port 0x61 (NMI status and control) that gates its channel 2 and shows that channel's
 * output. Channel 0's output drives IRQ 0.
 *
 * <p>The counters are not ticked: each one remembers the guest time at which counting began,
 * and its count and output are computed from the clock when read. A clock timer raises
 * IRQ 0 when channel 0's output rises. Modes 0-5, binary and BCD, LSB/MSB/word access,
 * counter latch and read-back (count and status). Channel 1 (DRAM refresh) counts but
 * drives nothing.
 */
public final class Pit8254 implements Device {

    public static final int BASE_PORT = 0x40, CONTROL_PORT = 0x43, PORT_61 = 0x61;
    /** The input clock: 1.193182 MHz. */
    public static final long HZ = 1_193_182L;
    private static final long NANOS = 1_000_000_000L;

    private final Object lock;
    private final VirtualClock clock;
    private final IrqLine irq0;
    private final Channel[] channels = {new Channel(0), new Channel(1), new Channel(2)};
    private final VirtualClock.Timer irqTimer;
    private int port61;

    Pit8254(Object lock, VirtualClock clock, IrqLine irq0) {
        this.lock = lock;
        this.clock = clock;
        this.irq0 = irq0;
        this.irqTimer = clock.timer("pit channel 0", this::channel0Tick);
        channels[0].gate = true;
        channels[1].gate = true;
    }

    @Override
    public String id() {
        return "pit";
    }

    /** Ticks of the input clock in {@code nanos} of guest time (exact, without overflow for centuries). */
    static long ticks(long nanos) {
        return (nanos / NANOS) * HZ + (nanos % NANOS) * HZ / NANOS;
    }

    /** Guest nanoseconds until {@code ticks} input clocks have passed (rounded up). */
    static long nanosFor(long ticks) {
        return (ticks / HZ) * NANOS + ((ticks % HZ) * NANOS + HZ - 1) / HZ;
    }

    /** One counter. */
    private final class Channel {
        final int index;
        int mode;
        boolean bcd;
        /** Access: 1 LSB only, 2 MSB only, 3 LSB then MSB. */
        int access = 3;
        /** The count register as last written (0 meaning the maximum). */
        int reload;
        boolean counting;
        /** Guest time the counting element was loaded from the count register. */
        long start;
        boolean gate;
        boolean writeMsbNext;
        int partialWrite;
        boolean readMsbNext;
        boolean countLatched;
        int latchedCount;
        boolean statusLatched;
        int latchedStatus;
        boolean nullCount = true;
        /** Mode 0/4 (and 1/5): the terminal count was reached since the count was loaded. */
        long frozenTicks = -1;

        Channel(int index) {
            this.index = index;
        }

        long period() {
            if (reload == 0) {
                return bcd ? 10000 : 65536;
            }
            return reload;
        }

        long elapsedTicks() {
            if (frozenTicks >= 0) {
                return frozenTicks;
            }
            return ticks(clock.nanos() - start);
        }

        /** The counting element's value now. */
        int count() {
            if (!counting) {
                return reload;
            }
            long n = period();
            long t = elapsedTicks();
            long value = switch (mode) {
                case 2, 6 -> n - (t % n);
                case 3, 7 -> {
                    // Counts down by two each clock, reloading every half period.
                    long half = (n + 1) / 2;
                    yield n - 2 * (t % half);
                }
                default -> {
                    // Modes 0, 1, 4, 5: from n down to 0, then on from 0xffff.
                    long v = n - t;
                    yield v >= 0 ? v : 0x10000 + (v % 0x10000);
                }
            };
            int c = (int) (value & 0xffff);
            return bcd ? toBcd(c) : c;
        }

        boolean output() {
            if (!counting) {
                return mode != 0;
            }
            long n = period();
            long t = elapsedTicks();
            return switch (mode) {
                case 0, 1 -> t >= n;
                case 2, 6 -> (t % n) != n - 1;
                case 3, 7 -> (t % n) < (n + 1) / 2;
                default -> t != n; // modes 4, 5: a one-clock low pulse at terminal count
            };
        }

        void load() {
            counting = true;
            nullCount = false;
            frozenTicks = -1;
            start = clock.nanos();
            if (!gate && (mode == 0 || mode == 2 || mode == 3 || mode == 4)) {
                frozenTicks = 0;
            }
        }

        int status() {
            return (output() ? 0x80 : 0) | (nullCount ? 0x40 : 0) | (access << 4) | (mode << 1) | (bcd ? 1 : 0);
        }
    }

    private static int toBcd(int v) {
        v %= 10000;
        return (v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10;
    }

    private static int fromBcd(int v) {
        return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
    }

    // ---- ports ----

    long read(int port) {
        synchronized (lock) {
            if (port == PORT_61) {
                // Bit 4 toggles with the refresh cycle (about every 15 us), bit 5 is channel 2's output.
                boolean refresh = ((clock.nanos() / 15_085) & 1) != 0;
                return (port61 & 0x0f) | (refresh ? 0x10 : 0) | (channels[2].output() ? 0x20 : 0);
            }
            if (port == CONTROL_PORT) {
                return 0xff; // the control word register cannot be read
            }
            Channel c = channels[port - BASE_PORT];
            if (c.statusLatched) {
                c.statusLatched = false;
                return c.latchedStatus;
            }
            int value = c.countLatched ? c.latchedCount : c.count();
            int result;
            switch (c.access) {
                case 1 -> result = value & 0xff;
                case 2 -> result = (value >> 8) & 0xff;
                default -> {
                    result = c.readMsbNext ? (value >> 8) & 0xff : value & 0xff;
                    c.readMsbNext = !c.readMsbNext;
                    if (!c.readMsbNext) {
                        c.countLatched = false;
                    }
                    return result;
                }
            }
            c.countLatched = false;
            return result;
        }
    }

    void write(int port, long value) {
        int v = (int) value & 0xff;
        synchronized (lock) {
            if (port == PORT_61) {
                boolean wasGate = channels[2].gate;
                port61 = v & 0x0f;
                setGate2((v & 1) != 0, wasGate);
                return;
            }
            if (port == CONTROL_PORT) {
                control(v);
                return;
            }
            Channel c = channels[port - BASE_PORT];
            int written;
            switch (c.access) {
                case 1 -> written = v;
                case 2 -> written = v << 8;
                default -> {
                    if (!c.writeMsbNext) {
                        c.partialWrite = v;
                        c.writeMsbNext = true;
                        if (c.mode == 0) {
                            // Writing the first byte stops a mode 0 count (data sheet, mode 0).
                            c.counting = false;
                        }
                        return;
                    }
                    c.writeMsbNext = false;
                    written = c.partialWrite | (v << 8);
                }
            }
            c.reload = c.bcd ? fromBcd(written) : written;
            c.load();
            if (c.index == 0) {
                scheduleIrq();
            }
        }
    }

    private void control(int v) {
        int select = v >>> 6;
        if (select == 3) {
            // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 select.
            for (int k = 0; k < 3; k++) {
                if ((v & (2 << k)) != 0) {
                    Channel c = channels[k];
                    if ((v & 0x10) == 0 && !c.statusLatched) {
                        c.statusLatched = true;
                        c.latchedStatus = c.status();
                    }
                    if ((v & 0x20) == 0 && !c.countLatched) {
                        c.countLatched = true;
                        c.latchedCount = c.count();
                        c.readMsbNext = false;
                    }
                }
            }
            return;
        }
        Channel c = channels[select];
        int access = (v >>> 4) & 3;
        if (access == 0) {
            if (!c.countLatched) {
                c.countLatched = true;
                c.latchedCount = c.count();
                c.readMsbNext = false;
            }
            return;
        }
        c.access = access;
        c.mode = (v >>> 1) & 7;
        if (c.mode > 5) {
            c.mode -= 4; // 6 and 7 are aliases of 2 and 3
        }
        c.bcd = (v & 1) != 0;
        c.counting = false;
        c.nullCount = true;
        c.writeMsbNext = false;
        c.readMsbNext = false;
        c.countLatched = false;
        c.statusLatched = false;
        if (c.index == 0) {
            irqTimer.cancel();
        }
    }

    private void setGate2(boolean gate, boolean wasGate) {
        Channel c = channels[2];
        c.gate = gate;
        if (!c.counting || gate == wasGate) {
            return;
        }
        if (gate) {
            if (c.mode == 1 || c.mode == 2 || c.mode == 3 || c.mode == 5) {
                c.load(); // a rising gate (re)triggers these modes
            } else if (c.frozenTicks >= 0) {
                // Modes 0 and 4 resume where they stopped.
                c.start = clock.nanos() - nanosFor(c.frozenTicks);
                c.frozenTicks = -1;
            }
        } else if (c.mode == 0 || c.mode == 2 || c.mode == 3 || c.mode == 4) {
            c.frozenTicks = c.elapsedTicks();
        }
    }

    // ---- channel 0 -> IRQ 0 ----

    /**
     * Arms the clock timer for channel 0's next rising output edge. IRQ 0 is kept low and
     * pulsed at each rising edge: the PIC and IOAPIC see it edge-triggered.
     */
    private void scheduleIrq() {
        Channel c = channels[0];
        if (!c.counting) {
            irqTimer.cancel();
            return;
        }
        long n = c.period();
        long t = ticks(clock.nanos() - c.start);
        long edge;
        switch (c.mode) {
            case 0, 1, 4, 5 -> {
                if (t >= n) {
                    irqTimer.cancel();
                    return;
                }
                edge = n;
            }
            default -> edge = (t / n + 1) * n; // modes 2 and 3: every period
        }
        irqTimer.arm(c.start + nanosFor(edge));
    }

    private void channel0Tick() {
        synchronized (lock) {
            if (!channels[0].counting) {
                return;
            }
            irq0.pulse();
            scheduleIrq();
        }
    }

    @Override
    public void reset() {
        synchronized (lock) {
            for (Channel c : channels) {
                c.mode = 0;
                c.counting = false;
                c.reload = 0;
                c.access = 3;
                c.nullCount = true;
            }
            port61 = 0;
            channels[2].gate = false;
            irqTimer.cancel();
        }
    }

    // ---- save and restore ----

    private static final int STATE_VERSION = 1;

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            StateWriter s = out.section("pit", STATE_VERSION);
            long now = clock.nanos();
            for (Channel c : channels) {
                s.putLongs("channel" + c.index, new long[] {c.mode, c.bcd ? 1 : 0, c.access, c.reload,
                    c.counting ? 1 : 0, now - c.start, c.gate ? 1 : 0, c.writeMsbNext ? 1 : 0, c.partialWrite,
                    c.readMsbNext ? 1 : 0, c.countLatched ? 1 : 0, c.latchedCount, c.statusLatched ? 1 : 0,
                    c.latchedStatus, c.nullCount ? 1 : 0, c.frozenTicks});
            }
            s.putInt("port61", port61);
        }
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        StateReader s = in.section("pit").expect("pit", 1, STATE_VERSION);
        synchronized (lock) {
            long now = clock.nanos();
            for (Channel c : channels) {
                long[] f = s.getLongs("channel" + c.index);
                if (f.length != 16) {
                    throw new StateException("state of 'pit': channel " + c.index + " has " + f.length
                            + " fields, expected 16");
                }
                c.mode = (int) f[0];
                c.bcd = f[1] != 0;
                c.access = (int) f[2];
                c.reload = (int) f[3];
                c.counting = f[4] != 0;
                c.start = now - f[5];
                c.gate = f[6] != 0;
                c.writeMsbNext = f[7] != 0;
                c.partialWrite = (int) f[8];
                c.readMsbNext = f[9] != 0;
                c.countLatched = f[10] != 0;
                c.latchedCount = (int) f[11];
                c.statusLatched = f[12] != 0;
                c.latchedStatus = (int) f[13];
                c.nullCount = f[14] != 0;
                c.frozenTicks = f[15];
            }
            port61 = s.getInt("port61");
            scheduleIrq();
        }
    }
}
