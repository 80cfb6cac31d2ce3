package org.vireo.api.pci;

import java.util.ArrayList;
import java.util.List;

import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The type-0 configuration header of a PCI function (PCI Local Bus spec 3.0 §6.1, §6.2),
 * which every PCI device of Vireo extends: identity registers, command and status, six base
 * address registers, the interrupt line and pin, and the capability list (§6.7).
 *
 * <p>A subclass declares its BARs and capabilities in its constructor; the header then
 * behaves as the spec says without further help: read-only bits keep their value, status
 * error bits are write-one-to-clear, writing all ones to a BAR reads back its size mask
 * (§6.2.5.1), and a BAR whose decode is enabled in the command register is registered on
 * the port or MMIO bus at the address the guest wrote, moving when the guest moves it and
 * released when decode is disabled.
 *
 * <p>The guest can program nonsense (two BARs on top of each other, an I/O BAR above 64 KiB):
 * such a BAR is simply left unmapped, as a PC leaves an undecodable address to nobody; no
 * exception reaches the vCPU.
 *
 * <p>Thread safety: configuration accesses, BAR moves and {@link #setIntx} are serialized on
 * this object; the BAR handlers themselves are called by the bus without this lock.
 */
public abstract class PciConfigHeader implements PciFunction {

    /** Register offsets of the type-0 header, PCI Local Bus spec 3.0 §6.1 figure 6-1. */
    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    public static final int CLASS_CODE = 0x09;
    public static final int CACHE_LINE_SIZE = 0x0C;
    public static final int LATENCY_TIMER = 0x0D;
    public static final int HEADER_TYPE = 0x0E;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2C;
    public static final int SUBSYSTEM_ID = 0x2E;
    public static final int EXPANSION_ROM = 0x30;
    public static final int CAPABILITIES_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3C;
    public static final int INTERRUPT_PIN = 0x3D;

    /** Command register bits, §6.2.2. */
    public static final int COMMAND_IO_SPACE = 0x0001;
    public static final int COMMAND_MEMORY_SPACE = 0x0002;
    public static final int COMMAND_BUS_MASTER = 0x0004;
    public static final int COMMAND_PARITY_ERROR_RESPONSE = 0x0040;
    public static final int COMMAND_SERR_ENABLE = 0x0100;
    public static final int COMMAND_INTX_DISABLE = 0x0400;

    /** Status register bits, §6.2.3. */
    public static final int STATUS_INTERRUPT = 0x0008;
    public static final int STATUS_CAPABILITIES_LIST = 0x0010;

    /** Number of base address registers in a type-0 header. */
    public static final int BAR_COUNT = 6;

    private static final int CONFIG_SIZE = 256;
    /** Capabilities live after the 64-byte header, dword aligned (§6.7). */
    private static final int CAPABILITIES_START = 0x40;
    private static final int WRITABLE_COMMAND = COMMAND_IO_SPACE | COMMAND_MEMORY_SPACE | COMMAND_BUS_MASTER
            | COMMAND_PARITY_ERROR_RESPONSE | COMMAND_SERR_ENABLE | COMMAND_INTX_DISABLE;
    /** Master data parity error (bit 8) and the error bits 11-15 are write-one-to-clear. */
    private static final int CLEARABLE_STATUS = 0xF900;
    private static final int BAR_IO = 0x1;
    private static final int BAR_MEMORY_64 = 0x4;
    private static final int BAR_PREFETCHABLE = 0x8;
    private static final int STATE_VERSION = 1;
    private static final String STATE_SECTION = "pciConfig";

    /** The identity registers of a function (§6.2.1). {@code classCode} is class, subclass, prog-if: 0xCCSSPP. */
    public record Identity(int vendorId, int deviceId, int classCode, int revision,
            int subsystemVendorId, int subsystemId) {

        public Identity {
            check("vendorId", vendorId, 0xFFFF);
            check("deviceId", deviceId, 0xFFFF);
            check("classCode", classCode, 0xFF_FFFF);
            check("revision", revision, 0xFF);
            check("subsystemVendorId", subsystemVendorId, 0xFFFF);
            check("subsystemId", subsystemId, 0xFFFF);
            if (vendorId == 0xFFFF) {
                throw new IllegalArgumentException("vendor id 0xffff means 'no function' (§6.2.1)");
            }
        }

        private static void check(String field, int value, int max) {
            if (value < 0 || value > max) {
                throw new IllegalArgumentException(String.format("%s 0x%x is out of range 0-0x%x", field, value, max));
            }
        }
    }

    /** What a BAR decodes. */
    public enum BarKind {
        /** I/O space, at most 256 bytes (§6.2.5.1). */
        IO,
        /** Memory below 4 GiB. */
        MEMORY32,
        /** Memory anywhere in the 64-bit space; takes two BAR slots. */
        MEMORY64
    }

    /**
     * Reacts to guest accesses of a capability's bytes: a device refreshes bytes before a read
     * (for example a window into a BAR) and acts on what the guest wrote (an enable bit).
     * Offsets are relative to the capability's first byte, its ID.
     */
    public interface CapabilityHook {

        /** Called before the guest reads {@code size} bytes at {@code offset}. */
        default void beforeRead(Capability capability, int offset, int size) {
        }

        /** Called after a guest write to {@code size} bytes at {@code offset} has updated the writable bits. */
        default void afterWrite(Capability capability, int offset, int size) {
        }
    }

    private static final CapabilityHook NO_HOOK = new CapabilityHook() { };

    private final String name;
    private final IoBus portIo;
    private final IoBus mmio;
    private final byte[] config = new byte[CONFIG_SIZE];
    /** Bits the guest may write. */
    private final byte[] writable = new byte[CONFIG_SIZE];
    /** Bits a guest write of one clears. */
    private final byte[] clearable = new byte[CONFIG_SIZE];
    private final Bar[] bars = new Bar[BAR_COUNT];
    private final List<Capability> capabilities = new ArrayList<>();
    private int nextCapabilityOffset = CAPABILITIES_START;
    private PciBus.PciSlot slot;
    private boolean intxAsserted;
    private boolean intxDriven;

    /**
     * @param name who the function is, for bus registrations and messages ("disk0")
     * @param identity the read-only identity registers
     * @param portIo the port bus I/O BARs are registered on; may be null if there are none
     * @param mmio the MMIO bus memory BARs are registered on; may be null if there are none
     */
    protected PciConfigHeader(String name, Identity identity, IoBus portIo, IoBus mmio) {
        this.name = name;
        this.portIo = portIo;
        this.mmio = mmio;
        putLe(VENDOR_ID, 2, identity.vendorId());
        putLe(DEVICE_ID, 2, identity.deviceId());
        putLe(REVISION_ID, 1, identity.revision());
        putLe(CLASS_CODE, 3, identity.classCode());
        putLe(SUBSYSTEM_VENDOR_ID, 2, identity.subsystemVendorId());
        putLe(SUBSYSTEM_ID, 2, identity.subsystemId());
        putLe(HEADER_TYPE, 1, 0x00);
        setMask(writable, COMMAND, 2, WRITABLE_COMMAND);
        setMask(clearable, STATUS, 2, CLEARABLE_STATUS);
        setMask(writable, CACHE_LINE_SIZE, 1, 0xFF);
        setMask(writable, LATENCY_TIMER, 1, 0xFF);
        setMask(writable, INTERRUPT_LINE, 1, 0xFF);
    }

    /** The name given at construction. */
    public final String name() {
        return name;
    }

    // ---------------------------------------------------------------- set-up by subclasses

    /** Declares an I/O BAR of {@code size} bytes (a power of two, 4 to 256) served by {@code handler}. */
    protected final synchronized void defineIoBar(int index, int size, IoHandler handler) {
        defineBar(index, BarKind.IO, size, false, handler);
    }

    /** Declares a 32-bit memory BAR of {@code size} bytes (a power of two, 16 bytes to 2 GiB). */
    protected final synchronized void defineMemoryBar(int index, long size, boolean prefetchable, IoHandler handler) {
        defineBar(index, BarKind.MEMORY32, size, prefetchable, handler);
    }

    /** Declares a 64-bit memory BAR in slots {@code index} and {@code index + 1}. */
    protected final synchronized void defineMemory64Bar(int index, long size, boolean prefetchable, IoHandler handler) {
        defineBar(index, BarKind.MEMORY64, size, prefetchable, handler);
    }

    private void defineBar(int index, BarKind kind, long size, boolean prefetchable, IoHandler handler) {
        int slots = kind == BarKind.MEMORY64 ? 2 : 1;
        if (index < 0 || index + slots > BAR_COUNT) {
            throw new IllegalArgumentException(name + ": BAR index " + index + " does not fit in the "
                    + BAR_COUNT + " BARs of a type-0 header");
        }
        for (int i = index; i < index + slots; i++) {
            if (bars[i] != null || isUpperHalf(i)) {
                throw new IllegalStateException(name + ": BAR" + i + " is already defined");
            }
        }
        long min = kind == BarKind.IO ? 4 : 16;
        long max = switch (kind) {
            case IO -> 256;
            case MEMORY32 -> 1L << 31;
            case MEMORY64 -> 1L << 62;
        };
        if (Long.bitCount(size) != 1 || size < min || size > max) {
            throw new IllegalArgumentException(String.format("%s: BAR%d size 0x%x must be a power of two from 0x%x to 0x%x",
                    name, index, size, min, max));
        }
        if ((kind == BarKind.IO ? portIo : mmio) == null) {
            throw new IllegalStateException(name + ": BAR" + index + " needs the "
                    + (kind == BarKind.IO ? "port I/O" : "MMIO") + " bus, which was not given");
        }
        if (handler == null) {
            throw new IllegalArgumentException(name + ": BAR" + index + " has no handler");
        }
        Bar bar = new Bar(index, kind, size, handler);
        bars[index] = bar;
        int offset = barOffset(index);
        long addressMask = ~(size - 1);
        switch (kind) {
            case IO -> {
                putLe(offset, 4, BAR_IO);
                setMask(writable, offset, 4, (int) addressMask & 0xFFFF_FFFC);
            }
            case MEMORY32 -> {
                putLe(offset, 4, prefetchable ? BAR_PREFETCHABLE : 0);
                setMask(writable, offset, 4, (int) addressMask & 0xFFFF_FFF0);
            }
            case MEMORY64 -> {
                putLe(offset, 4, BAR_MEMORY_64 | (prefetchable ? BAR_PREFETCHABLE : 0));
                setMask(writable, offset, 4, (int) addressMask & 0xFFFF_FFF0);
                setMask(writable, offset + 4, 4, (int) (addressMask >>> 32));
            }
        }
    }

    /** Declares that the function signals INTA# (interrupt pin register = 1, §6.2.4). */
    protected final synchronized void useIntx() {
        config[INTERRUPT_PIN] = 1;
    }

    /**
     * Appends a capability to the list (§6.7). {@code body} is its bytes after the ID and next
     * pointer; the capability starts dword aligned and its next pointer is linked for it. All
     * its bytes are read-only to the guest until {@link Capability#writable} says otherwise.
     *
     * @throws IllegalStateException if the capability does not fit in the 256-byte space
     */
    protected final synchronized Capability addCapability(int id, byte[] body) {
        if (id < 0 || id > 0xFF) {
            throw new IllegalArgumentException(name + ": capability id 0x" + Integer.toHexString(id) + " is not a byte");
        }
        int offset = nextCapabilityOffset;
        int length = body.length + 2;
        if (offset + length > CONFIG_SIZE) {
            throw new IllegalStateException(String.format(
                    "%s: capability 0x%02x of %d bytes does not fit at 0x%02x in the 256-byte configuration space",
                    name, id, length, offset));
        }
        config[offset] = (byte) id;
        config[offset + 1] = 0;
        System.arraycopy(body, 0, config, offset + 2, body.length);
        if (capabilities.isEmpty()) {
            config[CAPABILITIES_POINTER] = (byte) offset;
            putLe(STATUS, 2, getLe(STATUS, 2) | STATUS_CAPABILITIES_LIST);
        } else {
            config[capabilities.get(capabilities.size() - 1).offset + 1] = (byte) offset;
        }
        Capability capability = new Capability(id, offset, length);
        capabilities.add(capability);
        nextCapabilityOffset = (offset + length + 3) & ~3;
        return capability;
    }

    // ---------------------------------------------------------------- firmware-side helpers

    /**
     * Attaches this function to {@code bus} (see {@link PciBus#attach}) and remembers where, so
     * BAR registrations name the slot and {@link #setIntx} reaches the slot's interrupt line.
     */
    public final PciBus.PciSlot attachTo(PciBus bus, int wantedSlot) {
        PciBus.PciSlot placed = bus.attach(this, wantedSlot, name);
        synchronized (this) {
            slot = placed;
            driveIntx();
        }
        return placed;
    }

    /** Where the function was attached by {@link #attachTo}, or null. */
    public final synchronized PciBus.PciSlot slot() {
        return slot;
    }

    /**
     * Programs BAR {@code index} the way firmware does before the OS boots: the address is
     * masked to the BAR's alignment, and the BAR is mapped if decode is already enabled.
     */
    public final synchronized void assignBar(int index, long address) {
        Bar bar = definedBar(index);
        int offset = barOffset(index);
        storeMasked(offset, 4, (int) address);
        if (bar.kind == BarKind.MEMORY64) {
            storeMasked(offset + 4, 4, (int) (address >>> 32));
        }
        updateMappings();
    }

    /** Sets the I/O and memory space enable bits, as firmware does after assigning BARs. */
    public final synchronized void enableDecode() {
        putLe(COMMAND, 2, getLe(COMMAND, 2) | COMMAND_IO_SPACE | COMMAND_MEMORY_SPACE);
        updateMappings();
    }

    /** The address BAR {@code index} holds now (the guest's or firmware's), without its flag bits. */
    public final synchronized long barAddress(int index) {
        return definedBar(index).address();
    }

    /** Whether BAR {@code index} is registered on its bus now. */
    public final synchronized boolean barMapped(int index) {
        return definedBar(index).registration != null;
    }

    // ---------------------------------------------------------------- device-side behaviour

    /**
     * Asserts or deasserts INTx#: sets the interrupt status bit (§6.2.3) and drives the slot's
     * interrupt line unless the guest set Interrupt Disable in the command register.
     */
    protected final synchronized void setIntx(boolean asserted) {
        intxAsserted = asserted;
        int status = getLe(STATUS, 2);
        putLe(STATUS, 2, asserted ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT);
        driveIntx();
    }

    /** Bus master enable: a device must not DMA while this is clear. */
    protected final synchronized boolean busMasterEnabled() {
        return (getLe(COMMAND, 2) & COMMAND_BUS_MASTER) != 0;
    }

    /** Back to the power-on command and status: decode off (BARs unmapped, addresses kept), INTx deasserted. */
    protected final synchronized void resetHeader() {
        putLe(COMMAND, 2, 0);
        putLe(STATUS, 2, capabilities.isEmpty() ? 0 : STATUS_CAPABILITIES_LIST);
        intxAsserted = false;
        updateMappings();
        driveIntx();
    }

    // ---------------------------------------------------------------- PciFunction

    @Override
    public final int configRead(int offset, int size) {
        if (!validAccess(offset, size)) {
            return size == 1 ? 0xFF : size == 2 ? 0xFFFF : -1;
        }
        // Hooks run outside this object's lock so a device may take its own lock in them
        // while its other threads call setIntx (which takes this one).
        for (Capability c : capabilitiesIn(offset, size)) {
            int start = Math.max(offset, c.offset);
            int end = Math.min(offset + size, c.offset + c.length);
            c.hook.beforeRead(c, start - c.offset, end - start);
        }
        synchronized (this) {
            return getLe(offset, size);
        }
    }

    @Override
    public final void configWrite(int offset, int size, int value) {
        if (!validAccess(offset, size)) {
            return;
        }
        synchronized (this) {
            for (int i = 0; i < size; i++) {
                int at = offset + i;
                int b = (value >>> (8 * i)) & 0xFF;
                int old = config[at] & 0xFF;
                int w = writable[at] & 0xFF;
                int next = (old & ~w) | (b & w);
                next &= ~(b & clearable[at] & 0xFF);
                config[at] = (byte) next;
            }
            if (overlaps(offset, size, COMMAND, 2) || overlaps(offset, size, BAR0, 4 * BAR_COUNT)) {
                updateMappings();
            }
            if (overlaps(offset, size, COMMAND, 2)) {
                driveIntx();
            }
        }
        for (Capability c : capabilitiesIn(offset, size)) {
            int start = Math.max(offset, c.offset);
            int end = Math.min(offset + size, c.offset + c.length);
            c.hook.afterWrite(c, start - c.offset, end - start);
        }
    }

    // ---------------------------------------------------------------- save / restore

    /** Writes the header (all 256 bytes, BAR addresses and capabilities included) as a section of {@code out}. */
    protected final synchronized void saveHeader(StateWriter out) {
        StateWriter section = out.section(STATE_SECTION, STATE_VERSION);
        section.putBytes("config", config);
        section.putBoolean("intx", intxAsserted);
    }

    /**
     * Restores what {@link #saveHeader} wrote: guest-writable header bits and capability
     * contents come from the state, read-only header bits stay this function's own. BARs are
     * registered again where the saved header put them.
     *
     * @throws StateException if the section is missing or was saved by another kind of function
     */
    protected final synchronized void restoreHeader(StateReader in) throws StateException {
        StateReader section = in.section(STATE_SECTION).expect(STATE_SECTION, 1, STATE_VERSION);
        byte[] saved = section.getBytes("config", CONFIG_SIZE);
        boolean intx = section.getBoolean("intx");
        for (int at : new int[] {VENDOR_ID, DEVICE_ID, SUBSYSTEM_VENDOR_ID, SUBSYSTEM_ID}) {
            int mine = getLe(at, 2);
            int theirs = (saved[at] & 0xFF) | (saved[at + 1] & 0xFF) << 8;
            if (mine != theirs) {
                throw new StateException(String.format(
                        "state of PCI function %s has id 0x%04x at offset 0x%02x, this function has 0x%04x",
                        name, theirs, at, mine));
            }
        }
        for (int at = 0; at < CAPABILITIES_START; at++) {
            int keep = ~(writable[at] | clearable[at]);
            config[at] = (byte) ((config[at] & keep) | (saved[at] & ~keep));
        }
        boolean[] capabilityHeader = new boolean[CONFIG_SIZE];
        for (Capability c : capabilities) {
            capabilityHeader[c.offset] = true;
            capabilityHeader[c.offset + 1] = true;
        }
        for (int at = CAPABILITIES_START; at < CONFIG_SIZE; at++) {
            if (!capabilityHeader[at]) {
                config[at] = saved[at];
            }
        }
        intxAsserted = intx;
        int status = getLe(STATUS, 2) & ~STATUS_INTERRUPT;
        putLe(STATUS, 2, intx ? status | STATUS_INTERRUPT : status);
        updateMappings();
        driveIntx();
    }

    // ---------------------------------------------------------------- internals

    private void updateMappings() {
        int command = getLe(COMMAND, 2);
        for (Bar bar : bars) {
            if (bar == null) {
                continue;
            }
            boolean decode = (command & (bar.kind == BarKind.IO ? COMMAND_IO_SPACE : COMMAND_MEMORY_SPACE)) != 0;
            long address = bar.address();
            boolean wanted = decode && bar.decodable(address);
            if (bar.registration != null && (!wanted || bar.registration.base() != address)) {
                bar.registration.close();
                bar.registration = null;
            }
            if (wanted && bar.registration == null) {
                IoBus bus = bar.kind == BarKind.IO ? portIo : mmio;
                try {
                    bar.registration = bus.register(address, bar.size, barOwner(bar.index), bar.handler);
                } catch (RuntimeException guestConflict) {
                    // The guest placed the BAR over another range or outside the space: nobody
                    // decodes it, as on real hardware with a misprogrammed BAR.
                    bar.registration = null;
                }
            }
        }
    }

    private String barOwner(int index) {
        if (slot == null) {
            return name + " BAR" + index;
        }
        return String.format("%s (pci %02x:%02x.%x) BAR%d", name, slot.bus(), slot.device(), slot.function(), index);
    }

    private void driveIntx() {
        boolean level = intxAsserted && (getLe(COMMAND, 2) & COMMAND_INTX_DISABLE) == 0;
        if (slot != null && level != intxDriven) {
            intxDriven = level;
            slot.intx().set(level);
        }
    }

    private synchronized List<Capability> capabilitiesIn(int offset, int size) {
        List<Capability> touched = new ArrayList<>(1);
        for (Capability c : capabilities) {
            if (overlaps(offset, size, c.offset, c.length)) {
                touched.add(c);
            }
        }
        return touched;
    }

    private Bar definedBar(int index) {
        if (index < 0 || index >= BAR_COUNT || bars[index] == null) {
            throw new IllegalArgumentException(name + ": BAR" + index + " is not defined");
        }
        return bars[index];
    }

    private boolean isUpperHalf(int index) {
        return index > 0 && bars[index - 1] != null && bars[index - 1].kind == BarKind.MEMORY64;
    }

    private static int barOffset(int index) {
        return BAR0 + 4 * index;
    }

    private static boolean validAccess(int offset, int size) {
        return (size == 1 || size == 2 || size == 4) && offset >= 0 && offset + size <= CONFIG_SIZE;
    }

    private static boolean overlaps(int offset, int size, int start, int length) {
        return offset < start + length && start < offset + size;
    }

    private void storeMasked(int offset, int size, int value) {
        for (int i = 0; i < size; i++) {
            int w = writable[offset + i] & 0xFF;
            int b = (value >>> (8 * i)) & 0xFF;
            config[offset + i] = (byte) ((config[offset + i] & ~w) | (b & w));
        }
    }

    private int getLe(int offset, int size) {
        int v = 0;
        for (int i = 0; i < size; i++) {
            v |= (config[offset + i] & 0xFF) << (8 * i);
        }
        return v;
    }

    private void putLe(int offset, int size, int value) {
        for (int i = 0; i < size; i++) {
            config[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    private static void setMask(byte[] mask, int offset, int size, int value) {
        for (int i = 0; i < size; i++) {
            mask[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    /** One declared BAR and where it is registered now. */
    private final class Bar {
        final int index;
        final BarKind kind;
        final long size;
        final IoHandler handler;
        IoBus.Registration registration;

        Bar(int index, BarKind kind, long size, IoHandler handler) {
            this.index = index;
            this.kind = kind;
            this.size = size;
            this.handler = handler;
        }

        long address() {
            int offset = barOffset(index);
            long low = getLe(offset, 4) & 0xFFFF_FFFFL;
            return switch (kind) {
                case IO -> low & ~0x3L;
                case MEMORY32 -> low & ~0xFL;
                case MEMORY64 -> (low & ~0xFL) | (getLe(offset + 4, 4) & 0xFFFF_FFFFL) << 32;
            };
        }

        /** Address 0 means "not assigned"; a range that leaves its space cannot be decoded. */
        boolean decodable(long address) {
            if (address == 0) {
                return false;
            }
            long end = address + size;
            return switch (kind) {
                case IO -> end <= 0x1_0000L;
                case MEMORY32 -> end <= 0x1_0000_0000L;
                case MEMORY64 -> Long.compareUnsigned(end, address) > 0;
            };
        }
    }

    /** A capability in the list: its place, and the device's view of its bytes. */
    public final class Capability {
        private final int id;
        private final int offset;
        private final int length;
        private volatile CapabilityHook hook = NO_HOOK;

        private Capability(int id, int offset, int length) {
            this.id = id;
            this.offset = offset;
            this.length = length;
        }

        public int id() {
            return id;
        }

        /** Offset of the capability's ID byte in configuration space. */
        public int offset() {
            return offset;
        }

        /** Length in bytes, ID and next pointer included. */
        public int length() {
            return length;
        }

        /** Reads {@code size} bytes at {@code at} (relative to the ID byte), little-endian. */
        public int read(int at, int size) {
            checkRange(at, size);
            synchronized (PciConfigHeader.this) {
                return getLe(offset + at, size);
            }
        }

        /** Device-side update of {@code size} bytes at {@code at}, regardless of what the guest may write. */
        public void write(int at, int size, int value) {
            checkRange(at, size);
            if (at < 2) {
                throw new IllegalArgumentException(name + ": the ID and next pointer of a capability are not the device's to write");
            }
            synchronized (PciConfigHeader.this) {
                putLe(offset + at, size, value);
            }
        }

        /** Lets the guest write the bits of {@code mask} in the {@code size} bytes at {@code at}. */
        public Capability writable(int at, int size, int mask) {
            checkRange(at, size);
            if (at < 2) {
                throw new IllegalArgumentException(name + ": the ID and next pointer of a capability are read-only");
            }
            synchronized (PciConfigHeader.this) {
                setMask(writable, offset + at, size, mask);
            }
            return this;
        }

        /** Sets the hook called around guest accesses. */
        public Capability hook(CapabilityHook newHook) {
            hook = newHook == null ? NO_HOOK : newHook;
            return this;
        }

        private void checkRange(int at, int size) {
            if (size < 1 || size > 4 || at < 0 || at + size > length) {
                throw new IllegalArgumentException(String.format("%s: %d bytes at %d are outside capability 0x%02x of %d bytes",
                        name, size, at, id, length));
            }
        }
    }
}
