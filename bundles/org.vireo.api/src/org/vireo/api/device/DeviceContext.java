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
     * The VM's console channel named {@code name}, created on first use. Each name is its own
     * channel: "serial0" is the first serial port's, the VM's main console that the terminal
     * and the workbench show; another device picks another name ("hvc0") and users reach it
     * through {@link org.vireo.api.vm.VmManager#console(String, String)}. One device per
     * channel: a second device asking for a name in use shares its output and takes its input.
     */
    ConsoleChannel console(String name);

    /**
     * Makes a device's host-side control reachable through the VM manager while the VM runs,
     * as {@code type} (the balloon offers its {@link org.vireo.api.vm.BalloonControl}). The
     * first control published for a type is the one found. The default does nothing: a
     * context with no runtime behind it (a test's) has nobody to hand it to.
     */
    default <T> void publish(Class<T> type, T control) {
    }
}
