package org.vireo.core;

import org.vireo.api.Machine;
import org.vireo.api.bus.IoBus;
import org.vireo.api.memory.GuestMemory;

/**
 * A {@link Machine} made of its parts: what the runtime builds for each VM, and what tests and
 * tools build to run a backend or a device without the runtime.
 *
 * @param onStop what a stop request does (the runtime kicks the vCPUs and tears the VM down)
 */
public record BasicMachine(String name, GuestMemory memory, IoBus portIo, IoBus mmio, StopHandler onStop)
        implements Machine {

    /** Receives {@link Machine#requestStop} calls; any thread. */
    @FunctionalInterface
    public interface StopHandler {
        void stop(StopReason reason, String detail);
    }

    @Override
    public void requestStop(StopReason reason, String detail) {
        onStop.stop(reason, detail);
    }
}
