package org.vireo.api.pci;

import org.vireo.api.irq.IrqLine;

/** The machine's PCI bus 0, behind the host bridge. */
public interface PciBus {

    /**
     * Places a function in the next free slot (or the one the config asks for).
     *
     * @param slot the device number wanted, or -1 for the next free one
     * @param owner who the function is, for messages ("disk0")
     * @throws IllegalStateException if the slot is taken or the bus is full, naming both
     */
    PciSlot attach(PciFunction function, int slot, String owner);

    /** Where a function was placed and how it raises INTx. */
    interface PciSlot {
        int bus();

        int device();

        int function();

        /** The interrupt line that INTA# of this slot is routed to (board-specific swizzle). */
        IrqLine intx();
    }
}
