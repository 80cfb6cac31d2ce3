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

    /** The serial console of a VM running in this process. */
    VmConsole console(String name) throws VireoException;

    /** Blocks until the VM is no longer active or the timeout passes; returns its state then. */
    VmState awaitStop(String name, long timeoutMillis) throws VireoException, InterruptedException;

    /** Installed CPU backends: type to a line saying whether it is usable here. */
    Map<String, String> cpuBackends();

    /** Installed device types: type to description. */
    Map<String, String> deviceTypes();

    /** Registers a listener for state changes of every VM; close the result to remove it. */
    AutoCloseable addListener(Consumer<VmEvent> listener);
}
