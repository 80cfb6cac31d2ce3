package org.vireo.x86.irq;

import org.vireo.api.device.Device;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The PC's two cascaded 8259A programmable interrupt controllers (Intel 8259A data sheet):
 * the master on ports 0x20-0x21 with the slave on its IRQ 2, the slave on 0xa0-0xa1, and the
 * edge/level control registers (ELCR) on 0x4d0-0x4d1. IRQ 0-7 are the master's, 8-15 the
 * slave's. The master's INT output goes to LINT0 of the boot processor's local APIC.
 *
 * <p>Not modelled: special fully nested mode, buffered mode and the 8080 call format; the
 * vector is always the 8086 one (ICW2 base + IRQ).
 */
public final class Pic8259Pair implements Device {

    public static final int MASTER_PORT = 0x20, SLAVE_PORT = 0xa0, ELCR_PORT = 0x4d0;
    private static final int CASCADE_IRQ = 2;
    /** ELCR bits that must read 0: IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge. */
    private static final int[] ELCR_WRITABLE = {0xf8, 0xde};

    private final Object lock;
    private final Chip master = new Chip(0);
    private final Chip slave = new Chip(1);
    private Runnable outputListener = () -> { };

    Pic8259Pair(Object lock) {
        this.lock = lock;
    }

    void setOutputListener(Runnable listener) {
        this.outputListener = listener;
    }

    @Override
    public String id() {
        return "pic";
    }

    /** Drives IRQ {@code irq} (0-15) to {@code level}. */
    void setIrq(int irq, boolean level) {
        synchronized (lock) {
            if (irq < 8) {
                master.setLine(irq, level);
            } else {
                slave.setLine(irq - 8, level);
                master.setLine(CASCADE_IRQ, slave.output());
            }
        }
        outputListener.run();
    }

    /** The master's INT output: an interrupt is waiting for the CPU. */
    boolean output() {
        synchronized (lock) {
            return master.output();
        }
    }

    /** The vector an INTA cycle would give now, without taking it; -1 if none. */
    int peekVector() {
        synchronized (lock) {
            int irq = master.highestRequest();
            if (irq < 0) {
                return -1;
            }
            if (irq == CASCADE_IRQ && master.cascadeMaster()) {
                int s = slave.highestRequest();
                return slave.base + (s < 0 ? 7 : s);
            }
            return master.base + irq;
        }
    }

    /** The INTA cycle: takes the highest-priority request and returns its vector (IRQ 7 or 15 if it went away: spurious). */
    int acknowledge() {
        int vector;
        synchronized (lock) {
            int irq = master.acknowledge();
            if (irq == CASCADE_IRQ && master.cascadeMaster()) {
                int s = slave.acknowledge();
                master.setLine(CASCADE_IRQ, slave.output());
                vector = slave.base + s;
            } else {
                vector = master.base + irq;
            }
        }
        outputListener.run();
        return vector;
    }

    long read(int port) {
        synchronized (lock) {
            if (port == ELCR_PORT || port == ELCR_PORT + 1) {
                return (port == ELCR_PORT ? master : slave).elcr;
            }
            Chip c = (port & 0x80) != 0 ? slave : master;
            return c.read((port & 1) != 0);
        }
    }

    void write(int port, long value) {
        synchronized (lock) {
            int v = (int) value & 0xff;
            if (port == ELCR_PORT || port == ELCR_PORT + 1) {
                int n = port - ELCR_PORT;
                (n == 0 ? master : slave).elcr = v & ELCR_WRITABLE[n];
            } else {
                Chip c = (port & 0x80) != 0 ? slave : master;
                c.write((port & 1) != 0, v);
                if (c == slave) {
                    master.setLine(CASCADE_IRQ, slave.output());
                }
            }
        }
        outputListener.run();
    }

    @Override
    public void reset() {
        synchronized (lock) {
            master.reset();
            slave.reset();
            master.elcr = 0;
            slave.elcr = 0;
        }
    }

    /** One 8259A. */
    private static final class Chip {
        final int index;
        int irr, isr, imr, elcr;
        /** The input lines' levels, for edge detection and level-triggered requests. */
        int lines;
        int base;
        int initStep; // 0: ready; 2, 3, 4: waiting for ICW2, ICW3, ICW4
        boolean needIcw4, single, levelTriggered, autoEoi, rotateInAutoEoi, specialMask, poll, readIsr;
        int lowestPriority = 7;
        int icw3;

        Chip(int index) {
            this.index = index;
        }

        void reset() {
            irr = 0;
            isr = 0;
            imr = 0;
            base = 0;
            initStep = 0;
            needIcw4 = false;
            single = false;
            levelTriggered = false;
            autoEoi = false;
            rotateInAutoEoi = false;
            specialMask = false;
            poll = false;
            readIsr = false;
            lowestPriority = 7;
            icw3 = 0;
        }

        boolean cascadeMaster() {
            return index == 0 && !single;
        }

        boolean isLevel(int irq) {
            return levelTriggered || (elcr & (1 << irq)) != 0;
        }

        void setLine(int irq, boolean level) {
            int bit = 1 << irq;
            boolean was = (lines & bit) != 0;
            if (level) {
                lines |= bit;
                if (!was || isLevel(irq)) {
                    irr |= bit;
                }
            } else {
                lines &= ~bit;
                if (isLevel(irq)) {
                    irr &= ~bit;
                }
            }
        }

        /** Priority rank of {@code irq}: 0 highest. */
        int rank(int irq) {
            return (irq - lowestPriority - 1) & 7;
        }

        /** The IRQ with the highest priority among {@code bits}, or -1. */
        int highest(int bits) {
            if (bits == 0) {
                return -1;
            }
            for (int r = 0; r < 8; r++) {
                int irq = (lowestPriority + 1 + r) & 7;
                if ((bits & (1 << irq)) != 0) {
                    return irq;
                }
            }
            return -1;
        }

        /** The request that would interrupt now (priority above everything in service), or -1. */
        int highestRequest() {
            int pending = irr & ~imr;
            int req = highest(pending);
            if (req < 0) {
                return -1;
            }
            int inService = specialMask ? isr & ~imr : isr;
            if (cascadeMaster()) {
                // In the (non-special) fully nested mode the slave's own requests may interrupt
                // its in-service ones: the cascade input's in-service bit does not block it.
                inService &= ~(1 << CASCADE_IRQ);
            }
            int cur = highest(inService);
            if (cur >= 0 && rank(cur) <= rank(req)) {
                return -1;
            }
            return req;
        }

        boolean output() {
            return highestRequest() >= 0;
        }

        /** INTA for this chip; the spurious IRQ 7 when nothing is requested any more. */
        int acknowledge() {
            int irq = highestRequest();
            if (irq < 0) {
                return 7;
            }
            int bit = 1 << irq;
            if (!isLevel(irq)) {
                irr &= ~bit;
            }
            if (autoEoi) {
                if (rotateInAutoEoi) {
                    lowestPriority = irq;
                }
            } else {
                isr |= bit;
            }
            return irq;
        }

        int read(boolean data) {
            if (poll) {
                poll = false;
                int irq = highestRequest();
                if (irq < 0) {
                    return 0;
                }
                acknowledge();
                return 0x80 | irq;
            }
            if (data) {
                return imr;
            }
            return readIsr ? isr : irr;
        }

        void write(boolean data, int v) {
            if (!data) {
                if ((v & 0x10) != 0) {
                    // ICW1: start of initialization.
                    reset();
                    needIcw4 = (v & 1) != 0;
                    single = (v & 2) != 0;
                    levelTriggered = (v & 8) != 0;
                    irr &= lines & (levelTriggered ? 0xff : elcr);
                    initStep = 2;
                } else if ((v & 0x08) != 0) {
                    // OCW3.
                    if ((v & 0x04) != 0) {
                        poll = true;
                    }
                    if ((v & 0x02) != 0) {
                        readIsr = (v & 0x01) != 0;
                    }
                    if ((v & 0x40) != 0) {
                        specialMask = (v & 0x20) != 0;
                    }
                } else {
                    ocw2(v);
                }
                return;
            }
            switch (initStep) {
                case 2 -> {
                    base = v & 0xf8;
                    initStep = single ? (needIcw4 ? 4 : 0) : 3;
                }
                case 3 -> {
                    icw3 = v;
                    initStep = needIcw4 ? 4 : 0;
                }
                case 4 -> {
                    autoEoi = (v & 2) != 0;
                    initStep = 0;
                }
                default -> imr = v; // OCW1
            }
        }

        private void ocw2(int v) {
            int command = v >>> 5;
            int level = v & 7;
            switch (command) {
                case 1, 5 -> { // non-specific EOI, rotate on non-specific EOI
                    int irq = highest(isr);
                    if (irq >= 0) {
                        isr &= ~(1 << irq);
                        if (command == 5) {
                            lowestPriority = irq;
                        }
                    }
                }
                case 3, 7 -> { // specific EOI, rotate on specific EOI
                    isr &= ~(1 << level);
                    if (command == 7) {
                        lowestPriority = level;
                    }
                }
                case 4 -> rotateInAutoEoi = true;
                case 0 -> rotateInAutoEoi = false;
                case 6 -> lowestPriority = level; // set priority
                default -> { } // 2: no operation
            }
        }

        void save(StateWriter s) {
            s.putLongs("regs", new long[] {irr, isr, imr, elcr, lines, base, initStep, lowestPriority, icw3});
            s.putLongs("flags", new long[] {needIcw4 ? 1 : 0, single ? 1 : 0, levelTriggered ? 1 : 0, autoEoi ? 1 : 0,
                rotateInAutoEoi ? 1 : 0, specialMask ? 1 : 0, poll ? 1 : 0, readIsr ? 1 : 0});
        }

        void restore(StateReader s) throws StateException {
            long[] r = s.getLongs("regs");
            long[] f = s.getLongs("flags");
            if (r.length != 9 || f.length != 8) {
                throw new StateException("state of 'pic': a chip's registers have the wrong length");
            }
            irr = (int) r[0];
            isr = (int) r[1];
            imr = (int) r[2];
            elcr = (int) r[3];
            lines = (int) r[4];
            base = (int) r[5];
            initStep = (int) r[6];
            lowestPriority = (int) r[7];
            icw3 = (int) r[8];
            needIcw4 = f[0] != 0;
            single = f[1] != 0;
            levelTriggered = f[2] != 0;
            autoEoi = f[3] != 0;
            rotateInAutoEoi = f[4] != 0;
            specialMask = f[5] != 0;
            poll = f[6] != 0;
            readIsr = f[7] != 0;
        }
    }

    private static final int STATE_VERSION = 1;

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            StateWriter s = out.section("pic", STATE_VERSION);
            master.save(s.section("master", 1));
            slave.save(s.section("slave", 1));
        }
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        StateReader s = in.section("pic").expect("pic", 1, STATE_VERSION);
        synchronized (lock) {
            master.restore(s.section("master").expect("master", 1, 1));
            slave.restore(s.section("slave").expect("slave", 1, 1));
        }
        outputListener.run();
    }
}
