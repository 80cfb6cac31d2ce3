package org.vireo.cpu.kvm;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * The few libc calls the KVM backend makes, bound with JNA's direct mapping (a JNI stub per
 * method, no reflection per call: KVM_RUN goes through here on every exit).
 */
final class Linux {

    static final int O_RDWR = 2, O_CLOEXEC = 0x80000;
    static final int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
    static final int EPERM = 1, ENOENT = 2, EINTR = 4, ENXIO = 6, EAGAIN = 11, ENOMEM = 12, EACCES = 13,
            EFAULT = 14, EBUSY = 16, EEXIST = 17, ENODEV = 19, EINVAL = 22, E2BIG = 7;
    private static final long SYS_GETTID = 186, SYS_TGKILL = 234;
    static final Pointer MAP_FAILED = new Pointer(-1);

    static {
        Native.register(Linux.class, "c");
    }

    private Linux() {
    }

    static native int open(String path, int flags);

    static native int close(int fd);

    /** ioctl with an integer argument (or none). */
    static native int ioctl(int fd, long request, long arg);

    /** ioctl with a pointer to a structure. */
    static native int ioctl(int fd, long request, Pointer arg);

    static native Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    static native int munmap(Pointer addr, long length);

    static native int getpid();

    private static native long syscall(long number, long a, long b, long c);

    private static native String strerror(int errno);

    /** The calling thread's kernel thread id. */
    static int gettid() {
        return (int) syscall(SYS_GETTID, 0, 0, 0);
    }

    /** Sends {@code signal} to one thread of this process; returns 0 or -1. */
    static int tgkill(int tid, int signal) {
        return (int) syscall(SYS_TGKILL, getpid(), tid, signal);
    }

    static int errno() {
        return Native.getLastError();
    }

    /** "EACCES (Permission denied)"-style text for an errno value. */
    static String describe(int errno) {
        String name = switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case EINTR -> "EINTR";
            case ENXIO -> "ENXIO";
            case E2BIG -> "E2BIG";
            case EAGAIN -> "EAGAIN";
            case ENOMEM -> "ENOMEM";
            case EACCES -> "EACCES";
            case EFAULT -> "EFAULT";
            case EBUSY -> "EBUSY";
            case EEXIST -> "EEXIST";
            case ENODEV -> "ENODEV";
            case EINVAL -> "EINVAL";
            default -> "errno " + errno;
        };
        return name + " (" + strerror(errno) + ")";
    }

    /** Zeroed native memory for one ioctl structure. */
    static Memory struct(int size) {
        Memory m = new Memory(size);
        m.clear();
        return m;
    }
}
