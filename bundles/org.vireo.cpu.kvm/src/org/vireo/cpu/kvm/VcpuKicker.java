package org.vireo.cpu.kvm;

import java.util.logging.Level;
import java.util.logging.Logger;

import sun.misc.Signal;

/**
 * Gets a vCPU thread out of {@code KVM_RUN} promptly: the KVM API's recipe (api.rst,
 * "immediate_exit") is to set {@code kvm_run.immediate_exit} and send the thread a signal
 * that has a handler. The flag covers a kick that lands between the thread's last check and
 * its entry into KVM_RUN; the signal covers a thread already inside, which KVM_RUN leaves with
 * EINTR.
 *
 * <p>No native code is needed for the handler: the JVM's own handler for a signal registered
 * with {@link Signal#handle} is a real handler (SIGUSR1 gets a process-wide
 * {@code sigaction} installed by HotSpot), so the signal interrupts the ioctl on the thread it
 * is sent to, and the JVM then runs the Java handler (a no-op here) on its signal dispatcher
 * thread. The JVM installs it with SA_RESTART, so other system calls on that thread (file and
 * socket I/O of devices) restart transparently; KVM_RUN itself returns EINTR, which is not
 * restarted. {@code tgkill} through {@code syscall} aims the signal at one thread.
 */
final class VcpuKicker {

    private static final Logger LOG = Logger.getLogger(VcpuKicker.class.getName());
    static final String SIGNAL = "USR1";
    private static int signalNumber = -1;

    private VcpuKicker() {
    }

    /** Installs the handler once per process; returns the signal number. */
    static synchronized int install() {
        if (signalNumber < 0) {
            Signal signal = new Signal(SIGNAL);
            Signal.handle(signal, s -> {
                // Nothing to do: the signal's only job was to interrupt KVM_RUN on the vCPU thread.
            });
            signalNumber = signal.getNumber();
        }
        return signalNumber;
    }

    /** Sends the kick signal to thread {@code tid}. */
    static void kick(int tid) {
        if (tid > 0 && Linux.tgkill(tid, signalNumber) != 0) {
            int errno = Linux.errno();
            // ESRCH: the thread has already gone, which is what the kick wanted.
            if (errno != 3) {
                LOG.log(Level.WARNING, "tgkill of vCPU thread " + tid + " failed: " + Linux.describe(errno));
            }
        }
    }
}
