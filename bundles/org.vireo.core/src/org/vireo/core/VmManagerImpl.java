package org.vireo.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.vireo.api.VireoException;
import org.vireo.api.board.Board;
import org.vireo.api.cpu.CpuBackend;
import org.vireo.api.cpu.NoCpuBackendException;
import org.vireo.api.device.DeviceFactory;
import org.vireo.api.vm.BalloonControl;
import org.vireo.api.vm.ConfigException;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.SavedState;
import org.vireo.api.vm.NoSuchVmException;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmConsole;
import org.vireo.api.vm.VmEvent;
import org.vireo.api.vm.VmInfo;
import org.vireo.api.vm.VmManager;
import org.vireo.api.vm.VmState;
import org.vireo.core.config.VmConfigCodec;
import org.vireo.core.runtime.ControlSocket;
import org.vireo.core.runtime.RemoteBalloon;
import org.vireo.core.runtime.VirtualMachine;
import org.vireo.core.snapshot.SnapshotFile;

/**
 * The VM library and the VMs running in this process.
 *
 * <p>The library is a directory ({@code ~/.vireo} unless the system property or environment
 * variable {@code VIREO_LIBRARY} / {@code vireo.library} says otherwise) holding
 * {@code vms/<name>/vm.json} per VM. A library VM runs inside the process that started it;
 * while it runs, that process answers on {@code vms/<name>/control.sock}, so another
 * {@code vireo} process can see its state and stop, pause or resume it.
 */
@Component(service = VmManager.class)
public final class VmManagerImpl implements VmManager {

    private static final Logger LOG = Logger.getLogger(VmManagerImpl.class.getName());
    static final String CONFIG_FILE = "vm.json";
    /** How long a graceful stop waits for the guest before powering it off. */
    static final long GRACEFUL_STOP_MILLIS = 30_000;

    private final Map<String, CpuBackend> backends = new ConcurrentHashMap<>();
    private final Map<String, DeviceFactory> deviceFactories = new ConcurrentHashMap<>();
    private final Map<String, Board> boards = new ConcurrentHashMap<>();
    private final Map<String, VirtualMachine> running = new ConcurrentHashMap<>();
    private final Map<String, ControlSocket> controlSockets = new ConcurrentHashMap<>();
    private final Map<String, Object> lifecycleLocks = new ConcurrentHashMap<>();
    private final List<Consumer<VmEvent>> listeners = new CopyOnWriteArrayList<>();
    private Path library;

    /** For DS. */
    public VmManagerImpl() {
        this(defaultLibrary());
    }

    /** A manager over {@code library}, for tests and embedding without OSGi. */
    public VmManagerImpl(Path library) {
        this.library = library;
    }

    static Path defaultLibrary() {
        String configured = System.getProperty("vireo.library", System.getenv("VIREO_LIBRARY"));
        if (configured != null && !configured.isBlank()) {
            return Paths.get(configured).toAbsolutePath();
        }
        return Paths.get(System.getProperty("user.home"), ".vireo");
    }

    @Activate
    void activate(Map<String, Object> properties) {
        Object configured = properties.get("library");
        if (configured instanceof String s && !s.isBlank()) {
            library = Paths.get(s).toAbsolutePath();
        }
    }

    @Deactivate
    void deactivate() {
        for (VirtualMachine vm : List.copyOf(running.values())) {
            try {
                vm.stop(true, 0);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    public void addCpuBackend(CpuBackend backend) {
        backends.put(backend.type(), backend);
    }

    public void removeCpuBackend(CpuBackend backend) {
        backends.remove(backend.type(), backend);
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    public void addDeviceFactory(DeviceFactory factory) {
        deviceFactories.put(factory.type(), factory);
    }

    public void removeDeviceFactory(DeviceFactory factory) {
        deviceFactories.remove(factory.type(), factory);
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    public void addBoard(Board board) {
        boards.put(board.type(), board);
    }

    public void removeBoard(Board board) {
        boards.remove(board.type(), board);
    }

    @Override
    public Path library() {
        return library;
    }

    private Path vmsDirectory() {
        return library.resolve("vms");
    }

    private Path vmDirectory(String name) {
        return vmsDirectory().resolve(name);
    }

    // ---------------------------------------------------------------- the library

    @Override
    public List<VmInfo> list() {
        Map<String, VmInfo> result = new TreeMap<>();
        if (Files.isDirectory(vmsDirectory())) {
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(vmsDirectory(), Files::isDirectory)) {
                for (Path dir : dirs) {
                    String name = dir.getFileName().toString();
                    if (Files.exists(dir.resolve(CONFIG_FILE))) {
                        find(name).ifPresent(info -> result.put(name, info));
                    }
                }
            } catch (IOException e) {
                LOG.log(Level.WARNING, "cannot list " + vmsDirectory(), e);
            }
        }
        for (VirtualMachine vm : running.values()) {
            result.putIfAbsent(vm.name(), info(vm));
        }
        return new ArrayList<>(result.values());
    }

    @Override
    public Optional<VmInfo> find(String name) {
        VirtualMachine vm = running.get(name);
        if (vm != null) {
            return Optional.of(info(vm));
        }
        if (!VmConfigCodec.NAME.matcher(name).matches()) {
            return Optional.empty();
        }
        Path dir = vmDirectory(name);
        Path file = dir.resolve(CONFIG_FILE);
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        VmConfig config;
        try {
            config = readConfig(file);
        } catch (VireoException e) {
            return Optional.of(new VmInfo(name, null, VmState.FAILED, lastModified(file), null,
                    e.getMessage(), dir, 0));
        }
        Optional<ControlSocket.Status> remote = ControlSocket.query(dir);
        if (remote.isPresent()) {
            ControlSocket.Status s = remote.get();
            return Optional.of(new VmInfo(name, config, s.state(), s.since(), s.backend(), s.message(), dir, s.pid()));
        }
        return Optional.of(LastRun.read(dir)
                .map(r -> new VmInfo(name, config, r.state(), r.time(), null, r.message(), dir, 0))
                .orElse(new VmInfo(name, config, VmState.STOPPED, lastModified(file), null, null, dir, 0)));
    }

    private static Instant lastModified(Path file) {
        try {
            return Files.getLastModifiedTime(file).toInstant();
        } catch (IOException e) {
            return Instant.EPOCH;
        }
    }

    private VmInfo info(VirtualMachine vm) {
        VmState state = vm.state();
        return new VmInfo(vm.name(), vm.config(), state, vm.since(), state.isActive() ? vm.backend().type() : null,
                vm.message(), vm.directory(), ProcessHandle.current().pid());
    }

    private VmInfo require(String name) throws VireoException {
        return find(name).orElseThrow(() -> new NoSuchVmException("no VM named '" + name + "' in " + vmsDirectory()));
    }

    @Override
    public VmConfig readConfig(Path file) throws VireoException {
        String json;
        try {
            json = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new VireoException("config file " + file + " does not exist");
        } catch (IOException e) {
            throw new VireoException("cannot read config file " + file + ": " + e.getMessage(), e);
        }
        return VmConfigCodec.parse(json, file.toString());
    }

    @Override
    public List<ConfigProblem> validate(VmConfig config) {
        return validate(config, Paths.get("").toAbsolutePath());
    }

    /** Checks a parsed config against what is installed; relative files are looked up under {@code base}. */
    List<ConfigProblem> validate(VmConfig config, Path base) {
        List<ConfigProblem> problems = new ArrayList<>();
        if (config.name() == null || !VmConfigCodec.NAME.matcher(config.name()).matches()) {
            problems.add(new ConfigProblem("name", config.name(),
                    "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"));
        }
        String cpu = config.cpu();
        if (!VmConfig.CPU_AUTO.equals(cpu) && !backends.containsKey(cpu)) {
            problems.add(new ConfigProblem("cpu", quote(cpu), "\"auto\" or an installed CPU backend: "
                    + (backends.isEmpty() ? "none is installed" : new java.util.TreeSet<>(backends.keySet()))));
        } else if (backends.containsKey(cpu) && config.vcpus() > backends.get(cpu).maxVcpus()) {
            problems.add(new ConfigProblem("vcpus", Integer.toString(config.vcpus()),
                    "at most " + backends.get(cpu).maxVcpus() + " with the " + cpu + " backend"));
        }
        Board board = boards.get("pc");
        if (board != null) {
            String shape = board.checkShape(config.memoryBytes(), config.vcpus());
            if (shape != null) {
                problems.add(new ConfigProblem("memory", VmConfigCodec.formatSize(config.memoryBytes()), shape));
            }
        }
        if (config.boot() != null) {
            checkFile(base, config.boot().kernel(), "boot.kernel", problems);
            checkFile(base, config.boot().initrd(), "boot.initrd", problems);
        }
        List<DeviceConfig> devices = config.devices();
        for (int i = 0; i < devices.size(); i++) {
            DeviceConfig d = devices.get(i);
            DeviceFactory factory = deviceFactories.get(d.type());
            String path = "devices[" + i + "]";
            if (factory == null) {
                problems.add(new ConfigProblem(path + ".type", quote(d.type()), "an installed device type: "
                        + (deviceFactories.isEmpty() ? "none is installed"
                                : new java.util.TreeSet<>(deviceFactories.keySet()))));
            } else {
                factory.validate(d).forEach(p -> problems.add(p.under(path)));
            }
        }
        return problems;
    }

    private static void checkFile(Path base, String file, String path, List<ConfigProblem> problems) {
        if (file != null && !file.isBlank() && !Files.isRegularFile(base.resolve(file))) {
            problems.add(new ConfigProblem(path, quote(file) + " (no such file: " + base.resolve(file) + ")",
                    "an existing file; relative paths are resolved against " + base));
        }
    }

    private static String quote(String s) {
        return s == null ? null : "\"" + s + "\"";
    }

    private void requireValid(VmConfig config, Path base) throws ConfigException {
        List<ConfigProblem> problems = validate(config, base);
        if (!problems.isEmpty()) {
            throw new ConfigException("VM " + config.name(), problems);
        }
    }

    @Override
    public VmInfo create(VmConfig config) throws VireoException {
        Path dir = vmDirectory(config.name() == null ? "" : config.name());
        synchronized (lockFor(config.name())) {
            requireValid(config, dir);
            if (Files.exists(dir.resolve(CONFIG_FILE)) || running.containsKey(config.name())) {
                throw new VireoException("a VM named '" + config.name() + "' already exists in " + vmsDirectory());
            }
            writeConfig(dir, config);
        }
        return require(config.name());
    }

    @Override
    public VmInfo update(VmConfig config) throws VireoException {
        synchronized (lockFor(config.name())) {
            VmInfo current = require(config.name());
            if (current.state().isActive()) {
                throw new VireoException("VM '" + config.name() + "' is " + stateWord(current.state())
                        + "; stop it before changing its config");
            }
            requireValid(config, vmDirectory(config.name()));
            writeConfig(vmDirectory(config.name()), config);
        }
        return require(config.name());
    }

    private static void writeConfig(Path dir, VmConfig config) throws VireoException {
        try {
            AtomicFiles.write(dir.resolve(CONFIG_FILE), VmConfigCodec.format(config));
        } catch (IOException e) {
            throw new VireoException("cannot write " + dir.resolve(CONFIG_FILE) + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void delete(String name) throws VireoException {
        synchronized (lockFor(name)) {
            VmInfo info = require(name);
            if (info.directory() == null) {
                throw new VireoException("VM '" + name + "' is transient: it goes away when it stops");
            }
            if (info.state().isActive()) {
                throw new VireoException("VM '" + name + "' is " + stateWord(info.state()) + "; stop it first");
            }
            // Only the VM's own directory goes; disk images referenced from elsewhere are untouched.
            try (Stream<Path> files = Files.walk(info.directory())) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            } catch (IOException e) {
                throw new VireoException("cannot delete " + info.directory() + ": " + e.getMessage(), e);
            }
        }
    }

    // ---------------------------------------------------------------- lifecycle

    private Object lockFor(String name) {
        return lifecycleLocks.computeIfAbsent(String.valueOf(name), n -> new Object());
    }

    private static String stateWord(VmState state) {
        return state.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Picks the backend a config asks for, resolving "auto". */
    CpuBackend chooseBackend(VmConfig config) throws VireoException {
        if (backends.isEmpty()) {
            throw new NoCpuBackendException("no CPU backend is installed: Vireo runs VMs with a bundle that provides "
                    + "the 'kvm' backend (org.vireo.cpu.kvm) or the 'emu' software CPU (org.vireo.cpu.emu), "
                    + "and this runtime has neither");
        }
        if (!VmConfig.CPU_AUTO.equals(config.cpu())) {
            CpuBackend b = backends.get(config.cpu());
            if (b == null) {
                throw new NoCpuBackendException("CPU backend '" + config.cpu() + "' is not installed; installed: "
                        + new java.util.TreeSet<>(backends.keySet()));
            }
            CpuBackend.Availability a = b.availability();
            if (!a.usable()) {
                throw new NoCpuBackendException("CPU backend '" + b.type() + "' cannot run here: " + a.reason());
            }
            return b;
        }
        List<String> reasons = new ArrayList<>();
        for (String type : List.of("kvm", "emu")) {
            CpuBackend b = backends.get(type);
            if (b != null) {
                CpuBackend.Availability a = b.availability();
                if (a.usable() && a.autoSelectable()) {
                    if (!reasons.isEmpty()) {
                        LOG.info(config.name() + ": cpu auto: " + type + " (" + String.join("; ", reasons) + ")");
                    }
                    return b;
                }
                reasons.add(type + (a.usable() ? " passed over: " : " unusable: ") + a.reason());
            }
        }
        for (CpuBackend b : backends.values()) {
            CpuBackend.Availability a = b.availability();
            if (a.usable() && a.autoSelectable()) {
                return b;
            }
        }
        throw new NoCpuBackendException("no installed CPU backend can run here (" + String.join("; ", reasons) + ")");
    }

    @Override
    public VmInfo start(String name) throws VireoException {
        synchronized (lockFor(name)) {
            VmInfo info = require(name);
            if (info.state().isActive()) {
                throw new VireoException("VM '" + name + "' is already " + stateWord(info.state())
                        + (info.pid() != 0 && info.pid() != ProcessHandle.current().pid()
                                ? " in process " + info.pid() : ""));
            }
            if (info.config() == null) {
                throw new VireoException("VM '" + name + "' has a bad config: " + info.message());
            }
            return run(info.config(), info.directory(), info.directory());
        }
    }

    @Override
    public VmInfo launch(VmConfig config) throws VireoException {
        synchronized (lockFor(config.name())) {
            if (running.containsKey(config.name()) || find(config.name()).map(i -> i.state().isActive()).orElse(false)) {
                throw new VireoException("a VM named '" + config.name() + "' is already running");
            }
            return run(config, null, Paths.get("").toAbsolutePath());
        }
    }

    @Override
    public SavedState save(String name, Path file) throws VireoException {
        Path target = file.toAbsolutePath();
        synchronized (lockFor(name)) {
            VirtualMachine vm = local(name);
            if (vm == null) {
                return ControlSocket.save(remoteDirectory(name), target);
            }
            try {
                VirtualMachine.SaveResult r = vm.save(target);
                LOG.info(name + ": saved to " + target + " (" + r.pages() + " pages, " + r.bytes() + " bytes, "
                        + r.millis() + " ms)");
                return new SavedState(r.file(), r.bytes(), r.pages(), r.millis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VireoException("interrupted while saving " + name, e);
            }
        }
    }

    @Override
    public VmInfo restore(Path file, String name, boolean paused) throws VireoException {
        SnapshotFile.Contents snapshot = SnapshotFile.read(file);
        VmConfig saved = VmConfigCodec.parse(snapshot.configJson(), "the config in snapshot " + file);
        String vmName = name != null ? name : saved.name();
        VmConfig config = saved.withName(vmName);
        synchronized (lockFor(vmName)) {
            if (running.containsKey(vmName)) {
                throw new VireoException("VM '" + vmName + "' is already running; stop it before restoring");
            }
            Optional<VmInfo> library = find(vmName);
            if (library.isPresent()) {
                VmInfo info = library.get();
                if (info.state().isActive()) {
                    throw new VireoException("VM '" + vmName + "' is already " + stateWord(info.state())
                            + "; stop it before restoring");
                }
                return run(config, info.directory(), info.directory(), snapshot, paused);
            }
            return run(config, null, Paths.get("").toAbsolutePath(), snapshot, paused);
        }
    }

    private VmInfo run(VmConfig config, Path directory, Path base) throws VireoException {
        return run(config, directory, base, null, false);
    }

    private VmInfo run(VmConfig config, Path directory, Path base, SnapshotFile.Contents snapshot, boolean paused)
            throws VireoException {
        requireValid(config, base);
        CpuBackend backend = chooseBackend(config);
        Board board = boards.get("pc");
        if (board == null) {
            throw new VireoException("no board is installed: the x86 PC board comes with org.vireo.x86");
        }
        if (config.vcpus() > backend.maxVcpus()) {
            throw new VireoException("VM '" + config.name() + "' asks for " + config.vcpus() + " vCPUs; the "
                    + backend.type() + " backend runs at most " + backend.maxVcpus());
        }
        VirtualMachine vm = new VirtualMachine(config, directory, base, backend, board, deviceFactories,
                this::onStateChange);
        running.put(config.name(), vm);
        try {
            vm.start(snapshot, paused);
        } catch (VireoException | RuntimeException e) {
            running.remove(config.name(), vm);
            throw e;
        }
        if (directory != null) {
            try {
                controlSockets.put(config.name(), ControlSocket.serve(directory, vm, this));
            } catch (IOException e) {
                LOG.log(Level.WARNING, "VM " + config.name() + ": no control socket, other vireo processes "
                        + "cannot reach it: " + e.getMessage());
            }
        }
        return info(vm);
    }

    private void onStateChange(VirtualMachine vm, VmState from, VmState to, String message) {
        if (!to.isActive()) {
            if (vm.directory() != null) {
                LastRun.write(vm.directory(), to, message);
            }
            running.remove(vm.name(), vm);
            ControlSocket socket = controlSockets.remove(vm.name());
            if (socket != null) {
                socket.close();
            }
        }
        VmEvent event = new VmEvent(vm.name(), from, to, message, Instant.now());
        for (Consumer<VmEvent> l : listeners) {
            try {
                l.accept(event);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "VM event listener failed", e);
            }
        }
    }

    private VirtualMachine local(String name) {
        return running.get(name);
    }

    @Override
    public void pause(String name) throws VireoException {
        synchronized (lockFor(name)) {
            VirtualMachine vm = local(name);
            if (vm == null) {
                remote(name, "pause");
                return;
            }
            try {
                vm.pause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VireoException("interrupted while pausing " + name, e);
            }
        }
    }

    @Override
    public void resume(String name) throws VireoException {
        synchronized (lockFor(name)) {
            VirtualMachine vm = local(name);
            if (vm == null) {
                remote(name, "resume");
                return;
            }
            vm.resume();
        }
    }

    @Override
    public void stop(String name, boolean force) throws VireoException {
        VirtualMachine vm = local(name);
        if (vm == null) {
            remote(name, force ? "poweroff" : "stop");
            return;
        }
        synchronized (lockFor(name)) {
            try {
                vm.stop(force, GRACEFUL_STOP_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VireoException("interrupted while stopping " + name, e);
            }
        }
    }

    /** Sends a lifecycle command to the process that runs a library VM. */
    private void remote(String name, String command) throws VireoException {
        ControlSocket.command(remoteDirectory(name), command);
    }

    /** The directory of a library VM that another process runs, where its control socket is. */
    private Path remoteDirectory(String name) throws VireoException {
        VmInfo info = require(name);
        if (!info.state().isActive() || info.directory() == null) {
            throw new VireoException("VM '" + name + "' is " + stateWord(info.state()) + ", not running");
        }
        return info.directory();
    }

    @Override
    public VmConsole console(String name) throws VireoException {
        return console(name, VmConsole.SERIAL0);
    }

    @Override
    public VmConsole console(String name, String channel) throws VireoException {
        VirtualMachine vm = localOrFail(name);
        return vm.console(channel).orElseThrow(() -> new VireoException("VM '" + name + "' has no console channel '"
                + channel + "'; its channels: " + vm.consoleChannels()
                + " (a virtio-console device adds one: type virtio-console, option channel, default hvc0)"));
    }

    @Override
    public List<String> consoleChannels(String name) throws VireoException {
        return localOrFail(name).consoleChannels();
    }

    @Override
    public Optional<BalloonControl> balloon(String name) throws VireoException {
        VirtualMachine vm = local(name);
        if (vm != null) {
            return vm.control(BalloonControl.class);
        }
        return RemoteBalloon.connect(remoteDirectory(name));
    }

    private VirtualMachine localOrFail(String name) throws VireoException {
        VirtualMachine vm = local(name);
        if (vm == null) {
            throw new VireoException("VM '" + name + "' is not running in this process");
        }
        return vm;
    }

    @Override
    public VmState awaitStop(String name, long timeoutMillis) throws VireoException, InterruptedException {
        VirtualMachine vm = local(name);
        if (vm != null) {
            vm.awaitInactive(timeoutMillis);
            return vm.state();
        }
        return require(name).state();
    }

    @Override
    public Map<String, String> cpuBackends() {
        Map<String, String> result = new TreeMap<>();
        backends.values().forEach(b -> {
            CpuBackend.Availability a = b.availability();
            result.put(b.type(), b.description() + (!a.usable() ? " (not usable" : a.autoSelectable() ? " (usable"
                    : " (usable when named, not chosen by auto")
                    + (a.reason() == null || a.reason().isEmpty() ? "" : ": " + a.reason()) + ")");
        });
        return result;
    }

    @Override
    public Map<String, String> deviceTypes() {
        Map<String, String> result = new TreeMap<>();
        deviceFactories.values().forEach(f -> result.put(f.type(), f.description()));
        return result;
    }

    @Override
    public AutoCloseable addListener(Consumer<VmEvent> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }
}
