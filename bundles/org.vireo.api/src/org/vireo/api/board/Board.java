package org.vireo.api.board;

import java.util.List;

import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.memory.RamRange;

/**
 * A machine type: the physical memory map, the devices every machine of the type has (on a
 * PC: COM1, the i8042, the RTC, the PCI host bridge) and how an operating system is booted on
 * it. The runtime assembles a VM as: memory laid out by {@link #ramRanges}, buses, a CPU
 * backend's vCPUs and interrupt controllers, then {@link #build} for the board's own devices,
 * then the config's devices, then {@link BoardInstance#boot}.
 */
public interface Board {

    /** The board type, "pc". */
    String type();

    /** Where RAM goes in the guest-physical address space for {@code memoryBytes} of RAM. */
    List<RamRange> ramRanges(long memoryBytes);

    /** Creates the board's built-in devices on {@code machine}. */
    BoardInstance build(Machine machine, DeviceContext context) throws VireoException;

    /**
     * Checks that a VM of {@code memoryBytes} and {@code vcpus} fits the board; returns a
     * message saying what is wrong, or {@code null}.
     */
    default String checkShape(long memoryBytes, int vcpus) {
        return null;
    }
}
