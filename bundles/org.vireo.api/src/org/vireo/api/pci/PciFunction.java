package org.vireo.api.pci;

/**
 * One function of a PCI device as the host bridge sees it: a configuration space of 256
 * bytes (PCI Local Bus spec 3.0 §6.1). The function itself decodes its header, BARs and
 * capabilities; when the guest programs a BAR, the function moves its bus registration.
 */
public interface PciFunction {

    /** Reads {@code size} (1, 2 or 4) bytes at {@code offset}, little-endian. */
    int configRead(int offset, int size);

    /** Writes {@code size} (1, 2 or 4) bytes at {@code offset}; read-only bits keep their value. */
    void configWrite(int offset, int size, int value);
}
