package org.vireo.core.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.board.Board;
import org.vireo.api.board.BoardInstance;
import org.vireo.api.bus.IoBus;
import org.vireo.api.cpu.CpuBackend;
import org.vireo.api.cpu.CpuEngine;
import org.vireo.api.cpu.Vcpu;
import org.vireo.api.cpu.VcpuException;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.device.ConsoleChannel;
import org.vireo.api.device.Device;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.device.DeviceFactory;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.pci.PciBus;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmConsole;
import org.vireo.api.vm.VmState;
import org.vireo.core.BasicMachine;
import org.vireo.core.bus.AddressSpace;
import org.vireo.core.config.VmConfigCodec;
import org.vireo.core.memory.MappedGuestMemory;
import org.vireo.core.snapshot.SnapshotFile;

/**
 * One VM running in this process: its memory, buses, vCPU threads and devices, and its
 * lifecycle. Lifecycle methods are called by the manager, which serializes them per VM; the
 * vCPU threads and devices report back through {@link Machine#requestStop}.
 */
public final class VirtualMachine {

    private static final Logger LOG = Logger.getLogger(VirtualMachine.class.getName());
    /** The machine state section of a snapshot. */
    private static final String STATE_SECTION = "vm";
    private static final int STATE_VERSION = 1;

    /** Called with (old state, new state, message) on every transition. */
    public interface StateListener {
        void changed(VirtualMachine vm, VmState from, VmState to, String message);
    }

    private final VmConfig config;
    private final Path directory;
    private final Path baseDirectory;
    private final CpuBackend backend;
    private final Board board;
    private final Map<String, DeviceFactory> factories;
    private final StateListener listener;
    /** Console channels by name; "serial0", the main console, exists from the start. */
    private final Map<String, ConsoleHub> consoles = new ConcurrentHashMap<>(Map.of(VmConsole.SERIAL0, new ConsoleHub()));
    /** Device controls published through {@link DeviceContext#publish}, by type. */
    private final Map<Class<?>, Object> controls = new ConcurrentHashMap<>();

    private final Object lock = new Object();
    private VmState state = VmState.STOPPED;
    /** The last state whose event listeners have run: what waiters go by. */
    private VmState published = VmState.STOPPED;
    private Instant since = Instant.now();
    private String message;
    private boolean pauseRequested;
    private boolean stopRequested;
    private int vcpusParked;
    private int vcpusRunning;
    private Machine.StopReason stopReason;
    private String stopDetail;

    private GuestMemory memory;
    private CpuEngine engine;
    private BoardInstance boardInstance;
    private final List<Device> devices = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();

    /**
     * @param directory the VM's library directory, or {@code null} for a transient VM
     * @param baseDirectory what relative paths in the config are resolved against
     */
    public VirtualMachine(VmConfig config, Path directory, Path baseDirectory, CpuBackend backend, Board board,
            Map<String, DeviceFactory> factories, StateListener listener) {
        this.config = config;
        this.directory = directory;
        this.baseDirectory = baseDirectory;
        this.backend = backend;
        this.board = board;
        this.factories = Map.copyOf(factories);
        this.listener = listener;
    }

    public String name() {
        return config.name();
    }

    public VmConfig config() {
        return config;
    }

    public Path directory() {
        return directory;
    }

    public CpuBackend backend() {
        return backend;
    }

    /** The main console, channel "serial0". */
    public ConsoleHub console() {
        return consoles.get(VmConsole.SERIAL0);
    }

    /** Console channel {@code channel}, if a device asked for it. */
    public Optional<ConsoleHub> console(String channel) {
        return Optional.ofNullable(consoles.get(channel));
    }

    /** The console channels' names, "serial0" first, then in alphabetical order. */
    public List<String> consoleChannels() {
        List<String> names = new ArrayList<>(new java.util.TreeSet<>(consoles.keySet()));
        names.remove(VmConsole.SERIAL0);
        names.add(0, VmConsole.SERIAL0);
        return names;
    }

    /** The control a device published as {@code type}, while the VM holds its devices. */
    public <T> Optional<T> control(Class<T> type) {
        return Optional.ofNullable(controls.get(type)).map(type::cast);
    }

    public VmState state() {
        synchronized (lock) {
            return state;
        }
    }

    public Instant since() {
        synchronized (lock) {
            return since;
        }
    }

    public String message() {
        synchronized (lock) {
            return message;
        }
    }

    private void transition(VmState to, String why) {
        VmState from;
        synchronized (lock) {
            from = state;
            if (from == to) {
                return;
            }
            state = to;
            since = Instant.now();
            message = why;
        }
        try {
            listener.changed(this, from, to, why);
        } finally {
            synchronized (lock) {
                published = to;
                lock.notifyAll();
            }
        }
    }

    /** Builds the machine and starts its vCPUs. On failure everything is released and the VM is FAILED. */
    public void start() throws VireoException {
        start(null, false);
    }

    /**
     * Builds the machine and either boots it or, given a snapshot (already checked by
     * {@link SnapshotFile#read}), restores the saved state into it; then starts its vCPUs,
     * parked at once when {@code paused}. On failure everything is released and the VM is
     * FAILED.
     */
    public void start(SnapshotFile.Contents snapshot, boolean paused) throws VireoException {
        transition(VmState.STARTING, null);
        try {
            assemble(snapshot == null);
            if (snapshot != null) {
                restore(snapshot);
            }
        } catch (VireoException | RuntimeException e) {
            release();
            transition(VmState.FAILED, e.getMessage());
            throw e instanceof VireoException ve ? ve
                    : new VireoException(name() + ": could not start: " + e, e);
        }
        synchronized (lock) {
            vcpusRunning = threads.size();
            pauseRequested = paused;
        }
        if (paused) {
            engine.paused();
        }
        transition(paused ? VmState.PAUSED : VmState.RUNNING, null);
        threads.forEach(Thread::start);
    }

    private void assemble(boolean boot) throws VireoException {
        memory = new MappedGuestMemory(board.ramRanges(config.memoryBytes()));
        AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, name());
        AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, name());
        Machine machine = new BasicMachine(config.name(), memory, pio, mmio, this::requestStop);
        engine = backend.create(machine, config.vcpus());
        Context context = new Context(machine, engine.irqChip());
        boardInstance = board.build(machine, context);
        context.pciBus = boardInstance.pciBus();
        devices.addAll(boardInstance.devices());
        for (DeviceConfig dc : config.devices()) {
            DeviceFactory factory = factories.get(dc.type());
            if (factory == null) {
                throw new VireoException(name() + ": device " + dc.id() + ": no installed bundle provides type '"
                        + dc.type() + "'; installed: " + new java.util.TreeSet<>(factories.keySet()));
            }
            devices.add(factory.create(context, dc));
        }
        List<Vcpu> vcpus = engine.vcpus();
        if (boot) {
            Path kernel = baseDirectory.resolve(config.boot().kernel());
            Path initrd = config.boot().initrd() == null ? null : baseDirectory.resolve(config.boot().initrd());
            List<X86CpuState> states = boardInstance.boot(kernel, initrd, config.boot().cmdline(), config.vcpus());
            for (int i = 0; i < vcpus.size(); i++) {
                vcpus.get(i).setState(states.get(i));
            }
        }
        for (int i = 0; i < vcpus.size(); i++) {
            Vcpu vcpu = vcpus.get(i);
            Thread t = new Thread(() -> vcpuLoop(vcpu), "vireo-" + name() + "-vcpu" + i);
            t.setDaemon(true);
            threads.add(t);
        }
    }

    /** The body of one vCPU thread: run the guest, and park while the VM is paused. */
    private void vcpuLoop(Vcpu vcpu) {
        try {
            while (true) {
                synchronized (lock) {
                    if (pauseRequested && !stopRequested) {
                        vcpusParked++;
                        lock.notifyAll();
                        while (pauseRequested && !stopRequested) {
                            lock.wait();
                        }
                        vcpusParked--;
                    }
                    if (stopRequested) {
                        return;
                    }
                }
                Vcpu.Exit exit = vcpu.run();
                if (exit == Vcpu.Exit.SHUTDOWN) {
                    requestStop(Machine.StopReason.TRIPLE_FAULT, "vCPU " + vcpu.index() + " took a triple fault");
                }
            }
        } catch (VcpuException e) {
            String dump = e.state() == null ? "" : "\n" + e.state();
            requestStop(Machine.StopReason.ERROR, "vCPU " + vcpu.index() + ": " + e.getMessage() + dump);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            LOG.log(Level.SEVERE, name() + ": vCPU " + vcpu.index() + " crashed", e);
            requestStop(Machine.StopReason.ERROR, "vCPU " + vcpu.index() + ": internal error: " + e);
        } finally {
            boolean last;
            synchronized (lock) {
                last = --vcpusRunning == 0;
                lock.notifyAll();
            }
            if (last) {
                finish();
            }
        }
    }

    /** Any thread: kicks every vCPU out and lets the last one tear the VM down. */
    void requestStop(Machine.StopReason reason, String detail) {
        synchronized (lock) {
            if (stopRequested) {
                return;
            }
            stopRequested = true;
            stopReason = reason;
            stopDetail = detail;
            lock.notifyAll();
        }
        if (state() == VmState.RUNNING || state() == VmState.PAUSED) {
            transition(VmState.STOPPING, detail);
        }
        kickAll();
    }

    private void kickAll() {
        CpuEngine e = engine;
        if (e != null) {
            e.vcpus().forEach(Vcpu::kick);
        }
    }

    /** Runs on the last vCPU thread to leave: releases everything and settles the final state. */
    private void finish() {
        release();
        Machine.StopReason reason;
        String detail;
        synchronized (lock) {
            reason = stopReason;
            detail = stopDetail;
        }
        if (reason == Machine.StopReason.ERROR) {
            transition(VmState.FAILED, detail);
        } else {
            transition(VmState.STOPPED, detail);
        }
    }

    private void release() {
        for (int i = devices.size() - 1; i >= 0; i--) {
            try {
                devices.get(i).close();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, name() + ": closing device " + devices.get(i).id(), e);
            }
        }
        devices.clear();
        controls.clear();
        if (engine != null) {
            engine.close();
            engine = null;
        }
        if (memory != null) {
            memory.close();
            memory = null;
        }
    }

    /** Stops every vCPU at its next exit and waits until all are parked. */
    public void pause() throws VireoException, InterruptedException {
        park();
        transition(VmState.PAUSED, null);
    }

    public void resume() throws VireoException {
        synchronized (lock) {
            if (state != VmState.PAUSED) {
                throw new VireoException(name() + " is " + state.name().toLowerCase() + ", not paused");
            }
        }
        unpark();
        transition(VmState.RUNNING, null);
    }

    /** Takes every vCPU of a running VM out of the guest and stops guest time. */
    private void park() throws VireoException, InterruptedException {
        synchronized (lock) {
            if (state != VmState.RUNNING) {
                throw new VireoException(name() + " is " + state.name().toLowerCase() + ", not running");
            }
            pauseRequested = true;
        }
        kickAll();
        synchronized (lock) {
            while (vcpusParked < vcpusRunning && !stopRequested) {
                lock.wait();
            }
            if (stopRequested) {
                throw new VireoException(name() + " stopped while it was being paused");
            }
        }
        engine.paused();
    }

    private void unpark() {
        CpuEngine e = engine;
        if (e != null) {
            e.resumed();
        }
        synchronized (lock) {
            pauseRequested = false;
            lock.notifyAll();
        }
    }

    /** What {@link #save} wrote. */
    public record SaveResult(Path file, long pages, long bytes, long millis) {
    }

    /**
     * Saves the whole VM (config, vCPUs, interrupt controllers and clock, devices with their
     * in-flight queue positions, memory without all-zero pages) into {@code file}, atomically.
     * A running VM is paused for the time it takes and then goes on; a paused one stays paused.
     */
    public SaveResult save(Path file) throws VireoException, InterruptedException {
        long start = System.nanoTime();
        boolean wasRunning;
        synchronized (lock) {
            if (state != VmState.RUNNING && state != VmState.PAUSED) {
                throw new VireoException(name() + " is " + state.name().toLowerCase() + "; only a running or paused"
                        + " VM can be saved");
            }
            wasRunning = state == VmState.RUNNING;
        }
        if (wasRunning) {
            park();
        }
        try {
            StateWriter root = new StateWriter(STATE_SECTION, STATE_VERSION);
            engine.saveState(root.section("engine", 1));
            StateWriter cpus = root.section("vcpus", 1);
            for (Vcpu vcpu : engine.vcpus()) {
                vcpu.getState().saveState(cpus.section("vcpu" + vcpu.index(), 1));
            }
            StateWriter saved = root.section("devices", 1);
            for (Device d : devices) {
                d.saveState(saved.section(d.id(), 1));
            }
            long pages = SnapshotFile.write(file, VmConfigCodec.format(config), root.toBytes(), memory);
            return new SaveResult(file, pages, Files.size(file), (System.nanoTime() - start) / 1_000_000);
        } catch (IOException e) {
            throw new VireoException(name() + ": cannot write the snapshot " + file + ": " + e.getMessage(), e);
        } finally {
            if (wasRunning) {
                unpark();
            }
        }
    }

    /** Puts a snapshot's state into the machine just assembled; its vCPUs have not run. */
    private void restore(SnapshotFile.Contents snapshot) throws VireoException {
        StateReader root = StateReader.parse(snapshot.state()).expect(STATE_SECTION, 1, STATE_VERSION);
        StateReader saved = root.section("devices");
        List<String> ids = devices.stream().map(Device::id).toList();
        if (!new java.util.HashSet<>(ids).equals(saved.keys())) {
            throw new StateException(name() + ": the snapshot " + snapshot.file() + " holds devices "
                    + new java.util.TreeSet<>(saved.keys()) + ", this VM has " + new java.util.TreeSet<>(ids)
                    + " (its config no longer matches)");
        }
        StateReader cpus = root.section("vcpus");
        if (cpus.keys().size() != engine.vcpus().size()) {
            throw new StateException(name() + ": the snapshot " + snapshot.file() + " holds " + cpus.keys().size()
                    + " vCPUs, this VM has " + engine.vcpus().size());
        }
        SnapshotFile.loadMemory(snapshot, memory);
        engine.restoreState(root.section("engine"));
        for (Vcpu vcpu : engine.vcpus()) {
            vcpu.setState(X86CpuState.restoreState(cpus.section("vcpu" + vcpu.index())));
        }
        for (Device d : devices) {
            try {
                d.restoreState(saved.section(d.id()));
            } catch (StateException e) {
                throw new StateException(name() + ": device " + d.id() + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Stops the VM. Graceful asks the guest to shut down and waits up to {@code graceMillis};
     * then, or at once when forced, powers it off. Returns when the VM has stopped.
     */
    public void stop(boolean force, long graceMillis) throws InterruptedException {
        if (!force && state() == VmState.RUNNING && boardInstance != null) {
            boardInstance.requestShutdown();
            if (awaitInactive(graceMillis)) {
                return;
            }
        }
        requestStop(Machine.StopReason.POWER_OFF, force ? "powered off" : "did not shut down in time; powered off");
        awaitInactive(Long.MAX_VALUE);
    }

    /** Waits until the VM holds no resources; returns whether it got there in time. */
    public boolean awaitInactive(long timeoutMillis) throws InterruptedException {
        long deadline = timeoutMillis == Long.MAX_VALUE ? Long.MAX_VALUE : System.currentTimeMillis() + timeoutMillis;
        synchronized (lock) {
            while (published.isActive()) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) {
                    return false;
                }
                lock.wait(Math.min(left, 1000));
            }
            return true;
        }
    }

    /** Subscribes to the main console (serial0). */
    public AutoCloseable onConsoleOutput(Consumer<byte[]> sink) {
        return console().subscribe(sink);
    }

    /** What devices get from the runtime. */
    private final class Context implements DeviceContext {
        private final Machine machine;
        private final IrqChip irqChip;
        PciBus pciBus;

        Context(Machine machine, IrqChip irqChip) {
            this.machine = machine;
            this.irqChip = irqChip;
        }

        @Override
        public Machine machine() {
            return machine;
        }

        @Override
        public IrqChip irqChip() {
            return irqChip;
        }

        @Override
        public PciBus pciBus() {
            if (pciBus == null) {
                throw new IllegalStateException("the PCI bus is not ready yet");
            }
            return pciBus;
        }

        @Override
        public Path resolve(String path) {
            return baseDirectory.resolve(path);
        }

        @Override
        public ConsoleChannel console(String channel) {
            return consoles.computeIfAbsent(channel, c -> new ConsoleHub());
        }

        @Override
        public <T> void publish(Class<T> type, T control) {
            if (controls.putIfAbsent(type, type.cast(control)) != null) {
                LOG.warning(name() + ": a second " + type.getSimpleName() + " is ignored; the first one is used");
            }
        }
    }
}
