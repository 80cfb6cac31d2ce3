package org.vireo.api.storage;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * An open disk image: a virtual disk of {@link #size()} bytes whatever the format on the host.
 * Reads and writes are positional and may be called from several threads.
 */
public interface BlockImage extends AutoCloseable {

    /** Virtual disk size in bytes. */
    long size();

    boolean readOnly();

    /** Fills {@code dst} (its remaining bytes) from the virtual disk at {@code offset}. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes {@code src} (its remaining bytes) to the virtual disk at {@code offset}. */
    void write(long offset, ByteBuffer src) throws IOException;

    /** Makes every write that returned durable on the host (fsync and the format's metadata). */
    void flush() throws IOException;

    /** The guest no longer needs these bytes; a format may free them. Reads then return zeroes. */
    default void discard(long offset, long length) throws IOException {
        writeZeroes(offset, length);
    }

    /** Sets a range to zero. */
    default void writeZeroes(long offset, long length) throws IOException {
        ByteBuffer zeroes = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
        for (long done = 0; done < length; ) {
            zeroes.clear().limit((int) Math.min(zeroes.capacity(), length - done));
            write(offset + done, zeroes);
            done += zeroes.limit();
        }
    }

    @Override
    void close() throws IOException;
}
