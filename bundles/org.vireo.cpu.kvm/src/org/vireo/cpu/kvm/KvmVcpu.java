package org.vireo.cpu.kvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.logging.Logger;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.bus.IoBus;
import org.vireo.api.cpu.Vcpu;
import org.vireo.api.cpu.VcpuException;
import org.vireo.api.cpu.X86CpuState;

/**
 * One vCPU in KVM: its descriptor, the shared {@code kvm_run} page, and the loop that enters
 * the guest and serves the exits that need the VMM: port I/O and MMIO go to the machine's
 * buses on this thread; a triple fault ends {@link #run()} with {@link Exit#SHUTDOWN}; an entry
 * failure, an internal KVM error or an exit this VMM does not expect stops the VM with a
 * {@link VcpuException} that carries the exit's data and the registers. HLT, the LAPIC timer
 * and IPIs are KVM's business (in-kernel irqchip).
 */
final class KvmVcpu implements Vcpu {

    private static final Logger LOG = Logger.getLogger(KvmVcpu.class.getName());

    /** Exit counters by reason, for the statistics line; index = KVM_EXIT_*. */
    static final int EXIT_REASONS = 40;

    private final Kvm kvm;
    private final Machine machine;
    private final IoBus pio, mmio;
    private final int index;
    private final int fd;
    private final Pointer runPage;
    private final ByteBuffer run;
    private final KvmStateCodec codec;
    final AtomicLongArray exits = new AtomicLongArray(EXIT_REASONS);

    /** The kernel thread id of the thread inside {@link #run()}, for the kick signal; 0 if none. */
    private volatile int tid;
    private volatile boolean kicked;
    private boolean closed;
    /** A thread is inside {@link #run()}: the kvm_run page must stay mapped. */
    private boolean inside;

    KvmVcpu(KvmEngine engine, Kvm kvm, Machine machine, int index, int count) throws VireoException {
        this.kvm = kvm;
        this.machine = machine;
        this.pio = machine.portIo();
        this.mmio = machine.mmio();
        this.index = index;
        this.fd = Linux.ioctl(engine.vmFd, KvmAbi.KVM_CREATE_VCPU, index);
        if (fd < 0) {
            int errno = Linux.errno();
            throw new VireoException(machine.name() + ": KVM_CREATE_VCPU " + index + " failed: "
                    + Linux.describe(errno) + (errno == Linux.EINVAL ? " (the host's KVM allows at most "
                    + kvm.maxVcpus + " vCPUs)" : ""));
        }
        Pointer page = Linux.mmap(null, kvm.vcpuMmapSize, Linux.PROT_READ | Linux.PROT_WRITE, Linux.MAP_SHARED,
                fd, 0);
        if (page == null || Linux.MAP_FAILED.equals(page)) {
            int errno = Linux.errno();
            Linux.close(fd);
            throw new VireoException(machine.name() + ": cannot map vCPU " + index + "'s kvm_run page: "
                    + Linux.describe(errno));
        }
        this.runPage = page;
        this.run = page.getByteBuffer(0, kvm.vcpuMmapSize).order(ByteOrder.LITTLE_ENDIAN);
        Memory cpuid = KvmCpuid.forVcpu(kvm, index, count);
        if (Linux.ioctl(fd, KvmAbi.KVM_SET_CPUID2, cpuid) != 0) {
            int errno = Linux.errno();
            close();
            throw new VireoException(machine.name() + ": KVM_SET_CPUID2 for vCPU " + index + " failed: "
                    + Linux.describe(errno));
        }
        this.codec = new KvmStateCodec(fd, kvm, index);
    }

    @Override
    public int index() {
        return index;
    }

    @Override
    public X86CpuState getState() {
        try {
            return codec.read();
        } catch (VireoException e) {
            throw new IllegalStateException(machine.name() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void setState(X86CpuState state) {
        try {
            codec.write(state);
        } catch (VireoException e) {
            throw new IllegalStateException(machine.name() + ": " + e.getMessage(), e);
        }
    }

    /** The guest TSC's frequency in kHz, or -1 if KVM does not say. */
    int tscKhz() {
        return Linux.ioctl(fd, KvmAbi.KVM_GET_TSC_KHZ, 0);
    }

    @Override
    public Exit run() throws VcpuException {
        synchronized (this) {
            if (closed) {
                throw new VcpuException("vCPU " + index + " of " + machine.name() + " is closed", null);
            }
            inside = true;
            tid = Linux.gettid();
        }
        try {
            while (true) {
                if (kicked) {
                    return acknowledgeKick();
                }
                if (Linux.ioctl(fd, KvmAbi.KVM_RUN, 0) < 0) {
                    int errno = Linux.errno();
                    if (errno == Linux.EINTR || errno == Linux.EAGAIN) {
                        // A signal (our kick, or immediate_exit) or a spurious wake-up.
                        exits.incrementAndGet(KvmAbi.KVM_EXIT_INTR);
                        if (kicked) {
                            return acknowledgeKick();
                        }
                        run.put(KvmAbi.RUN_IMMEDIATE_EXIT, (byte) 0);
                        continue;
                    }
                    throw error("KVM_RUN failed: " + Linux.describe(errno));
                }
                int reason = run.getInt(KvmAbi.RUN_EXIT_REASON);
                exits.incrementAndGet(Math.min(Math.max(reason, 0), EXIT_REASONS - 1));
                switch (reason) {
                    case KvmAbi.KVM_EXIT_IO -> portIo();
                    case KvmAbi.KVM_EXIT_MMIO -> mmio();
                    case KvmAbi.KVM_EXIT_SHUTDOWN -> {
                        return Exit.SHUTDOWN;
                    }
                    case KvmAbi.KVM_EXIT_INTR -> {
                        if (kicked) {
                            return acknowledgeKick();
                        }
                    }
                    case KvmAbi.KVM_EXIT_HLT -> Thread.onSpinWait(); // only without an in-kernel LAPIC
                    case KvmAbi.KVM_EXIT_SYSTEM_EVENT -> {
                        systemEvent();
                        return Exit.KICKED;
                    }
                    case KvmAbi.KVM_EXIT_FAIL_ENTRY -> throw error(String.format(
                            "KVM could not enter the guest (KVM_EXIT_FAIL_ENTRY): hardware entry failure reason "
                            + "0x%x on host CPU %d", run.getLong(KvmAbi.FAIL_ENTRY_REASON),
                            run.getInt(KvmAbi.FAIL_ENTRY_CPU)));
                    case KvmAbi.KVM_EXIT_INTERNAL_ERROR -> throw error(internalError());
                    default -> throw error(String.format("unexpected KVM exit %s (%d); exit data %s",
                            exitName(reason), reason, hex(KvmAbi.RUN_EXIT_DATA, 32)));
                }
            }
        } finally {
            synchronized (this) {
                tid = 0;
                inside = false;
                notifyAll();
            }
        }
    }

    private Exit acknowledgeKick() {
        kicked = false;
        run.put(KvmAbi.RUN_IMMEDIATE_EXIT, (byte) 0);
        return Exit.KICKED;
    }

    @Override
    public synchronized void kick() {
        if (closed) {
            return; // the kvm_run page is gone, and so is the thread it would stop
        }
        kicked = true;
        // KVM_RUN entered after this returns at once (api.rst, immediate_exit) ...
        run.put(KvmAbi.RUN_IMMEDIATE_EXIT, (byte) 1);
        // ... and one in progress is interrupted by the signal.
        VcpuKicker.kick(tid);
    }

    /** KVM_EXIT_IO: {@code count} accesses of {@code size} bytes (more than one for INS/OUTS). */
    private void portIo() {
        boolean out = run.get(KvmAbi.IO_DIRECTION) == KvmAbi.KVM_EXIT_IO_OUT;
        int size = run.get(KvmAbi.IO_SIZE);
        int port = run.getShort(KvmAbi.IO_PORT) & 0xffff;
        int count = run.getInt(KvmAbi.IO_COUNT);
        int at = (int) run.getLong(KvmAbi.IO_DATA_OFFSET);
        for (int i = 0; i < count; i++, at += size) {
            if (out) {
                pio.write(port, size, load(at, size));
            } else {
                store(at, size, pio.read(port, size));
            }
        }
    }

    /** KVM_EXIT_MMIO: one access of 1, 2, 4 or 8 bytes; a read's result goes back in the same page. */
    private void mmio() {
        long address = run.getLong(KvmAbi.MMIO_PHYS_ADDR);
        int length = run.getInt(KvmAbi.MMIO_LEN);
        if (run.get(KvmAbi.MMIO_IS_WRITE) != 0) {
            mmio.write(address, length, load(KvmAbi.MMIO_DATA, length));
        } else {
            store(KvmAbi.MMIO_DATA, length, mmio.read(address, length));
        }
    }

    private long load(int at, int size) {
        return switch (size) {
            case 1 -> run.get(at) & 0xffL;
            case 2 -> run.getShort(at) & 0xffffL;
            case 4 -> run.getInt(at) & 0xffffffffL;
            default -> run.getLong(at);
        };
    }

    private void store(int at, int size, long value) {
        switch (size) {
            case 1 -> run.put(at, (byte) value);
            case 2 -> run.putShort(at, (short) value);
            case 4 -> run.putInt(at, (int) value);
            default -> run.putLong(at, value);
        }
    }

    private void systemEvent() throws VcpuException {
        int type = run.getInt(KvmAbi.SYSTEM_EVENT_TYPE);
        switch (type) {
            case KvmAbi.KVM_SYSTEM_EVENT_SHUTDOWN ->
                machine.requestStop(Machine.StopReason.POWER_OFF, "vCPU " + index + ": the guest powered off");
            case KvmAbi.KVM_SYSTEM_EVENT_RESET ->
                machine.requestStop(Machine.StopReason.RESET, "vCPU " + index + ": the guest reset the machine");
            default -> throw error("the guest reported system event " + type
                    + (type == KvmAbi.KVM_SYSTEM_EVENT_CRASH ? " (crash)" : ""));
        }
    }

    private String internalError() {
        int suberror = run.getInt(KvmAbi.INTERNAL_SUBERROR);
        int ndata = Math.min(run.getInt(KvmAbi.INTERNAL_NDATA), 16);
        String what = switch (suberror) {
            case KvmAbi.KVM_INTERNAL_ERROR_EMULATION -> "KVM could not emulate an instruction";
            case KvmAbi.KVM_INTERNAL_ERROR_SIMUL_EX -> "an exception occurred while delivering another (simultaneous)";
            case KvmAbi.KVM_INTERNAL_ERROR_DELIVERY_EV -> "an exit occurred while delivering an event";
            default -> "suberror " + suberror;
        };
        StringBuilder b = new StringBuilder("KVM internal error (KVM_EXIT_INTERNAL_ERROR): ").append(what);
        if (ndata > 0) {
            b.append("; data");
            for (int i = 0; i < ndata; i++) {
                b.append(String.format(" 0x%x", run.getLong(KvmAbi.INTERNAL_DATA + 8 * i)));
            }
        }
        return b.toString();
    }

    private String hex(int at, int length) {
        byte[] b = new byte[length];
        run.get(at, b);
        return HexFormat.ofDelimiter(" ").formatHex(b);
    }

    private VcpuException error(String message) {
        X86CpuState state;
        try {
            state = codec.read();
        } catch (VireoException | RuntimeException e) {
            state = null;
        }
        return new VcpuException(message, state);
    }

    static String exitName(int reason) {
        return switch (reason) {
            case KvmAbi.KVM_EXIT_UNKNOWN -> "KVM_EXIT_UNKNOWN";
            case KvmAbi.KVM_EXIT_EXCEPTION -> "KVM_EXIT_EXCEPTION";
            case KvmAbi.KVM_EXIT_IO -> "KVM_EXIT_IO";
            case KvmAbi.KVM_EXIT_HYPERCALL -> "KVM_EXIT_HYPERCALL";
            case KvmAbi.KVM_EXIT_DEBUG -> "KVM_EXIT_DEBUG";
            case KvmAbi.KVM_EXIT_HLT -> "KVM_EXIT_HLT";
            case KvmAbi.KVM_EXIT_MMIO -> "KVM_EXIT_MMIO";
            case KvmAbi.KVM_EXIT_IRQ_WINDOW_OPEN -> "KVM_EXIT_IRQ_WINDOW_OPEN";
            case KvmAbi.KVM_EXIT_SHUTDOWN -> "KVM_EXIT_SHUTDOWN";
            case KvmAbi.KVM_EXIT_FAIL_ENTRY -> "KVM_EXIT_FAIL_ENTRY";
            case KvmAbi.KVM_EXIT_INTR -> "KVM_EXIT_INTR";
            case KvmAbi.KVM_EXIT_NMI -> "KVM_EXIT_NMI";
            case KvmAbi.KVM_EXIT_INTERNAL_ERROR -> "KVM_EXIT_INTERNAL_ERROR";
            case KvmAbi.KVM_EXIT_SYSTEM_EVENT -> "KVM_EXIT_SYSTEM_EVENT";
            default -> "exit " + reason;
        };
    }

    /**
     * Releases the vCPU. A thread still inside {@link #run()} is kicked out first and waited
     * for: unmapping the kvm_run page under it would crash the process. If it does not come out
     * (stuck in a device handler), the page and descriptor are left to the process's end.
     */
    synchronized void close() {
        if (closed) {
            return;
        }
        if (inside) {
            kick();
            long deadline = System.nanoTime() + 2_000_000_000L;
            while (inside && System.nanoTime() < deadline) {
                try {
                    wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        closed = true;
        if (inside) {
            LOG.warning(machine.name() + ": vCPU " + index + " did not leave KVM_RUN; its kvm_run page stays mapped");
            return;
        }
        Linux.munmap(runPage, kvm.vcpuMmapSize);
        Linux.close(fd);
    }
}
