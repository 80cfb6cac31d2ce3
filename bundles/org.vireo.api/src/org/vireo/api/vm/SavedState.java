package org.vireo.api.vm;

import java.nio.file.Path;

/**
 * What {@link VmManager#save} wrote: the snapshot file, its size, the guest memory pages it
 * holds (all-zero pages are left out) and how long the VM was held for it.
 */
public record SavedState(Path file, long bytes, long memoryPages, long millis) {
}
