package org.vireo.api.device;

import java.nio.file.Path;

import org.vireo.api.Machine;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.pci.PciBus;

/** What a device is given when it is created: the machine, its interrupts, its PCI bus. */
public interface DeviceContext {

    Machine machine();

    IrqChip irqChip();

    PciBus pciBus();

    /**
     * Resolves a path from the VM config (a disk image, a socket) against the VM's directory,
     * so configs can name files relative to themselves.
     */
    Path resolve(String path);

    /**
     * The VM's console channel named {@code name} ("serial0"): the runtime connects it to the
     * terminal, the workbench's Console view and the console log.
     */
    ConsoleChannel console(String name);
}
