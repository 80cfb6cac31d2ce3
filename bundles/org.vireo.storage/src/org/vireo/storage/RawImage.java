package org.vireo.storage;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.logging.Logger;

import org.vireo.api.VireoException;
import org.vireo.api.storage.BlockImage;

/**
 * A raw disk image: byte {@code n} of the virtual disk is byte {@code n} of the host file.
 * The disk is as large as the file was when it was opened and never grows.
 *
 * <p>I/O is positional on one {@link FileChannel}, which any number of threads may use at
 * once. A thread interrupted inside a channel call closes the channel for everyone (that is
 * how {@code InterruptibleChannel} works); that thread gets an {@link InterruptedIOException}
 * and the others carry on with a channel reopened on the same file.
 *
 * <p>One writer or any number of readers: opening for writing takes an exclusive lock on the
 * file, opening read-only a shared one, both without waiting (see {@link LinuxFile} for the
 * kind of lock). Discard punches a hole where the host file system can, and write-zeroes
 * zeroes a range in place ({@code FALLOC_FL_ZERO_RANGE}); where it cannot, both write zeroes.
 */
public final class RawImage implements BlockImage {

    private static final Logger LOG = Logger.getLogger(RawImage.class.getName());

    /** The virtio-blk sector: a raw image is a whole number of them. */
    static final int SECTOR = 512;

    /** Never written to, so every thread may write from duplicates of it. */
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    private final Path file;
    private final boolean readOnly;
    private final long size;
    /** The descriptor that holds the lock and does fallocate; null where {@link LinuxFile} is unsupported. */
    private final LinuxFile host;
    /** Keeps {@link #close} from closing {@link #host} under a running fallocate. */
    private final ReadWriteLock hostUse = new ReentrantReadWriteLock();
    private volatile FileChannel channel;
    private volatile boolean punchHoles;
    private volatile boolean zeroRanges;
    private volatile boolean closed;

    private RawImage(Path file, boolean readOnly, long size, LinuxFile host, FileChannel channel) {
        this.file = file;
        this.readOnly = readOnly;
        this.size = size;
        this.host = host;
        this.channel = channel;
        this.punchHoles = host != null && !readOnly;
        this.zeroRanges = host != null && !readOnly;
    }

    /**
     * Opens {@code file} as a raw image.
     *
     * @param useHostCalls false to use pure Java only (JDK file lock, zeroes written for discard),
     *        as on hosts where {@link LinuxFile#supported()} is false; for tests
     * @throws VireoException if the file is missing, a directory or not a regular file, may
     *         not be opened so, is empty or not a whole number of sectors, or is in use
     */
    static RawImage open(Path file, boolean readOnly, boolean useHostCalls) throws VireoException, IOException {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw missing(file);
        } catch (AccessDeniedException e) {
            throw new VireoException("cannot reach disk image " + file + ": permission denied on a directory above it");
        }
        if (attributes.isDirectory()) {
            throw new VireoException("disk image " + file + " is a directory, not a file");
        }
        if (!attributes.isRegularFile()) {
            throw new VireoException("disk image " + file
                    + " is not a regular file (a device, pipe or socket); a raw image must be a regular file");
        }
        LinuxFile host = null;
        FileChannel channel = null;
        boolean opened = false;
        try {
            if (useHostCalls && LinuxFile.supported()) {
                try {
                    host = LinuxFile.open(file, !readOnly);
                } catch (LinuxFile.ErrnoException e) {
                    throw openRefused(file, readOnly, e.errno, e);
                }
                // The same inode as the descriptor, whatever was renamed over the path meanwhile.
                channel = FileChannel.open(host.descriptorPath(), options(readOnly));
            } else {
                channel = openByPath(file, readOnly);
            }
            long size = channel.size();
            if (size == 0) {
                throw new VireoException("disk image " + file + " is empty (0 bytes); a raw image holds at least one "
                        + SECTOR + "-byte sector");
            }
            if (size % SECTOR != 0) {
                throw new VireoException("disk image " + file + " is " + size + " bytes, not a whole number of "
                        + SECTOR + "-byte sectors (" + size / SECTOR + " sectors and " + size % SECTOR
                        + " bytes over); pad or cut it to a multiple of " + SECTOR);
            }
            if (host != null) {
                if (!host.tryLock(!readOnly)) {
                    throw inUse(file, "another VM or program holds " + host.conflictingLock(!readOnly) + " on it");
                }
            } else {
                lockInJava(file, channel, readOnly); // held until the channel closes
            }
            RawImage image = new RawImage(file, readOnly, size, host, channel);
            opened = true;
            return image;
        } finally {
            if (!opened) {
                closeQuietly(channel, host);
            }
        }
    }

    public Path file() {
        return file;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    /**
     * Whether {@link #discard} frees host blocks: true until the host file system refuses to
     * punch a hole (then discard writes zeroes, and says so once in the log).
     */
    public boolean punchesHoles() {
        return punchHoles;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        checkRange("read", offset, length);
        long position = offset;
        while (dst.hasRemaining()) {
            long at = position;
            int n = onChannel("read", ch -> ch.read(dst, at));
            if (n < 0) {
                throw new IOException(file + " ends at byte " + at + ", in the middle of a read of " + length
                        + " bytes at offset " + offset + ", though the image is " + size
                        + " bytes: has another program truncated it?");
            }
            position += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        checkWritable();
        checkRange("write", offset, src.remaining());
        writeFully(offset, src);
    }

    /**
     * {@code fdatasync}: the data and the metadata needed to read it back (block allocation,
     * holes punched), not the modification time. A raw file never changes size after
     * {@link RawFormat#create}, so the size is never what a flush has to save, and skipping
     * the timestamp spares a journal commit on every guest flush.
     */
    @Override
    public void flush() throws IOException {
        onChannel("flush", ch -> {
            if (!readOnly) {
                ch.force(false);
            }
            return 0;
        });
    }

    /** Punches a hole ({@code FALLOC_FL_PUNCH_HOLE}), so the host frees the blocks; where it cannot, writes zeroes. */
    @Override
    public void discard(long offset, long length) throws IOException {
        checkWritable();
        checkRange("discard", offset, length);
        if (length == 0) {
            return;
        }
        if (punchHoles && fallocate("discard", LinuxFile.FALLOC_FL_PUNCH_HOLE | LinuxFile.FALLOC_FL_KEEP_SIZE,
                offset, length)) {
            return;
        }
        writeZeroes(offset, length);
    }

    /**
     * Zeroes the range in place ({@code FALLOC_FL_ZERO_RANGE}: blocks stay allocated, as a
     * write of zeroes would leave them), else writes zeroes from one shared buffer, 1 MiB a call.
     */
    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkWritable();
        checkRange("write zeroes", offset, length);
        if (length == 0) {
            return;
        }
        if (zeroRanges && fallocate("write zeroes", LinuxFile.FALLOC_FL_ZERO_RANGE | LinuxFile.FALLOC_FL_KEEP_SIZE,
                offset, length)) {
            return;
        }
        for (long done = 0; done < length; ) {
            ByteBuffer zeroes = ZEROES.duplicate();
            zeroes.limit((int) Math.min(zeroes.capacity(), length - done));
            writeFully(offset + done, zeroes);
            done += zeroes.limit();
        }
    }

    /** Closes the file and releases its lock. Idempotent; I/O still running fails with "closed". */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        IOException failure = null;
        try {
            channel.close(); // releases the JDK lock too, where that is the lock
        } catch (IOException e) {
            failure = e;
        }
        hostUse.writeLock().lock();
        try {
            if (host != null) {
                host.close();
            }
        } catch (IOException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        } finally {
            hostUse.writeLock().unlock();
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "raw image " + file + " (" + size + " bytes" + (readOnly ? ", read-only)" : ")");
    }

    private void writeFully(long offset, ByteBuffer src) throws IOException {
        long position = offset;
        while (src.hasRemaining()) {
            long at = position;
            position += onChannel("write", ch -> ch.write(src, at));
        }
    }

    /**
     * fallocate on the range: true when done, false when the file system cannot (the caller
     * falls back to writing zeroes, and this mode is not tried again).
     */
    private boolean fallocate(String what, int mode, long offset, long length) throws IOException {
        int errno;
        hostUse.readLock().lock();
        try {
            if (closed) {
                throw closedError(what);
            }
            errno = host.fallocate(mode, offset, length);
        } finally {
            hostUse.readLock().unlock();
        }
        if (errno == 0) {
            return true;
        }
        if (errno == LinuxFile.EOPNOTSUPP || errno == LinuxFile.ENOSYS) {
            if ((mode & LinuxFile.FALLOC_FL_PUNCH_HOLE) != 0) {
                punchHoles = false;
                LOG.info(file + ": the host file system cannot punch holes (" + LinuxFile.describe(errno)
                        + "); discard writes zeroes instead and frees no host space");
            } else {
                zeroRanges = false;
                LOG.fine(file + ": the host file system cannot zero a range in place (" + LinuxFile.describe(errno)
                        + "); write-zeroes writes zero buffers");
            }
            return false;
        }
        throw new IOException(what + " of " + length + " bytes at offset " + offset + " in " + file + " failed: "
                + LinuxFile.describe(errno));
    }

    /** One channel call, on a reopened channel if another thread's interrupt closed the one we had. */
    private int onChannel(String what, ChannelCall call) throws IOException {
        while (true) {
            FileChannel ch = channel();
            try {
                return call.run(ch);
            } catch (ClosedByInterruptException e) {
                // This thread was interrupted; the channel is closed and the next caller reopens it.
                InterruptedIOException interrupted = new InterruptedIOException(what + " on " + file
                        + " interrupted");
                interrupted.initCause(e);
                throw interrupted;
            } catch (ClosedChannelException e) {
                if (closed) {
                    throw closedError(what);
                }
                // Closed under us by an interrupt to another thread: go round and reopen.
            }
        }
    }

    private FileChannel channel() throws IOException {
        FileChannel ch = channel;
        return ch.isOpen() ? ch : reopen(ch);
    }

    private synchronized FileChannel reopen(FileChannel old) throws IOException {
        if (closed) {
            throw closedError("I/O");
        }
        if (channel != old) {
            return channel;
        }
        FileChannel fresh;
        if (host != null) {
            fresh = FileChannel.open(host.descriptorPath(), options(readOnly));
        } else {
            fresh = FileChannel.open(file, options(readOnly));
            try {
                lockInJava(file, fresh, readOnly);
            } catch (VireoException e) {
                fresh.close();
                throw new IOException("lost the lock on " + file + " when an interrupt closed its channel: "
                        + e.getMessage(), e);
            }
        }
        LOG.warning(file + ": reopened after an interrupted I/O thread closed its channel");
        channel = fresh;
        return fresh;
    }

    private void checkWritable() throws IOException {
        if (readOnly) {
            throw new IOException("image " + file + " is read-only");
        }
    }

    private void checkRange(String what, long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || length > size - offset) {
            throw new IOException(what + " of " + length + " bytes at offset " + offset + " is outside " + file
                    + ", whose size is " + size + " bytes");
        }
    }

    private IOException closedError(String what) {
        return new IOException(what + " on " + file + ": the image is closed");
    }

    private static Set<OpenOption> options(boolean readOnly) {
        return readOnly ? Set.of(StandardOpenOption.READ) : Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    private static FileChannel openByPath(Path file, boolean readOnly) throws VireoException, IOException {
        try {
            return FileChannel.open(file, options(readOnly));
        } catch (NoSuchFileException e) {
            throw missing(file);
        } catch (AccessDeniedException e) {
            throw openRefused(file, readOnly, LinuxFile.EACCES, e);
        } catch (FileSystemException e) {
            String reason = String.valueOf(e.getReason());
            if (reason.contains("Read-only file system")) {
                throw openRefused(file, readOnly, LinuxFile.EROFS, e);
            }
            if (reason.contains("Operation not permitted")) {
                throw openRefused(file, readOnly, LinuxFile.EPERM, e);
            }
            throw e;
        }
    }

    /** The JDK's lock, for hosts without {@link LinuxFile}: process-wide, so a second open in this JVM is refused too. */
    private static void lockInJava(Path file, FileChannel channel, boolean readOnly)
            throws VireoException, IOException {
        FileLock lock;
        try {
            lock = channel.tryLock(0, Long.MAX_VALUE, readOnly);
        } catch (OverlappingFileLockException e) {
            throw inUse(file, "this process has it open already");
        }
        if (lock == null) {
            throw inUse(file, "another VM or program holds a lock on it");
        }
    }

    private static VireoException openRefused(Path file, boolean readOnly, int errno, IOException cause)
            throws IOException {
        String how = readOnly ? "reading" : "reading and writing";
        switch (errno) {
            case LinuxFile.ENOENT: // removed since we looked
                return missing(file);
            case LinuxFile.EISDIR:
                return new VireoException("disk image " + file + " is a directory, not a file");
            case LinuxFile.EACCES:
            case LinuxFile.EPERM:
                return new VireoException("cannot open disk image " + file + " for " + how + ": permission denied"
                        + (readOnly ? "" : " (open it read-only, or change the file's permissions)"), cause);
            case LinuxFile.EROFS:
                return new VireoException("cannot open disk image " + file + " for writing: it is on a read-only "
                        + "file system (open it read-only)", cause);
            default:
                throw cause;
        }
    }

    private static VireoException missing(Path file) {
        return new VireoException("disk image " + file + " does not exist");
    }

    private static VireoException inUse(Path file, String holder) {
        return new VireoException("disk image " + file + " is in use: " + holder
                + "; an image has one writer or any number of readers");
    }

    private static void closeQuietly(FileChannel channel, LinuxFile host) {
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException e) {
            // opening failed already; that is the error to report
        }
        try {
            if (host != null) {
                host.close();
            }
        } catch (IOException e) {
            // as above
        }
    }

    @FunctionalInterface
    private interface ChannelCall {
        int run(FileChannel channel) throws IOException;
    }
}
