package org.vireo.x86.pci;

import java.util.ArrayList;
import java.util.List;

import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;
import org.vireo.api.pci.PciConfigHeader;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * A PCI function for tests: a 4 KiB memory BAR0, a 32-byte I/O BAR1, a 16 KiB prefetchable
 * 64-bit BAR2, INTA#, a vendor-specific capability with one writable byte and an MSI-like
 * capability with a writable enable bit.
 */
final class TestPciFunction extends PciConfigHeader {

    static final int VENDOR = 0x1AF4;
    static final int DEVICE = 0x10F0;

    /** Each BAR answers reads with a tag: 0xB0 + BAR number in the top byte, offset below. */
    static IoHandler barHandler(int bar, List<String> writes) {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                return ((0xB0L + bar) << 24 | offset) & ((1L << (8 * size)) - 1);
            }

            @Override
            public void write(long offset, int size, long value) {
                writes.add("BAR" + bar + "+" + offset + "=" + Long.toHexString(value));
            }
        };
    }

    final List<String> barWrites = new ArrayList<>();
    final List<String> hookCalls = new ArrayList<>();
    final Capability vendorCapability;
    final Capability msiCapability;

    TestPciFunction(String name, IoBus portIo, IoBus mmio) {
        this(name, DEVICE, portIo, mmio);
    }

    TestPciFunction(String name, int deviceId, IoBus portIo, IoBus mmio) {
        super(name, new Identity(VENDOR, deviceId, 0x02_00_00, 1, VENDOR, 0x0001), portIo, mmio);
        defineMemoryBar(0, 4096, false, barHandler(0, barWrites));
        defineIoBar(1, 32, barHandler(1, barWrites));
        defineMemory64Bar(2, 16 * 1024, true, barHandler(2, barWrites));
        useIntx();
        vendorCapability = addCapability(0x09, new byte[] {6, 0x11, 0x22, 0x33})
                .writable(4, 1, 0xFF)
                .hook(new CapabilityHook() {
                    @Override
                    public void afterWrite(Capability capability, int offset, int size) {
                        hookCalls.add("write " + offset + "/" + size + "=" + Integer.toHexString(capability.read(4, 1)));
                    }

                    @Override
                    public void beforeRead(Capability capability, int offset, int size) {
                        hookCalls.add("read " + offset + "/" + size);
                    }
                });
        msiCapability = addCapability(0x05, new byte[10]).writable(2, 2, 0x0001);
    }

    void raiseIntx(boolean level) {
        setIntx(level);
    }

    void save(StateWriter out) {
        saveHeader(out);
    }

    void restore(StateReader in) throws StateException {
        restoreHeader(in);
    }
}
