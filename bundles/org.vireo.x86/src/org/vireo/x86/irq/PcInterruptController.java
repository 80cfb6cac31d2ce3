package org.vireo.x86.irq;

import java.util.ArrayList;
import java.util.List;

import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;
import org.vireo.api.device.Device;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.irq.IrqLine;
import org.vireo.api.irq.MsiMessage;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;
import org.vireo.x86.boot.PcMemoryMap;

/**
 * The interrupt controllers of a PC whose CPU backend has no in-kernel irqchip: the 8259 pair,
 * the I/O APIC, one local APIC per vCPU, and the PIT that drives IRQ 0. GSI n below 16 is
 * wired to both PIC IRQ n and IOAPIC pin n (the routing the MP table describes); GSIs 16-23
 * reach the IOAPIC only. The PIC's output goes to LINT0 of the first local APIC.
 *
 * <p>All models share one lock: device lines may be driven from any thread (a console's
 * input thread raising the UART's IRQ) while the vCPU thread reads the APIC.
 */
public final class PcInterruptController implements IrqChip {

    public static final int GSI_COUNT = IoApic.PINS;
    private static final int ISA_IRQS = 16;

    private final Object lock = new Object();
    private final Pic8259Pair pic;
    private final IoApic ioApic;
    private final Pit8254 pit;
    private final LocalApic[] lapics;
    private final Line[] lines = new Line[GSI_COUNT];
    private final List<IoBus.Registration> registrations = new ArrayList<>();

    /**
     * Creates the controllers and claims their ports and MMIO window.
     *
     * @throws VireoException if another device already holds one of their addresses
     */
    public PcInterruptController(Machine machine, VirtualClock clock, int vcpus) throws VireoException {
        if (vcpus < 1 || vcpus > 255) {
            throw new VireoException("a PC has 1 to 255 local APICs; asked for " + vcpus);
        }
        for (int gsi = 0; gsi < GSI_COUNT; gsi++) {
            lines[gsi] = new Line(gsi);
        }
        pic = new Pic8259Pair(lock);
        ioApic = new IoApic(lock, vcpus, this);
        lapics = new LocalApic[vcpus];
        for (int n = 0; n < vcpus; n++) {
            lapics[n] = new LocalApic(lock, n, n == 0, clock, this);
        }
        pic.setOutputListener(lapics[0]::notifyCpu);
        pit = new Pit8254(lock, clock, lines[0]);
        try {
            IoBus pio = machine.portIo();
            registrations.add(pio.register(Pic8259Pair.MASTER_PORT, 2, "pic master", ports(Pic8259Pair.MASTER_PORT, pic::read, pic::write)));
            registrations.add(pio.register(Pic8259Pair.SLAVE_PORT, 2, "pic slave", ports(Pic8259Pair.SLAVE_PORT, pic::read, pic::write)));
            registrations.add(pio.register(Pic8259Pair.ELCR_PORT, 2, "pic elcr", ports(Pic8259Pair.ELCR_PORT, pic::read, pic::write)));
            registrations.add(pio.register(Pit8254.BASE_PORT, 4, "pit", ports(Pit8254.BASE_PORT, pit::read, pit::write)));
            registrations.add(pio.register(Pit8254.PORT_61, 1, "port 61", ports(Pit8254.PORT_61, pit::read, pit::write)));
            registrations.add(machine.mmio().register(PcMemoryMap.IOAPIC_BASE, IoApic.WINDOW, "ioapic", ioApic));
        } catch (RuntimeException e) {
            close();
            throw new VireoException("cannot place the interrupt controllers: " + e.getMessage(), e);
        }
    }

    private interface PortRead {
        long read(int port);
    }

    private interface PortWrite {
        void write(int port, long value);
    }

    /** An I/O handler over byte-wide registers at {@code base}: a wider access is split into bytes. */
    private static IoHandler ports(int base, PortRead read, PortWrite write) {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                long v = 0;
                for (int k = 0; k < size; k++) {
                    v |= (read.read(base + (int) offset + k) & 0xff) << (8 * k);
                }
                return v;
            }

            @Override
            public void write(long offset, int size, long value) {
                for (int k = 0; k < size; k++) {
                    write.write(base + (int) offset + k, (value >>> (8 * k)) & 0xff);
                }
            }
        };
    }

    @Override
    public int gsiCount() {
        return GSI_COUNT;
    }

    @Override
    public IrqLine line(int gsi) {
        if (gsi < 0 || gsi >= GSI_COUNT) {
            throw new IllegalArgumentException("no GSI " + gsi + " on the PC's interrupt controllers; GSIs are 0-"
                    + (GSI_COUNT - 1));
        }
        return lines[gsi];
    }

    /** An MSI: a write to 0xfeexxxxx carrying the destination in the address and the vector in the data (SDM §11.11). */
    @Override
    public void signalMsi(MsiMessage message) {
        long address = message.address();
        if ((address & 0xfff0_0000L) != 0xfee0_0000L) {
            return; // not an interrupt message: dropped, as the chipset would
        }
        boolean logical = (address & (1 << 2)) != 0;
        int data = message.data();
        int mode = (data >>> 8) & 7;
        boolean level = (data & (1 << 15)) != 0;
        deliver(message.destinationId(), logical, mode, message.vector(), level && (data & (1 << 14)) != 0);
    }

    public LocalApic lapic(int vcpu) {
        return lapics[vcpu];
    }

    Pic8259Pair pic() {
        return pic;
    }

    /** Every model, for snapshots. */
    public List<Device> devices() {
        List<Device> all = new ArrayList<>();
        all.add(pic);
        all.add(ioApic);
        all.add(pit);
        for (LocalApic l : lapics) {
            all.add(l);
        }
        return all;
    }

    /** Releases the ports and the MMIO window. */
    /**
     * Writes the PICs, the IOAPIC, the PIT and every local APIC (timers as guest time elapsed,
     * so they continue against a clock set to the saved time). Only while no vCPU runs.
     */
    public void saveState(StateWriter out) {
        pic.saveState(out);
        ioApic.saveState(out);
        pit.saveState(out);
        for (LocalApic lapic : lapics) {
            lapic.saveState(out);
        }
    }

    /**
     * Restores what {@link #saveState} wrote, into controllers made for the same number of
     * vCPUs; the clock must already hold the saved time.
     */
    public void restoreState(StateReader in) throws StateException {
        pic.restoreState(in);
        ioApic.restoreState(in);
        pit.restoreState(in);
        for (LocalApic lapic : lapics) {
            lapic.restoreState(in);
        }
    }

    public void close() {
        for (IoBus.Registration r : registrations) {
            r.close();
        }
        registrations.clear();
    }

    // ---- routing ----

    /** Delivers an interrupt message from the IOAPIC or an MSI to the local APIC(s) it names. */
    void deliver(int destination, boolean logical, int mode, int vector, boolean level) {
        if (mode == 1) {
            // Lowest priority: any one of the named APICs; the first will do.
            for (LocalApic l : lapics) {
                if (l.matches(destination, logical)) {
                    l.receiveIpi(0, vector, level);
                    return;
                }
            }
            return;
        }
        for (LocalApic l : lapics) {
            if (l.matches(destination, logical)) {
                switch (mode) {
                    case 0 -> l.accept(vector, level);
                    case 4 -> l.acceptNmi();
                    case 7 -> l.notifyCpu(); // ExtINT: the CPU asks the PIC through LINT0's path
                    default -> { } // SMI, INIT from an IOAPIC: not used on a PC
                }
            }
        }
    }

    /** An IPI from {@code from}'s ICR (SDM §11.6.1). */
    void deliverIpi(LocalApic from, int shorthand, int destination, boolean logical, int mode, int vector,
            boolean levelTrigger, boolean assertLevel) {
        if (mode == 5 && levelTrigger && !assertLevel) {
            return; // INIT level de-assert: ignored by processors since the Pentium 4
        }
        for (LocalApic l : lapics) {
            boolean target = switch (shorthand) {
                case 1 -> l == from;
                case 2 -> true;
                case 3 -> l != from;
                default -> l.matches(destination, logical);
            };
            if (target) {
                l.receiveIpi(mode, vector, false);
                if (mode == 1) {
                    return;
                }
            }
        }
    }

    /** A local APIC's EOI for a level-triggered vector goes to the IOAPIC. */
    void broadcastEoi(int vector) {
        ioApic.eoi(vector);
    }

    /** One GSI: PIC IRQ n (for n < 16) and IOAPIC pin n. */
    private final class Line implements IrqLine {
        private final int gsi;

        Line(int gsi) {
            this.gsi = gsi;
        }

        @Override
        public int gsi() {
            return gsi;
        }

        @Override
        public void set(boolean level) {
            if (gsi < ISA_IRQS) {
                pic.setIrq(gsi, level);
            }
            ioApic.setPin(gsi, level);
        }
    }
}
