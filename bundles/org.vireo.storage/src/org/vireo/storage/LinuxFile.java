package org.vireo.storage;

import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * A file descriptor opened through libc, for the two things {@link java.nio.channels.FileChannel}
 * cannot do: open file description locks and {@code fallocate(2)}.
 *
 * <p>Why OFD locks and not {@code FileChannel.tryLock}: the JDK takes classic POSIX record
 * locks, which belong to the whole process. Closing <em>any</em> descriptor of the file in
 * the JVM (a second descriptor for fallocate, a RandomAccessFile someone opens to peek)
 * silently drops them, and two read-only opens in one JVM collide with an
 * OverlappingFileLockException. An OFD lock (fcntl F_OFD_SETLK, Linux 3.15) belongs to this
 * descriptor alone: it conflicts with other opens in this process and in others, and goes
 * away only when this descriptor is closed. It is also the lock QEMU takes, so QEMU and
 * Vireo keep out of each other's images.
 *
 * <p>Linux on x86-64 and aarch64 only (the struct flock layout and O_CLOEXEC below are theirs);
 * elsewhere {@link #supported()} is false and {@link RawImage} falls back to pure Java.
 */
final class LinuxFile implements Closeable {

    private static final Logger LOG = Logger.getLogger(LinuxFile.class.getName());

    static final int EPERM = 1, ENOENT = 2, EINTR = 4, EAGAIN = 11, EACCES = 13, EISDIR = 21, EROFS = 30,
            ENOSYS = 38, EOPNOTSUPP = 95;

    /** fallocate(2) modes, linux/falloc.h. */
    static final int FALLOC_FL_KEEP_SIZE = 0x01, FALLOC_FL_PUNCH_HOLE = 0x02, FALLOC_FL_ZERO_RANGE = 0x10;

    private static final int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0x80000;
    private static final int F_OFD_GETLK = 36, F_OFD_SETLK = 37;
    private static final short F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
    /** struct flock: short l_type, short l_whence, off_t l_start @8, off_t l_len @16, pid_t l_pid @24. */
    private static final int FLOCK_SIZE = 32, FLOCK_LEN = 16, FLOCK_PID = 24;

    private static final boolean SUPPORTED = bindLibc();

    private final Path path;
    private final int fd;
    private boolean closed;

    private LinuxFile(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /** Whether this host has the calls (Linux, a 64-bit architecture whose ABI is coded here). */
    static boolean supported() {
        return SUPPORTED;
    }

    /** Opens {@code path} read-only or read-write (close-on-exec). */
    static LinuxFile open(Path path, boolean write) throws ErrnoException {
        byte[] name = (path.toString() + '\0').getBytes(pathCharset());
        int flags = (write ? O_RDWR : O_RDONLY) | O_CLOEXEC;
        while (true) {
            int fd = Libc.open(name, flags);
            if (fd >= 0) {
                return new LinuxFile(path, fd);
            }
            int errno = Native.getLastError();
            if (errno != EINTR) {
                throw new ErrnoException("open", path, errno);
            }
        }
    }

    /**
     * A path that opens this same file (inode) again, whatever has been renamed over
     * {@link #path} since: the kernel's magic link for the descriptor.
     */
    Path descriptorPath() {
        return Path.of("/proc/self/fd/" + fd);
    }

    /**
     * Takes a lock on the whole file without waiting: shared, or exclusive.
     *
     * @return false if another open of the file holds a conflicting lock
     */
    boolean tryLock(boolean exclusive) throws ErrnoException {
        Memory flock = flock(exclusive ? F_WRLCK : F_RDLCK);
        while (Libc.fcntl(fd, F_OFD_SETLK, flock) != 0) {
            int errno = Native.getLastError();
            if (errno == EAGAIN || errno == EACCES) {
                return false;
            }
            if (errno != EINTR) {
                throw new ErrnoException("fcntl(F_OFD_SETLK)", path, errno);
            }
        }
        return true;
    }

    /**
     * The lock that keeps {@link #tryLock} out, in words: "a write lock" or "a read lock", with
     * the holder's process id where the kernel knows it (POSIX locks, not OFD locks).
     */
    String conflictingLock(boolean exclusive) {
        Memory flock = flock(exclusive ? F_WRLCK : F_RDLCK);
        if (Libc.fcntl(fd, F_OFD_GETLK, flock) != 0) {
            return "a lock";
        }
        short type = flock.getShort(0);
        int pid = flock.getInt(FLOCK_PID);
        if (type == F_UNLCK) {
            return "a lock (released since)";
        }
        return (type == F_WRLCK ? "a write lock" : "a read lock") + (pid > 0 ? " (process " + pid + ")" : "");
    }

    /** fallocate(2) on this file; 0 when done, else the errno. */
    int fallocate(int mode, long offset, long length) {
        while (true) {
            if (Libc.fallocate(fd, mode, offset, length) == 0) {
                return 0;
            }
            int errno = Native.getLastError();
            if (errno != EINTR) {
                return errno;
            }
        }
    }

    /** Closes the descriptor, which releases its lock. Idempotent; callers keep it from racing with use. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        // No retry on EINTR: Linux has closed the descriptor whatever close() returns.
        if (Libc.close(fd) != 0) {
            int errno = Native.getLastError();
            if (errno != EINTR) {
                throw new ErrnoException("close", path, errno);
            }
        }
    }

    /** "No such file or directory (errno 2)". */
    static String describe(int errno) {
        String text = null;
        try {
            text = Libc.strerror(errno);
        } catch (LinkageError e) {
            // fall through to the bare number
        }
        return (text == null ? "error" : text) + " (errno " + errno + ")";
    }

    private static Memory flock(short type) {
        Memory m = new Memory(FLOCK_SIZE);
        m.clear();
        m.setShort(0, type); // l_whence SEEK_SET, l_start 0, l_pid 0 (required for OFD locks)
        m.setLong(FLOCK_LEN, 0); // 0: to the end of the file, however it grows
        return m;
    }

    private static Charset pathCharset() {
        // The charset the JDK itself encodes file names with on this host.
        String jnu = System.getProperty("sun.jnu.encoding");
        try {
            return jnu != null ? Charset.forName(jnu) : Charset.defaultCharset();
        } catch (IllegalArgumentException e) {
            return Charset.defaultCharset();
        }
    }

    private static boolean bindLibc() {
        try {
            if (!Platform.isLinux() || !(Platform.ARCH.equals("x86-64") || Platform.ARCH.equals("aarch64"))) {
                return false;
            }
            Native.register(Libc.class, "c");
            return true;
        } catch (LinkageError e) {
            LOG.log(Level.INFO, "libc is not reachable through JNA; raw images use plain Java locks and "
                    + "write zeroes instead of punching holes", e);
            return false;
        }
    }

    /** A failed libc call: which call, on which file, and the errno. */
    static final class ErrnoException extends IOException {
        private static final long serialVersionUID = 1L;
        final int errno;

        ErrnoException(String call, Path path, int errno) {
            super(call + " " + path + ": " + describe(errno));
            this.errno = errno;
        }
    }

    /** The libc calls, bound by JNA direct mapping. */
    private static final class Libc {
        static native int open(byte[] path, int flags);

        static native int close(int fd);

        static native int fcntl(int fd, int cmd, Pointer arg);

        static native int fallocate(int fd, int mode, long offset, long length);

        static native String strerror(int errnum);
    }
}
