package org.vireo.x86.dev;

import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;
import org.vireo.api.device.Device;
import org.vireo.api.irq.IrqLine;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * A device that exists only to test CPU backends end to end, in the spirit of QEMU's
 * pc-testdev: a page of MMIO registers the guest can check, an interrupt line it can pulse or
 * hold, a result register it posts its verdict to, and one counting I/O port for measuring
 * the cost of a port I/O exit. tests/kvm-guest drives it.
 *
 * <p>MMIO registers, 32 bits, little-endian, at {@code base + offset}:
 * <pre>
 *   0x00 ID             RO  0x54535456, the bytes "VTST"
 *   0x04 SCRATCH        RW  holds what was written
 *   0x08 IRQ            RW  write 1: pulse the line (one edge, the line ends low);
 *                           2: raise it (level); 0: lower it; other values are ignored.
 *                           Reads give the level, 0 or 1
 *   0x0c IRQ_COUNT      RO  pulses and raises written so far
 *   0x10 MMIO_ACCESSES  RO  MMIO accesses to this page so far, this read included
 *   0x14 RESULT         RW  the guest's status code (0: every check passed)
 *   other offsets           read 0, writes ignored
 * </pre>
 * Accesses may have any size and alignment: each byte goes to the byte lane of the register
 * that holds it, so a 1-byte read at 0x00 gives 'V' and a 1-byte write of 1 at 0x08 pulses.
 *
 * <p>Port I/O, four ports at {@code port}: any write to the first port increments a counter,
 * a read of it returns the counter (its low bytes for a narrow read). The other three ports
 * read 0 and ignore writes.
 *
 * <p>Accesses come from any vCPU thread; the state is serialized on this object.
 */
public final class TestDevice implements Device {

    public static final String TYPE = "testdev";
    /** The ID register's value: "VTST" in memory order. */
    public static final int ID = 0x5453_5456;
    /** Bytes of MMIO the device decodes: one page. */
    public static final int MMIO_SIZE = 0x1000;
    /** I/O ports the device decodes. */
    public static final int PORTS = 4;

    public static final int REG_ID = 0x00;
    public static final int REG_SCRATCH = 0x04;
    public static final int REG_IRQ = 0x08;
    public static final int REG_IRQ_COUNT = 0x0c;
    public static final int REG_MMIO_ACCESSES = 0x10;
    public static final int REG_RESULT = 0x14;

    /** IRQ register commands. */
    public static final int IRQ_LOWER = 0, IRQ_PULSE = 1, IRQ_RAISE = 2;

    private static final String STATE_SECTION = "testdev";
    private static final int STATE_VERSION = 1;

    private final String id;
    private final IrqLine irq;
    private final IoBus.Registration mmioRegistration;
    private final IoBus.Registration portRegistration;

    private int scratch;
    private boolean irqLevel;
    private int irqCount;
    private int mmioAccesses;
    private int result;
    private long portWrites;

    /**
     * Creates the device and claims its MMIO page and I/O ports.
     *
     * @param mmioBase the page the registers are at (4 KiB aligned)
     * @param portBase the first of the four I/O ports
     * @param irq the line the IRQ register drives
     * @throws org.vireo.api.bus.BusConflictException if another device holds one of the ranges
     */
    public TestDevice(String id, IoBus mmio, long mmioBase, IoBus portIo, int portBase, IrqLine irq) {
        this.id = id;
        this.irq = irq;
        this.mmioRegistration = mmio.register(mmioBase, MMIO_SIZE, id, new Registers());
        try {
            this.portRegistration = portIo.register(portBase, PORTS, id, new Port());
        } catch (RuntimeException e) {
            mmioRegistration.close();
            throw e;
        }
    }

    @Override
    public String id() {
        return id;
    }

    /** The last status the guest posted in RESULT. */
    public synchronized int result() {
        return result;
    }

    /** How many times the guest wrote the counting port. */
    public synchronized long portWrites() {
        return portWrites;
    }

    @Override
    public synchronized void reset() {
        scratch = 0;
        setIrq(false);
        irqCount = 0;
        mmioAccesses = 0;
        result = 0;
        portWrites = 0;
    }

    @Override
    public void close() {
        mmioRegistration.close();
        portRegistration.close();
    }

    // ---------------------------------------------------------------- registers

    private int readRegister(long offset) {
        return switch ((int) offset) {
            case REG_ID -> ID;
            case REG_SCRATCH -> scratch;
            case REG_IRQ -> irqLevel ? 1 : 0;
            case REG_IRQ_COUNT -> irqCount;
            case REG_MMIO_ACCESSES -> mmioAccesses;
            case REG_RESULT -> result;
            default -> 0;
        };
    }

    /** Writes the bytes {@code mask} selects of the register at {@code offset}. */
    private void writeRegister(long offset, int mask, int bits) {
        switch ((int) offset) {
            case REG_SCRATCH -> scratch = (scratch & ~mask) | bits;
            case REG_RESULT -> result = (result & ~mask) | bits;
            case REG_IRQ -> irqCommand(bits);
            default -> {
                // Read-only or unused: the write is dropped.
            }
        }
    }

    private void irqCommand(int command) {
        switch (command) {
            case IRQ_PULSE -> {
                irqCount++;
                setIrq(true);
                setIrq(false);
            }
            case IRQ_RAISE -> {
                irqCount++;
                setIrq(true);
            }
            case IRQ_LOWER -> setIrq(false);
            default -> {
                // Unknown command: ignored, so that a stray write cannot wedge the line.
            }
        }
    }

    private void setIrq(boolean level) {
        irqLevel = level;
        irq.set(level);
    }

    private synchronized long mmioRead(long offset, int size) {
        mmioAccesses++;
        long value = 0;
        for (int k = 0; k < size; k++) {
            long at = offset + k;
            long lane = (readRegister(at & ~3L) >>> (8 * (at & 3))) & 0xff;
            value |= lane << (8 * k);
        }
        return value;
    }

    private synchronized void mmioWrite(long offset, int size, long value) {
        mmioAccesses++;
        for (long register = offset & ~3L; register < offset + size; register += 4) {
            int mask = 0;
            int bits = 0;
            for (int k = 0; k < size; k++) {
                long at = offset + k;
                if ((at & ~3L) == register) {
                    int shift = 8 * (int) (at & 3);
                    mask |= 0xff << shift;
                    bits |= (int) ((value >>> (8 * k)) & 0xff) << shift;
                }
            }
            writeRegister(register, mask, bits);
        }
    }

    private synchronized long portRead(long offset, int size) {
        if (offset != 0) {
            return 0;
        }
        return size == 8 ? portWrites : portWrites & ((1L << (8 * size)) - 1);
    }

    private synchronized void portWrite(long offset) {
        if (offset == 0) {
            portWrites++;
        }
    }

    // ---------------------------------------------------------------- save / restore

    @Override
    public synchronized void saveState(StateWriter out) {
        StateWriter s = out.section(STATE_SECTION, STATE_VERSION);
        s.putInt("scratch", scratch);
        s.putBoolean("irqLevel", irqLevel);
        s.putInt("irqCount", irqCount);
        s.putInt("mmioAccesses", mmioAccesses);
        s.putInt("result", result);
        s.putLong("portWrites", portWrites);
    }

    @Override
    public synchronized void restoreState(StateReader in) throws StateException {
        StateReader s = in.section(STATE_SECTION).expect(STATE_SECTION, 1, STATE_VERSION);
        int savedScratch = s.getInt("scratch");
        boolean savedLevel = s.getBoolean("irqLevel");
        int savedCount = s.getInt("irqCount");
        int savedAccesses = s.getInt("mmioAccesses");
        int savedResult = s.getInt("result");
        long savedWrites = s.getLong("portWrites");
        scratch = savedScratch;
        irqCount = savedCount;
        mmioAccesses = savedAccesses;
        result = savedResult;
        portWrites = savedWrites;
        // A raised level is an input the interrupt controllers see again after a restore.
        if (savedLevel != irqLevel) {
            setIrq(savedLevel);
        }
    }

    /** The MMIO page. */
    private final class Registers implements IoHandler {
        @Override
        public long read(long offset, int size) {
            return mmioRead(offset, size);
        }

        @Override
        public void write(long offset, int size, long value) {
            mmioWrite(offset, size, value);
        }
    }

    /** The four I/O ports. */
    private final class Port implements IoHandler {
        @Override
        public long read(long offset, int size) {
            return portRead(offset, size);
        }

        @Override
        public void write(long offset, int size, long value) {
            portWrite(offset);
        }
    }
}
