package org.vireo.api.memory;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * The guest's physical RAM: host memory shared by every vCPU and device of one VM.
 *
 * <p>The memory is mapped once on the host (anonymous {@code mmap}) so that a hardware CPU
 * backend can hand the same pages to the kernel as memory slots, while the software CPU and
 * the devices read and write them through this interface. Guest physical addresses that fall
 * outside every {@link RamRange} raise {@link GuestMemoryException}, a guest error: a device
 * handed a bad address by its driver reports that to the guest and never fails the host.
 *
 * <p>Multi-byte accessors are little-endian, as on x86. All methods are safe to call from any
 * thread; like real RAM, concurrent writers to the same bytes race.
 */
public interface GuestMemory extends AutoCloseable {

    /** Total bytes of guest RAM, over all ranges. */
    long size();

    /** The guest-physical ranges backed by RAM, in ascending address order. */
    List<RamRange> ranges();

    /** Whether {@code [address, address + length)} lies wholly inside one RAM range. */
    boolean contains(long address, long length);

    /**
     * The host virtual address of the byte at {@code address}, for hypervisor memory slots.
     *
     * @throws GuestMemoryException if the address is not RAM
     */
    long hostAddress(long address);

    byte readByte(long address);

    short readShort(long address);

    int readInt(long address);

    long readLong(long address);

    void writeByte(long address, byte value);

    void writeShort(long address, short value);

    void writeInt(long address, int value);

    void writeLong(long address, long value);

    /** Copies {@code length} bytes of guest memory at {@code address} into {@code dst}. */
    void read(long address, byte[] dst, int offset, int length);

    /** Copies {@code length} bytes of {@code src} into guest memory at {@code address}. */
    void write(long address, byte[] src, int offset, int length);

    /** Sets {@code length} bytes at {@code address} to {@code value}. */
    void fill(long address, long length, byte value);

    /**
     * A direct buffer over {@code length} bytes of guest memory at {@code address}, for I/O
     * straight between a host file or socket and guest RAM without a copy. The buffer is only
     * valid while the memory is open.
     *
     * @throws GuestMemoryException if the range is not wholly inside one RAM range
     */
    ByteBuffer buffer(long address, int length);

    /** Unmaps the memory. Further accesses fail. */
    @Override
    void close();
}
