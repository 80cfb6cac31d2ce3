package org.vireo.x86.pci;

import java.util.ArrayList;
import java.util.List;

import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;
import org.vireo.api.device.Device;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.irq.IrqLine;
import org.vireo.api.pci.PciBus;
import org.vireo.api.pci.PciConfigHeader;
import org.vireo.api.pci.PciFunction;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The PC's PCI host bridge: bus 0 with 32 device slots, reached through configuration
 * mechanism #1 (PCI Local Bus spec 3.0 §3.2.2.3.2) on ports 0xCF8 (CONFIG_ADDRESS, a dword
 * register: enable bit 31, bus 23:16, device 15:11, function 10:8, register 7:2) and
 * 0xCFC-0xCFF (CONFIG_DATA, byte, word or dword at the low address bits).
 *
 * <p>Device 0 is the bridge itself (Intel's Q35 DRAM controller id, class "host bridge",
 * which Linux's pci_sanity_check looks for). Every other slot holds at most one function;
 * an empty slot, function 1-7, another bus or a disabled CONFIG_ADDRESS reads all ones, so
 * the guest sees vendor id 0xFFFF, "nothing here".
 *
 * <p>INTx: the slot's INTA# goes to GSI {@link #intxGsi}; slots whose swizzle lands on the
 * same GSI share it as a wired-OR, the way PCI interrupt lines are shared on a board.
 */
public final class PciHostBridge implements PciBus, Device {

    public static final int CONFIG_ADDRESS_PORT = 0xCF8;
    public static final int CONFIG_DATA_PORT = 0xCFC;
    /** Device slots on bus 0. */
    public static final int SLOTS = 32;
    /** The bridge's own identity: Intel 82Q35 (Q35) DRAM controller, class 06/00/00 host bridge. */
    public static final int VENDOR_INTEL = 0x8086;
    public static final int DEVICE_Q35_HOST = 0x29C0;
    public static final int CLASS_HOST_BRIDGE = 0x06_00_00;
    /** The first IOAPIC pin the board gives PCI interrupts. */
    public static final int FIRST_PCI_GSI = 16;
    /** How many IOAPIC pins PCI interrupts are spread over. */
    public static final int PCI_GSIS = 8;

    private static final String ID = "pci-host";
    private static final String STATE_SECTION = "pci-host-bridge";
    private static final int STATE_VERSION = 1;
    private static final int ENABLE = 0x8000_0000;
    private static final int PORTS = 8;

    private final IrqChip irqChip;
    private final Slot[] slots = new Slot[SLOTS];
    private final WiredOr[] wires = new WiredOr[PCI_GSIS];
    private final HostBridgeFunction self = new HostBridgeFunction();
    private final IoBus.Registration ports;
    private int address;

    /**
     * Claims ports 0xCF8-0xCFF on {@code portIo}; INTx lines are taken from {@code irqChip},
     * which must offer GSIs 16-23.
     */
    public PciHostBridge(IoBus portIo, IrqChip irqChip) {
        this.irqChip = irqChip;
        slots[0] = new Slot(0, "host bridge", self, null);
        ports = portIo.register(CONFIG_ADDRESS_PORT, PORTS, ID, new ConfigPorts());
    }

    /**
     * The GSI that interrupt pin {@code pin} (0 = INTA# ... 3 = INTD#) of device {@code device}
     * on bus 0 is wired to: {@code 16 + ((device + pin) & 7)}, the usual PCI swizzle spread over
     * IOAPIC pins 16-23. The MP table's interrupt entries are written with this same function,
     * so the guest's view of the routing and the wiring here cannot disagree.
     */
    public static int intxGsi(int device, int pin) {
        if (device < 0 || device >= SLOTS || pin < 0 || pin > 3) {
            throw new IllegalArgumentException("no PCI interrupt pin " + pin + " on device " + device);
        }
        return FIRST_PCI_GSI + ((device + pin) & (PCI_GSIS - 1));
    }

    @Override
    public synchronized PciSlot attach(PciFunction function, int slot, String owner) {
        int device;
        if (slot == -1) {
            device = firstFreeSlot();
            if (device < 0) {
                throw new IllegalStateException("PCI bus 0 is full: all " + (SLOTS - 1)
                        + " device slots are taken; cannot attach " + owner);
            }
        } else {
            if (slot < 0 || slot >= SLOTS) {
                throw new IllegalArgumentException(owner + " asks for PCI slot " + slot
                        + "; bus 0 has slots 1 to " + (SLOTS - 1));
            }
            if (slots[slot] != null) {
                throw new IllegalStateException(String.format(
                        "PCI slot 00:%02x.0 is taken by %s; cannot attach %s there", slot, slots[slot].owner(), owner));
            }
            device = slot;
        }
        int gsi = intxGsi(device, 0);
        IrqLine line = wire(gsi).input(device);
        Slot placed = new Slot(device, owner, function, line);
        slots[device] = placed;
        // Firmware's job on a PC: tell the OS in the interrupt line register where INTA# goes.
        if (function.configRead(PciConfigHeader.INTERRUPT_PIN, 1) == 1) {
            function.configWrite(PciConfigHeader.INTERRUPT_LINE, 1, gsi);
        }
        return placed;
    }

    /** The attached functions' slots, in device order, the bridge itself left out (for the MP table). */
    public synchronized List<PciSlot> attachedSlots() {
        List<PciSlot> list = new ArrayList<>();
        for (int d = 1; d < SLOTS; d++) {
            if (slots[d] != null) {
                list.add(slots[d]);
            }
        }
        return list;
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public synchronized void reset() {
        address = 0;
        self.reset();
    }

    @Override
    public void close() {
        ports.close();
    }

    /** Saves CONFIG_ADDRESS and the bridge's own header; attached functions save their own state. */
    @Override
    public synchronized void saveState(StateWriter out) {
        StateWriter s = out.section(STATE_SECTION, STATE_VERSION);
        s.putInt("configAddress", address);
        self.save(s);
    }

    @Override
    public synchronized void restoreState(StateReader in) throws StateException {
        StateReader s = in.section(STATE_SECTION).expect(STATE_SECTION, 1, STATE_VERSION);
        int saved = s.getInt("configAddress");
        self.restore(s);
        address = saved;
    }

    private int firstFreeSlot() {
        for (int d = 1; d < SLOTS; d++) {
            if (slots[d] == null) {
                return d;
            }
        }
        return -1;
    }

    private WiredOr wire(int gsi) {
        int i = gsi - FIRST_PCI_GSI;
        if (wires[i] == null) {
            wires[i] = new WiredOr(irqChip.line(gsi));
        }
        return wires[i];
    }

    /** The function CONFIG_ADDRESS selects now, or null for "nobody answers". */
    private PciFunction selected() {
        if ((address & ENABLE) == 0) {
            return null;
        }
        int bus = (address >>> 16) & 0xFF;
        int device = (address >>> 11) & 0x1F;
        int function = (address >>> 8) & 0x7;
        // Bits 27:24 are the extended register number of AMD's extended mechanism; a register
        // beyond the 256-byte space has no function behind it here.
        int extended = (address >>> 24) & 0x0F;
        if (bus != 0 || function != 0 || extended != 0 || slots[device] == null) {
            return null;
        }
        return slots[device].occupant;
    }

    private static long allOnes(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    /** Ports 0xCF8-0xCFF. */
    private final class ConfigPorts implements IoHandler {

        @Override
        public long read(long offset, int size) {
            synchronized (PciHostBridge.this) {
                if (offset < 4) {
                    // Only a dword access is CONFIG_ADDRESS; narrower ones (0xCF9 reset
                    // control, 0xCFB) are other chipset registers not emulated here.
                    return offset == 0 && size == 4 ? address & 0xFFFF_FFFFL : allOnes(size);
                }
                int at = (int) offset - 4;
                PciFunction function = selected();
                if (function == null || at + size > 4) {
                    return allOnes(size);
                }
                return function.configRead((address & 0xFC) + at, size) & allOnes(size);
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (PciHostBridge.this) {
                if (offset < 4) {
                    if (offset == 0 && size == 4) {
                        address = (int) value;
                    }
                    return;
                }
                int at = (int) offset - 4;
                PciFunction function = selected();
                if (function != null && at + size <= 4) {
                    function.configWrite((address & 0xFC) + at, size, (int) value);
                }
            }
        }
    }

    /** One occupied slot. */
    private record Slot(int device, String owner, PciFunction occupant, IrqLine intx) implements PciSlot {
        @Override
        public int bus() {
            return 0;
        }

        @Override
        public int function() {
            return 0;
        }
    }

    /** PCI interrupt lines are open-drain: the GSI is high while any slot on it asserts. */
    private static final class WiredOr {
        private final IrqLine gsi;
        private int asserted;

        WiredOr(IrqLine gsi) {
            this.gsi = gsi;
        }

        IrqLine input(int device) {
            int bit = 1 << device;
            return new IrqLine() {
                @Override
                public int gsi() {
                    return gsi.gsi();
                }

                @Override
                public void set(boolean level) {
                    synchronized (WiredOr.this) {
                        boolean before = asserted != 0;
                        asserted = level ? asserted | bit : asserted & ~bit;
                        boolean after = asserted != 0;
                        if (before != after) {
                            gsi.set(after);
                        }
                    }
                }
            };
        }
    }

    /** Device 0: the host bridge's own header. It has no BARs, so it needs no bus. */
    private static final class HostBridgeFunction extends PciConfigHeader {
        HostBridgeFunction() {
            super("host bridge", new Identity(VENDOR_INTEL, DEVICE_Q35_HOST, CLASS_HOST_BRIDGE, 0, 0, 0), null, null);
        }

        void reset() {
            resetHeader();
        }

        void save(StateWriter out) {
            saveHeader(out);
        }

        void restore(StateReader in) throws StateException {
            restoreHeader(in);
        }
    }
}
