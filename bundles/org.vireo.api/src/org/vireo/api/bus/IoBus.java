package org.vireo.api.bus;

/**
 * An address space of device registers: the x86 port I/O space or the MMIO space. A guest
 * access that exits the vCPU (a KVM exit, or the software CPU's bus access) lands here and is
 * dispatched to the handler whose range holds the address.
 *
 * <p>Ranges never overlap: {@link #register} refuses a range that overlaps another and names
 * both owners. Reads of unclaimed addresses return all ones, writes to them are dropped, as
 * on a PC where nobody decodes the address.
 */
public interface IoBus {

    /** Which address space this is. */
    Kind kind();

    /**
     * Claims {@code [base, base + length)} for {@code handler}.
     *
     * @param owner who claims the range, for error messages ("com1", "pci 00:03.0 BAR0")
     * @throws BusConflictException if the range overlaps one already registered
     */
    Registration register(long base, long length, String owner, IoHandler handler);

    /** Reads {@code size} bytes at {@code address} from whoever decodes it. */
    long read(long address, int size);

    /** Writes {@code size} bytes at {@code address} to whoever decodes it. */
    void write(long address, int size, long value);

    /** The owner of the range holding {@code address}, or {@code null}. */
    String ownerOf(long address);

    /** The two address spaces of an x86 machine. */
    enum Kind {
        /** The 64 KiB I/O port space of IN/OUT. */
        PIO,
        /** Memory-mapped I/O: physical addresses not backed by RAM. */
        MMIO
    }

    /** A claimed range; closing it releases the range (a PCI BAR moving, a device unplugged). */
    interface Registration extends AutoCloseable {
        long base();

        long length();

        @Override
        void close();
    }
}
