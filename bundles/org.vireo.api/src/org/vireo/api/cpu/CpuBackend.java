package org.vireo.api.cpu;

import org.vireo.api.Machine;
import org.vireo.api.VireoException;

/**
 * A way to run vCPUs: hardware virtualization through KVM, or the software x86-64 CPU.
 * Registered as an OSGi service; a VM config picks one by {@link #type()} ("kvm", "emu") or
 * asks for "auto".
 */
public interface CpuBackend {

    /** The type id a VM config names: "kvm", "emu". */
    String type();

    /** One line for users: what this backend is. */
    String description();

    /** Whether this backend can run VMs on this host now, and if not, why. */
    Availability availability();

    /** The most vCPUs one VM may have with this backend. */
    int maxVcpus();

    /**
     * Creates the CPU half of one VM: its vCPUs and the interrupt controllers they use. The
     * vCPUs start stopped, in the architectural reset state; the runtime loads the boot state
     * with {@link Vcpu#setState} before running them.
     */
    CpuEngine create(Machine machine, int vcpuCount) throws VireoException;

    /**
     * The answer to "can this backend run here?". A backend can be usable when a VM names it
     * and still be wrong for "auto": {@code autoSelectable} false says so, for example a KVM
     * that runs only guests built for it.
     */
    record Availability(boolean usable, boolean autoSelectable, String reason) {

        public static Availability usable(String detail) {
            return new Availability(true, true, detail);
        }

        /** Usable when a VM asks for it by name, passed over by "auto" (the reason says why). */
        public static Availability usableWhenNamed(String reason) {
            return new Availability(true, false, reason);
        }

        public static Availability unusable(String reason) {
            return new Availability(false, false, reason);
        }
    }
}
