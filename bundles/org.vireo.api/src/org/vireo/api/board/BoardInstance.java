package org.vireo.api.board;

import java.nio.file.Path;
import java.util.List;

import org.vireo.api.VireoException;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.device.Device;
import org.vireo.api.pci.PciBus;

/** The board part of one VM: its built-in devices, its PCI bus, and its boot loader. */
public interface BoardInstance {

    /** The built-in devices, each saved and restored with the VM. */
    List<Device> devices();

    /** The PCI bus that configured devices join. */
    PciBus pciBus();

    /**
     * Loads the operating system into guest memory and returns the initial state of every vCPU
     * (index 0 boots; the others wait for the boot processor to start them). Called once all
     * devices are attached, so that firmware tables can describe them.
     *
     * @throws VireoException if the kernel or initrd cannot be read or does not fit, naming the file
     */
    List<X86CpuState> boot(Path kernel, Path initrd, String cmdline, int vcpuCount) throws VireoException;

    /** Asks the guest to shut down cleanly (on a PC: Ctrl-Alt-Del on the keyboard). */
    void requestShutdown();
}
