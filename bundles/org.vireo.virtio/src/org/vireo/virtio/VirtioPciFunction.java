package org.vireo.virtio;

import java.util.logging.Level;
import java.util.logging.Logger;

import org.vireo.api.bus.IoHandler;
import org.vireo.api.device.Device;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.irq.MsiMessage;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.pci.PciConfigHeader;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The virtio 1.x modern PCI transport (virtio 1.2 §4.1) around one {@link VirtioDevice}.
 *
 * <p>Layout: BAR4 (64-bit memory, 16 KiB) holds the common configuration at 0x0000, the ISR
 * byte at 0x1000, the device configuration at 0x2000 and the notification area at 0x3000
 * (queue n's doorbell at n * 4); BAR1 (32-bit memory, 4 KiB) holds the MSI-X table at 0x000
 * and its pending-bit array at 0x800, one vector per queue plus one for configuration changes.
 * Vendor-specific capabilities point the driver at each area; INTx with the ISR register is the
 * fallback while MSI-X is off. The function is transitional-free: device id 0x1040 + type,
 * revision 1, VIRTIO_F_VERSION_1 required.
 */
public final class VirtioPciFunction extends PciConfigHeader implements Device, VirtioTransport {

    private static final Logger LOG = Logger.getLogger(VirtioPciFunction.class.getName());

    static final int VENDOR_VIRTIO = 0x1af4, DEVICE_ID_BASE = 0x1040, SUBSYSTEM_ID = 0x1100;

    /** Device status bits (§2.1). */
    static final int ACKNOWLEDGE = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, DEVICE_NEEDS_RESET = 64,
            FAILED = 128;

    /** BAR4's areas. */
    static final int COMMON = 0x0000, ISR = 0x1000, DEVICE_CONFIG = 0x2000, NOTIFY = 0x3000, BAR4_SIZE = 0x4000;
    static final int NOTIFY_MULTIPLIER = 4;
    static final int COMMON_SIZE = 0x40, DEVICE_CONFIG_MAX = 0x1000;

    /** virtio_pci_cap cfg_type values (§4.1.4). */
    private static final int CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4;
    private static final int CAP_VENDOR = 0x09, CAP_MSIX = 0x11;
    private static final int BAR_MSIX = 1, BAR_VIRTIO = 4;
    static final int MSIX_TABLE = 0x000, MSIX_PBA = 0x800, MSIX_BAR_SIZE = 0x1000;
    private static final int MSIX_ENABLE = 1 << 15, MSIX_FUNCTION_MASK = 1 << 14;
    static final int NO_VECTOR = 0xffff;

    /** Common configuration registers (§4.1.4.3). */
    static final int DEVICE_FEATURE_SELECT = 0x00, DEVICE_FEATURE = 0x04, DRIVER_FEATURE_SELECT = 0x08,
            DRIVER_FEATURE = 0x0c, CONFIG_MSIX_VECTOR = 0x10, NUM_QUEUES = 0x12, DEVICE_STATUS = 0x14,
            CONFIG_GENERATION = 0x15, QUEUE_SELECT = 0x16, QUEUE_SIZE = 0x18, QUEUE_MSIX_VECTOR = 0x1a,
            QUEUE_ENABLE = 0x1c, QUEUE_NOTIFY_OFF = 0x1e, QUEUE_DESC = 0x20, QUEUE_DRIVER = 0x28,
            QUEUE_DEVICE = 0x30;

    private final String id;
    private final VirtioDevice device;
    private final GuestMemory memory;
    private final IrqChip irqChip;
    private final long offeredFeatures;
    private final Virtqueue[] queues;
    private final QueueRegisters[] queueRegisters;
    private final Capability msixCapability;
    private final int vectors;
    private final long[] msixAddress;
    private final int[] msixData;
    private final boolean[] msixMasked;
    private final boolean[] msixPending;

    private int deviceFeatureSelect, driverFeatureSelect;
    private long driverFeatures;
    private int status;
    private int configGeneration;
    private int queueSelect;
    private int configVector = NO_VECTOR;
    private int isr;
    private boolean active;

    /** What the driver wrote for one queue before enabling it. */
    private static final class QueueRegisters {
        int size;
        int vector = NO_VECTOR;
        boolean enabled;
        long desc, driver, device;
    }

    /**
     * Creates the function for {@code device} and puts it on the machine's PCI bus.
     *
     * @param slot the PCI device number wanted, or -1 for the next free one
     */
    public VirtioPciFunction(String id, VirtioDevice device, DeviceContext context, int slot) {
        super(id, new Identity(VENDOR_VIRTIO, DEVICE_ID_BASE + device.deviceType(), device.pciClass(), 1,
                VENDOR_VIRTIO, SUBSYSTEM_ID), context.machine().portIo(), context.machine().mmio());
        if (device.configSize() > DEVICE_CONFIG_MAX) {
            throw new IllegalArgumentException(id + ": device configuration of " + device.configSize()
                    + " bytes does not fit its 4 KiB window");
        }
        this.id = id;
        this.device = device;
        this.memory = context.machine().memory();
        this.irqChip = context.irqChip();
        this.offeredFeatures = device.deviceFeatures() | VirtioDevice.F_VERSION_1 | VirtioDevice.F_INDIRECT_DESC
                | VirtioDevice.F_EVENT_IDX;
        int n = device.queueCount();
        this.queues = new Virtqueue[n];
        this.queueRegisters = new QueueRegisters[n];
        for (int q = 0; q < n; q++) {
            queues[q] = new Virtqueue(memory, q, device.queueMaxSize(q));
            queueRegisters[q] = new QueueRegisters();
            queueRegisters[q].size = device.queueMaxSize(q);
        }
        this.vectors = n + 1;
        this.msixAddress = new long[vectors];
        this.msixData = new int[vectors];
        this.msixMasked = new boolean[vectors];
        this.msixPending = new boolean[vectors];
        java.util.Arrays.fill(msixMasked, true);

        defineMemoryBar(BAR_MSIX, MSIX_BAR_SIZE, false, new MsixBar());
        defineMemory64Bar(BAR_VIRTIO, BAR4_SIZE, false, new VirtioBar());
        useIntx();
        addCapability(CAP_VENDOR, virtioCap(CAP_COMMON, COMMON, COMMON_SIZE, -1));
        addCapability(CAP_VENDOR, virtioCap(CAP_ISR, ISR, 1, -1));
        if (device.configSize() > 0) {
            addCapability(CAP_VENDOR, virtioCap(CAP_DEVICE, DEVICE_CONFIG, device.configSize(), -1));
        }
        addCapability(CAP_VENDOR, virtioCap(CAP_NOTIFY, NOTIFY, n * NOTIFY_MULTIPLIER, NOTIFY_MULTIPLIER));
        byte[] msix = new byte[10];
        putLe(msix, 0, 2, vectors - 1);
        putLe(msix, 2, 4, MSIX_TABLE | BAR_MSIX);
        putLe(msix, 6, 4, MSIX_PBA | BAR_MSIX);
        this.msixCapability = addCapability(CAP_MSIX, msix).writable(2, 2, MSIX_ENABLE | MSIX_FUNCTION_MASK)
                .hook(new CapabilityHook() {
                    @Override
                    public void afterWrite(Capability capability, int offset, int size) {
                        deliverPending();
                    }
                });
        attachTo(context.pciBus(), slot);
    }

    /** A virtio_pci_cap (§4.1.4): its bytes after the ID and next pointer. */
    private static byte[] virtioCap(int type, int offset, int length, int notifyMultiplier) {
        byte[] b = new byte[notifyMultiplier < 0 ? 14 : 18];
        b[0] = (byte) (b.length + 2); // cap_len
        b[1] = (byte) type;
        b[2] = BAR_VIRTIO;
        putLe(b, 6, 4, offset);
        putLe(b, 10, 4, length);
        if (notifyMultiplier >= 0) {
            putLe(b, 14, 4, notifyMultiplier);
        }
        return b;
    }

    private static void putLe(byte[] b, int at, int size, long value) {
        for (int i = 0; i < size; i++) {
            b[at + i] = (byte) (value >>> (8 * i));
        }
    }

    // ---------------------------------------------------------------- VirtioTransport

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public synchronized long negotiatedFeatures() {
        return driverFeatures;
    }

    @Override
    public Virtqueue queue(int index) {
        return queues[index];
    }

    @Override
    public void usedBuffers(int index) {
        if (queues[index].needsInterrupt()) {
            interrupt(queueRegisters[index].vector, 1);
        }
    }

    @Override
    public synchronized void configChanged() {
        configGeneration++;
        interrupt(configVector, 2);
    }

    @Override
    public void needsReset(String why) {
        LOG.log(Level.WARNING, id + ": the driver broke the virtio protocol, the device needs a reset: " + why);
        synchronized (this) {
            status |= DEVICE_NEEDS_RESET;
        }
        configChanged();
    }

    /** An MSI-X message on {@code vector}, or with MSI-X off the ISR bit {@code isrBit} and INTx. */
    private synchronized void interrupt(int vector, int isrBit) {
        if ((msixCapability.read(2, 2) & MSIX_ENABLE) != 0) {
            if (vector == NO_VECTOR || vector >= vectors) {
                return;
            }
            if (msixMasked[vector] || (msixCapability.read(2, 2) & MSIX_FUNCTION_MASK) != 0) {
                msixPending[vector] = true;
                return;
            }
            irqChip.signalMsi(new MsiMessage(msixAddress[vector], msixData[vector]));
        } else {
            isr |= isrBit;
            setIntx(true);
        }
    }

    private synchronized void deliverPending() {
        if ((msixCapability.read(2, 2) & (MSIX_ENABLE | MSIX_FUNCTION_MASK)) != MSIX_ENABLE) {
            return;
        }
        for (int v = 0; v < vectors; v++) {
            if (msixPending[v] && !msixMasked[v]) {
                msixPending[v] = false;
                irqChip.signalMsi(new MsiMessage(msixAddress[v], msixData[v]));
            }
        }
    }

    // ---------------------------------------------------------------- BAR4: common config, ISR, device config, notify

    private final class VirtioBar implements IoHandler {
        @Override
        public long read(long offset, int size) {
            int at = (int) offset;
            if (at < COMMON + COMMON_SIZE) {
                return commonRead(at, size);
            }
            if (at == ISR) {
                return readIsr();
            }
            if (at >= DEVICE_CONFIG && at + size <= DEVICE_CONFIG + device.configSize()) {
                return device.readConfig(at - DEVICE_CONFIG, size);
            }
            return 0;
        }

        @Override
        public void write(long offset, int size, long value) {
            int at = (int) offset;
            if (at < COMMON + COMMON_SIZE) {
                commonWrite(at, size, value);
            } else if (at >= DEVICE_CONFIG && at + size <= DEVICE_CONFIG + device.configSize()) {
                device.writeConfig(at - DEVICE_CONFIG, size, value);
            } else if (at >= NOTIFY && at < NOTIFY + queues.length * NOTIFY_MULTIPLIER) {
                notifyQueue((at - NOTIFY) / NOTIFY_MULTIPLIER);
            }
        }
    }

    private synchronized int readIsr() {
        int value = isr;
        isr = 0;
        setIntx(false);
        return value;
    }

    private void notifyQueue(int q) {
        synchronized (this) {
            if (!active || (status & DEVICE_NEEDS_RESET) != 0 || !queues[q].ready()) {
                return;
            }
        }
        device.queueNotified(q);
    }

    private synchronized long commonRead(int at, int size) {
        QueueRegisters q = queueSelect < queues.length ? queueRegisters[queueSelect] : null;
        long value = switch (at & ~(size >= 4 ? 3 : size - 1)) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect;
            case DEVICE_FEATURE -> deviceFeatureSelect < 2 ? (offeredFeatures >>> (32 * deviceFeatureSelect)) & 0xffffffffL : 0;
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect;
            case DRIVER_FEATURE -> driverFeatureSelect < 2 ? (driverFeatures >>> (32 * driverFeatureSelect)) & 0xffffffffL : 0;
            case CONFIG_MSIX_VECTOR -> configVector;
            case NUM_QUEUES -> queues.length;
            case DEVICE_STATUS -> status;
            case CONFIG_GENERATION -> configGeneration & 0xff;
            case QUEUE_SELECT -> queueSelect;
            case QUEUE_SIZE -> q == null ? 0 : q.size;
            case QUEUE_MSIX_VECTOR -> q == null ? NO_VECTOR : q.vector;
            case QUEUE_ENABLE -> q != null && q.enabled ? 1 : 0;
            case QUEUE_NOTIFY_OFF -> q == null ? 0 : queueSelect;
            case QUEUE_DESC -> q == null ? 0 : q.desc;
            case QUEUE_DESC + 4 -> q == null ? 0 : q.desc >>> 32;
            case QUEUE_DRIVER -> q == null ? 0 : q.driver;
            case QUEUE_DRIVER + 4 -> q == null ? 0 : q.driver >>> 32;
            case QUEUE_DEVICE -> q == null ? 0 : q.device;
            case QUEUE_DEVICE + 4 -> q == null ? 0 : q.device >>> 32;
            default -> 0;
        };
        return size == 8 ? value : value & ((1L << (8 * size)) - 1);
    }

    private void commonWrite(int at, int size, long value) {
        VirtioDevice toActivate = null;
        boolean resetNow = false;
        synchronized (this) {
            QueueRegisters q = queueSelect < queues.length ? queueRegisters[queueSelect] : null;
            boolean queueLive = q != null && q.enabled;
            switch (at) {
                case DEVICE_FEATURE_SELECT -> deviceFeatureSelect = (int) value;
                case DRIVER_FEATURE_SELECT -> driverFeatureSelect = (int) value;
                case DRIVER_FEATURE -> {
                    if ((status & FEATURES_OK) == 0 && driverFeatureSelect < 2) {
                        int shift = 32 * driverFeatureSelect;
                        driverFeatures = (driverFeatures & ~(0xffffffffL << shift)) | ((value & 0xffffffffL) << shift);
                    }
                }
                case CONFIG_MSIX_VECTOR -> configVector = (int) value & 0xffff;
                case DEVICE_STATUS -> {
                    int next = (int) value & 0xff;
                    if (next == 0) {
                        resetNow = true;
                    } else {
                        if ((next & FEATURES_OK) != 0 && (status & FEATURES_OK) == 0 && !featuresAcceptable()) {
                            next &= ~FEATURES_OK;
                        }
                        if ((next & DRIVER_OK) != 0 && (status & DRIVER_OK) == 0 && (next & FEATURES_OK) != 0) {
                            active = true;
                            toActivate = device;
                        }
                        status = next | (status & DEVICE_NEEDS_RESET);
                    }
                }
                case QUEUE_SELECT -> queueSelect = (int) value & 0xffff;
                case QUEUE_SIZE -> {
                    if (q != null && !queueLive) {
                        q.size = (int) value & 0xffff;
                    }
                }
                case QUEUE_MSIX_VECTOR -> {
                    if (q != null) {
                        int v = (int) value & 0xffff;
                        q.vector = v < vectors ? v : NO_VECTOR; // reading back NO_VECTOR tells the driver it failed
                    }
                }
                case QUEUE_ENABLE -> {
                    if (q != null && !queueLive && (value & 1) != 0) {
                        enableQueue(q);
                    }
                }
                case QUEUE_DESC, QUEUE_DESC + 4, QUEUE_DRIVER, QUEUE_DRIVER + 4, QUEUE_DEVICE, QUEUE_DEVICE + 4 -> {
                    if (q != null && !queueLive) {
                        setAddress(q, at, size, value);
                    }
                }
                default -> {
                    // read-only or reserved
                }
            }
        }
        if (resetNow) {
            reset();
        }
        if (toActivate != null) {
            toActivate.activate(this);
        }
    }

    private boolean featuresAcceptable() {
        if ((driverFeatures & ~offeredFeatures) != 0) {
            LOG.warning(String.format("%s: the driver accepted features 0x%x that were not offered (0x%x)", id,
                    driverFeatures, offeredFeatures));
            return false;
        }
        return (driverFeatures & VirtioDevice.F_VERSION_1) != 0;
    }

    private static void setAddress(QueueRegisters q, int at, int size, long value) {
        int field = at & ~7;
        boolean high = (at & 4) != 0;
        long current = field == QUEUE_DESC ? q.desc : field == QUEUE_DRIVER ? q.driver : q.device;
        long updated;
        if (size == 8) {
            updated = value;
        } else if (high) {
            updated = (current & 0xffffffffL) | (value << 32);
        } else {
            updated = (current & ~0xffffffffL) | (value & 0xffffffffL);
        }
        switch (field) {
            case QUEUE_DESC -> q.desc = updated;
            case QUEUE_DRIVER -> q.driver = updated;
            default -> q.device = updated;
        }
    }

    private void enableQueue(QueueRegisters q) {
        int index = queueSelect;
        try {
            queues[index].configure(q.size, q.desc, q.driver, q.device,
                    (driverFeatures & VirtioDevice.F_EVENT_IDX) != 0);
            q.enabled = true;
        } catch (VirtqueueException e) {
            LOG.log(Level.WARNING, id + ": queue " + index + " cannot be enabled: " + e.getMessage());
            status |= DEVICE_NEEDS_RESET;
        }
    }

    // ---------------------------------------------------------------- BAR1: MSI-X table and PBA (PCI 3.0 §6.8.2)

    private final class MsixBar implements IoHandler {
        @Override
        public long read(long offset, int size) {
            synchronized (VirtioPciFunction.this) {
                int at = (int) offset;
                if (at >= MSIX_PBA) {
                    long bits = 0;
                    for (int v = 0; v < vectors && v < 64; v++) {
                        bits |= msixPending[v] ? 1L << v : 0;
                    }
                    int shift = 8 * (at - MSIX_PBA);
                    return shift >= 64 ? 0 : (bits >>> shift) & (size == 8 ? -1L : (1L << (8 * size)) - 1);
                }
                int v = at / 16;
                if (v >= vectors) {
                    return 0;
                }
                long entry = switch (at % 16 & ~3) {
                    case 0 -> msixAddress[v] & 0xffffffffL;
                    case 4 -> msixAddress[v] >>> 32;
                    case 8 -> msixData[v] & 0xffffffffL;
                    default -> msixMasked[v] ? 1 : 0;
                };
                if (size == 8 && (at % 16) % 8 == 0) {
                    long next = (at % 16) == 0 ? msixAddress[v] >>> 32 : (msixMasked[v] ? 1 : 0);
                    return entry | next << 32;
                }
                return entry;
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            int at = (int) offset;
            if (at >= MSIX_PBA) {
                return; // the pending bits are read-only
            }
            synchronized (VirtioPciFunction.this) {
                int v = at / 16;
                if (v >= vectors) {
                    return;
                }
                writeEntryDword(v, at % 16 & ~3, value);
                if (size == 8) {
                    writeEntryDword(v, (at % 16 & ~3) + 4, value >>> 32);
                }
            }
            deliverPending();
        }
    }

    private void writeEntryDword(int v, int field, long value) {
        switch (field) {
            case 0 -> msixAddress[v] = (msixAddress[v] & ~0xffffffffL) | (value & 0xfffffffcL);
            case 4 -> msixAddress[v] = (msixAddress[v] & 0xffffffffL) | (value << 32);
            case 8 -> msixData[v] = (int) value;
            default -> msixMasked[v] = (value & 1) != 0;
        }
    }

    // ---------------------------------------------------------------- Device

    @Override
    public String id() {
        return id;
    }

    /** Device reset (status 0, §2.1.1) or machine reset: the device stops, every register to its initial value. */
    @Override
    public void reset() {
        device.reset();
        synchronized (this) {
            active = false;
            status = 0;
            driverFeatures = 0;
            deviceFeatureSelect = 0;
            driverFeatureSelect = 0;
            queueSelect = 0;
            configVector = NO_VECTOR;
            isr = 0;
            setIntx(false);
            for (int q = 0; q < queues.length; q++) {
                queues[q].reset();
                queueRegisters[q] = new QueueRegisters();
                queueRegisters[q].size = device.queueMaxSize(q);
            }
        }
    }

    @Override
    public void close() {
        device.close();
    }

    private static final int STATE_VERSION = 1;

    @Override
    public synchronized void saveState(StateWriter out) {
        saveHeader(out);
        StateWriter s = out.section("virtio", STATE_VERSION);
        s.putLongs("registers", new long[] {status, driverFeatures, deviceFeatureSelect, driverFeatureSelect,
            queueSelect, configVector, isr, configGeneration, active ? 1 : 0});
        long[] table = new long[vectors * 4];
        for (int v = 0; v < vectors; v++) {
            table[4 * v] = msixAddress[v];
            table[4 * v + 1] = msixData[v];
            table[4 * v + 2] = msixMasked[v] ? 1 : 0;
            table[4 * v + 3] = msixPending[v] ? 1 : 0;
        }
        s.putLongs("msix", table);
        for (int q = 0; q < queues.length; q++) {
            QueueRegisters r = queueRegisters[q];
            s.putLongs("queue" + q, new long[] {r.size, r.vector, r.enabled ? 1 : 0, r.desc, r.driver, r.device});
            queues[q].saveState(s.section("virtqueue" + q, 1));
        }
        device.saveState(s.section("device", 1));
    }

    @Override
    public synchronized void restoreState(StateReader in) throws StateException {
        StateReader s = in.section("virtio").expect("virtio", 1, STATE_VERSION);
        long[] r = s.getLongs("registers");
        long[] table = s.getLongs("msix");
        if (r.length != 9 || table.length != vectors * 4) {
            throw new StateException("state of virtio device " + id + " has " + table.length / 4
                    + " MSI-X vectors, this device has " + vectors);
        }
        restoreHeader(in);
        status = (int) r[0];
        driverFeatures = r[1];
        deviceFeatureSelect = (int) r[2];
        driverFeatureSelect = (int) r[3];
        queueSelect = (int) r[4];
        configVector = (int) r[5];
        isr = (int) r[6];
        configGeneration = (int) r[7];
        active = r[8] != 0;
        for (int v = 0; v < vectors; v++) {
            msixAddress[v] = table[4 * v];
            msixData[v] = (int) table[4 * v + 1];
            msixMasked[v] = table[4 * v + 2] != 0;
            msixPending[v] = table[4 * v + 3] != 0;
        }
        for (int q = 0; q < queues.length; q++) {
            long[] qr = s.getLongs("queue" + q);
            QueueRegisters reg = new QueueRegisters();
            reg.size = (int) qr[0];
            reg.vector = (int) qr[1];
            reg.enabled = qr[2] != 0;
            reg.desc = qr[3];
            reg.driver = qr[4];
            reg.device = qr[5];
            queueRegisters[q] = reg;
            queues[q].restoreState(s.section("virtqueue" + q));
        }
        device.restoreState(s.section("device"));
        if (active) {
            device.activate(this);
        }
    }
}
