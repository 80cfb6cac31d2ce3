package org.vireo.cpu.emu;

import org.osgi.service.component.annotations.Component;
import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.cpu.CpuBackend;
import org.vireo.api.cpu.CpuEngine;

/**
 * The software CPU backend: an x86-64 interpreter in Java with the PC's interrupt
 * controllers modelled in Java too, so that a VM runs where there is no KVM.
 *
 * <p>Guest time follows the host clock. With the system property
 * {@code vireo.emu.deterministic=true} it follows retired instructions instead (one
 * nanosecond each), which makes a boot repeat exactly: for tests and for chasing bugs.
 */
@Component(service = CpuBackend.class)
public final class EmuBackend implements CpuBackend {

    public static final String TYPE = "emu";

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "software x86-64 CPU (interpreter), 1 vCPU";
    }

    @Override
    public Availability availability() {
        return Availability.usable("runs on any host, no hardware virtualization needed");
    }

    @Override
    public int maxVcpus() {
        return 1;
    }

    @Override
    public CpuEngine create(Machine machine, int vcpuCount) throws VireoException {
        if (vcpuCount != 1) {
            throw new VireoException("the emu CPU backend runs exactly 1 vCPU; the VM asks for " + vcpuCount);
        }
        return new EmuEngine(machine, vcpuCount, Boolean.getBoolean("vireo.emu.deterministic"));
    }
}
