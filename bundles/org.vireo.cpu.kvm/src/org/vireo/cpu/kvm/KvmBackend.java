package org.vireo.cpu.kvm;

import org.osgi.service.component.annotations.Component;
import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.cpu.CpuBackend;
import org.vireo.api.cpu.CpuEngine;
import org.vireo.x86.boot.MpTable;

/**
 * Hardware virtualization through the host's KVM ({@code /dev/kvm}), driven through JNA: the
 * guest runs on the real CPU, KVM's in-kernel interrupt controllers and PIT serve it, and Vireo
 * handles port I/O and MMIO exits with the same board and devices as the software CPU.
 *
 * <p>With the system property {@code vireo.kvm.stats=true} each VM prints, when it stops, its
 * exits by reason, the guest TSC frequency and the VMM's memory beyond guest RAM (for
 * releng/scripts/kvm-smoke.sh).
 */
@Component(service = CpuBackend.class)
public final class KvmBackend implements CpuBackend {

    public static final String TYPE = "kvm";

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "hardware virtualization through /dev/kvm";
    }

    @Override
    public Availability availability() {
        try {
            Kvm kvm = Kvm.get();
            String detail = "KVM API " + KvmAbi.API_VERSION + ", up to " + maxVcpus() + " vCPUs";
            if (kvm.pvm) {
                // PVM runs a guest kernel deprivileged; a stock kernel hangs early in its boot
                // there, so "auto" must not pick it (KVM-ON-DEVICE.md).
                return Availability.usableWhenNamed(detail + "; the host's KVM is kvm-pvm, a software nested"
                        + " hypervisor that runs only guests built for it, not stock kernels");
            }
            return Availability.usable(detail);
        } catch (VireoException | RuntimeException | LinkageError e) {
            return Availability.unusable(e.getMessage());
        }
    }

    @Override
    public int maxVcpus() {
        try {
            return Math.min(Kvm.get().maxVcpus, MpTable.MAX_CPUS);
        } catch (VireoException | RuntimeException | LinkageError e) {
            return 0;
        }
    }

    @Override
    public CpuEngine create(Machine machine, int vcpuCount) throws VireoException {
        Kvm kvm = Kvm.get();
        int max = Math.min(kvm.maxVcpus, MpTable.MAX_CPUS);
        if (vcpuCount < 1 || vcpuCount > max) {
            throw new VireoException(machine.name() + ": " + vcpuCount + " vCPUs asked; the kvm backend runs 1 to "
                    + max + " on this host");
        }
        return new KvmEngine(kvm, machine, vcpuCount, Boolean.getBoolean("vireo.kvm.stats"));
    }
}
