package org.vireo.api.vm;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * The host's side of a VM's memory balloon (a virtio-balloon device, virtio 1.2 §5.5): the
 * host sets a target, the guest's driver gives up that many pages (the host releases the
 * memory behind them) or takes them back, and reports how far it got and, on request, its
 * memory statistics. Found through {@link VmManager#balloon(String)}; every method is
 * thread-safe and returns at once: the guest follows in its own time.
 */
public interface BalloonControl {

    /** Bytes per balloon page. */
    int PAGE_SIZE = 4096;

    /** Keys of {@link Stats#values()} (virtio 1.2 §5.5.6.3): memory in bytes, the rest counts. */
    String SWAP_IN = "swap-in", SWAP_OUT = "swap-out", MAJOR_FAULTS = "major-faults", MINOR_FAULTS = "minor-faults",
            FREE_MEMORY = "free-memory", TOTAL_MEMORY = "total-memory", AVAILABLE_MEMORY = "available-memory",
            DISK_CACHES = "disk-caches", HUGETLB_ALLOCATIONS = "hugetlb-allocations",
            HUGETLB_FAILURES = "hugetlb-failures";

    /** Guest statistics as the driver last sent them; a tag this list does not know is "tag-N". */
    record Stats(Instant received, Map<String, Long> values) {
        public Stats {
            values = Map.copyOf(values);
        }
    }

    /** Pages the host asks the guest to give up (0: none). */
    int targetPages();

    /**
     * Asks the guest to hold {@code pages} pages in its balloon, and tells its driver with a
     * configuration change interrupt.
     *
     * @throws IllegalArgumentException if {@code pages} is negative or more than the guest's RAM
     */
    void setTargetPages(int pages);

    /** Pages in the balloon, as the guest's driver last reported them. */
    int actualPages();

    /** The latest statistics the guest sent; empty before the first (or when the driver sends none). */
    Optional<Stats> latestStats();

    /**
     * Asks the guest for fresh statistics: {@link #latestStats()} changes when they arrive.
     * Does nothing while the driver holds no statistics buffer at the device (not loaded, or
     * still answering the previous request).
     */
    void requestStats();
}
