package org.vireo.api.vm;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

import org.vireo.api.VireoException;

/**
 * The runtime's one entry point for managing VMs: the library on disk and the lifecycle of
 * the VMs running in this process. The workbench, the {@code vireo} command and the REST
 * server all go through it. Lifecycle changes of one VM are serialized.
 */
public interface VmManager {

    /** The library directory (default {@code ~/.vireo}). */
    Path library();

    /** Every VM of the library, and the transient VMs running in this process. */
    List<VmInfo> list();

    Optional<VmInfo> find(String name);

    /** Reads and validates a config file; relative paths in it stay relative. */
    VmConfig readConfig(Path file) throws VireoException;

    /** Every problem of {@code config} against the installed backends and device types. */
    List<ConfigProblem> validate(VmConfig config);

    /** Adds a VM to the library; its config is validated and written atomically. */
    VmInfo create(VmConfig config) throws VireoException;

    /** Replaces the config of a stopped VM. */
    VmInfo update(VmConfig config) throws VireoException;

    /** Removes a stopped VM's directory and config. Disk images outside it are left alone. */
    void delete(String name) throws VireoException;

    /** Starts a library VM in this process; returns when it is RUNNING (or throws). */
    VmInfo start(String name) throws VireoException;

    /** Starts a VM that is not in the library and is forgotten when it stops. */
    VmInfo launch(VmConfig config) throws VireoException;

    void pause(String name) throws VireoException;

    void resume(String name) throws VireoException;

    /**
     * Stops a VM. Graceful asks the guest (Ctrl-Alt-Del through the i8042) and waits up to
     * the timeout before forcing; forced powers it off at once.
     */
    void stop(String name, boolean force) throws VireoException;

    /** The main console (channel {@value VmConsole#SERIAL0}, the first serial port) of a VM running in this process. */
    VmConsole console(String name) throws VireoException;

    /**
     * Console channel {@code channel} of a VM running in this process: {@value VmConsole#SERIAL0}
     * is the same as {@link #console(String)}; a virtio-console device adds its own ("hvc0").
     *
     * @throws VireoException if the VM does not run here or has no such channel (the message
     *         names those it has)
     */
    default VmConsole console(String name, String channel) throws VireoException {
        if (VmConsole.SERIAL0.equals(channel)) {
            return console(name);
        }
        throw new VireoException("VM '" + name + "' has no console channel '" + channel + "'");
    }

    /** The console channels of a VM running in this process, {@value VmConsole#SERIAL0} first. */
    default List<String> consoleChannels(String name) throws VireoException {
        console(name);
        return List.of(VmConsole.SERIAL0);
    }

    /**
     * The memory balloon of a running VM, in this process or (through its control socket)
     * another: present when the VM has a virtio-balloon device.
     *
     * @throws VireoException if the VM is not running or its process cannot be reached
     */
    default Optional<BalloonControl> balloon(String name) throws VireoException {
        return Optional.empty();
    }

    /**
     * Saves the whole state of a running or paused VM (in this process or, through its control
     * socket, another) into one snapshot file, written atomically: its config, every vCPU,
     * the interrupt controllers and clock, every device with its in-flight queue positions,
     * and the guest memory without all-zero pages. A running VM is held for the time it takes
     * and goes on; a paused one stays paused. Disk images are not copied: restoring later
     * finds them as they are then.
     *
     * @throws VireoException if the VM does not run, its CPU backend cannot save, or the file
     *         cannot be written (an existing file is then left as it was)
     */
    SavedState save(String name, Path file) throws VireoException;

    /**
     * Starts a VM from a snapshot file written by {@link #save}: the saved config under
     * {@code name} (null: the saved name), every saved state put back, then the vCPUs go on
     * where they stopped, or wait paused. A library VM of that name must be stopped and is
     * started in this process; another name starts a VM outside the library, as
     * {@link #launch} does. The whole file is checked (format version, checksum, bounds, the
     * devices the config makes) before any VM is touched.
     *
     * @throws VireoException naming the file and what is wrong with it, or why the VM cannot start
     */
    VmInfo restore(Path file, String name, boolean paused) throws VireoException;

    /** Blocks until the VM is no longer active or the timeout passes; returns its state then. */
    VmState awaitStop(String name, long timeoutMillis) throws VireoException, InterruptedException;

    /** Installed CPU backends: type to a line saying whether it is usable here. */
    Map<String, String> cpuBackends();

    /** Installed device types: type to description. */
    Map<String, String> deviceTypes();

    /** Registers a listener for state changes of every VM; close the result to remove it. */
    AutoCloseable addListener(Consumer<VmEvent> listener);
}
