package org.vireo.api.vm;

import java.nio.file.Path;
import java.time.Instant;

/**
 * A snapshot of one VM as the manager sees it.
 *
 * @param directory the VM's directory in the library, or {@code null} for a transient VM
 * @param backend the CPU backend type running it, or {@code null} when not active
 * @param message why it failed or stopped, or {@code null}
 * @param pid the host process that runs it, or 0 when none does
 */
public record VmInfo(String name, VmConfig config, VmState state, Instant since, String backend,
        String message, Path directory, long pid) {
}
