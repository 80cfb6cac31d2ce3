package org.vireo.api.irq;

/**
 * One interrupt input of the machine's interrupt controllers (a GSI). Edge-triggered sources
 * pulse it; level-triggered sources (PCI INTx) hold it high until the guest acknowledges the
 * cause in the device.
 */
public interface IrqLine {

    /** The global system interrupt number of this line. */
    int gsi();

    /** Drives the line to {@code level}. */
    void set(boolean level);

    /** Raises and lowers the line: one edge. */
    default void pulse() {
        set(true);
        set(false);
    }
}
