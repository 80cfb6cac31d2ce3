package org.vireo.cpu.kvm;

import java.util.logging.Level;
import java.util.logging.Logger;

import com.sun.jna.Memory;

import org.vireo.api.irq.IrqChip;
import org.vireo.api.irq.IrqLine;
import org.vireo.api.irq.MsiMessage;

/**
 * KVM's in-kernel interrupt controllers as devices see them. With KVM's default routing,
 * GSIs 0-15 reach both the 8259 pair and the IOAPIC pins of the same number, GSIs 16-23 the
 * IOAPIC only (api.rst, KVM_CREATE_IRQCHIP). Lines are driven with KVM_IRQ_LINE; MSIs go
 * straight to the LAPICs with KVM_SIGNAL_MSI. Callable from any thread.
 */
final class KvmIrqChip implements IrqChip {

    private static final Logger LOG = Logger.getLogger(KvmIrqChip.class.getName());
    /** The IOAPIC's 24 pins. */
    static final int GSI_COUNT = 24;

    private final int vmFd;
    private final String vmName;
    private final IrqLine[] lines = new IrqLine[GSI_COUNT];
    /** One small structure per thread: devices raise interrupts from their own threads. */
    private final ThreadLocal<Memory> scratch = ThreadLocal.withInitial(() -> Linux.struct(KvmAbi.MSI_SIZE));

    KvmIrqChip(int vmFd, String vmName) {
        this.vmFd = vmFd;
        this.vmName = vmName;
        for (int gsi = 0; gsi < GSI_COUNT; gsi++) {
            int g = gsi;
            lines[gsi] = new IrqLine() {
                @Override
                public int gsi() {
                    return g;
                }

                @Override
                public void set(boolean level) {
                    setLine(g, level);
                }
            };
        }
    }

    @Override
    public int gsiCount() {
        return GSI_COUNT;
    }

    @Override
    public IrqLine line(int gsi) {
        if (gsi < 0 || gsi >= GSI_COUNT) {
            throw new IllegalArgumentException("GSI " + gsi + " does not exist; KVM's IOAPIC has GSIs 0-"
                    + (GSI_COUNT - 1));
        }
        return lines[gsi];
    }

    private void setLine(int gsi, boolean level) {
        Memory m = scratch.get();
        m.setInt(0, gsi);
        m.setInt(4, level ? 1 : 0);
        if (Linux.ioctl(vmFd, KvmAbi.KVM_IRQ_LINE, m) != 0) {
            LOG.log(Level.WARNING, vmName + ": KVM_IRQ_LINE " + gsi + "=" + (level ? 1 : 0) + " failed: "
                    + Linux.describe(Linux.errno()));
        }
    }

    @Override
    public void signalMsi(MsiMessage message) {
        Memory m = scratch.get();
        m.clear();
        m.setInt(0, (int) message.address());
        m.setInt(4, (int) (message.address() >>> 32));
        m.setInt(8, message.data());
        // > 0: delivered; 0: the guest blocked it (masked, no such APIC); < 0: an error.
        if (Linux.ioctl(vmFd, KvmAbi.KVM_SIGNAL_MSI, m) < 0) {
            LOG.log(Level.WARNING, String.format("%s: KVM_SIGNAL_MSI address 0x%x data 0x%x failed: %s", vmName,
                    message.address(), message.data(), Linux.describe(Linux.errno())));
        }
    }
}
