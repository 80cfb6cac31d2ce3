package org.vireo.api.irq;

/**
 * The machine's interrupt controllers as devices see them. On x86 that is the IOAPIC with
 * the 8259 pair behind it and one LAPIC per vCPU: either KVM's in-kernel implementation or
 * the Java models a backend without one uses. Devices do not know which.
 *
 * <p>GSIs 0-15 are the ISA IRQs (0 timer, 1 keyboard, 4 COM1, 8 RTC ...); GSIs 16-23 are
 * the IOAPIC pins that the board routes PCI INTx to.
 */
public interface IrqChip {

    /** Number of GSIs the chip offers. */
    int gsiCount();

    /**
     * The input line for {@code gsi}.
     *
     * @throws IllegalArgumentException if the chip has no such GSI
     */
    IrqLine line(int gsi);

    /** Delivers a message-signalled interrupt (PCI MSI or MSI-X). */
    void signalMsi(MsiMessage message);
}
