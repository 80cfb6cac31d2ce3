package org.vireo.cpu.kvm;

import java.util.ArrayList;
import java.util.List;

import com.sun.jna.Memory;

import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.cpu.CpuEngine;
import org.vireo.api.cpu.Vcpu;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.memory.RamRange;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * One VM in the host's KVM: the VM descriptor, guest RAM handed to KVM as memory slots (the
 * same host pages the devices use, see GuestMemory#hostAddress), KVM's in-kernel interrupt
 * controllers (PIC pair, IOAPIC, one LAPIC per vCPU) and PIT, and the vCPUs.
 */
final class KvmEngine implements CpuEngine {

    /**
     * Guest-physical pages Intel VT needs for real-mode emulation (three for the TSS, one for
     * the identity-mapped page table, api.rst KVM_SET_TSS_ADDR and KVM_SET_IDENTITY_MAP_ADDR):
     * just below the BIOS area at the top of the 32-bit space, where the PC has no RAM or device.
     */
    static final long IDENTITY_MAP_ADDRESS = 0xfeffc000L, TSS_ADDRESS = 0xfeffd000L;

    private final Machine machine;
    private final Kvm kvm;
    final int vmFd;
    private final KvmIrqChip irqChip;
    private final List<KvmVcpu> vcpus = new ArrayList<>();
    private final boolean stats;
    private final long created = System.nanoTime();
    private boolean closed;

    KvmEngine(Kvm kvm, Machine machine, int vcpuCount, boolean stats) throws VireoException {
        this.kvm = kvm;
        this.machine = machine;
        this.stats = stats;
        this.vmFd = Linux.ioctl(kvm.fd, KvmAbi.KVM_CREATE_VM, 0);
        if (vmFd < 0) {
            throw new VireoException(machine.name() + ": KVM_CREATE_VM failed: " + Linux.describe(Linux.errno()));
        }
        try {
            VcpuKicker.install();
            setUp();
            this.irqChip = new KvmIrqChip(vmFd, machine.name());
            for (int i = 0; i < vcpuCount; i++) {
                vcpus.add(new KvmVcpu(this, kvm, machine, i, vcpuCount));
            }
        } catch (VireoException | RuntimeException e) {
            close();
            throw e;
        }
    }

    private void setUp() throws VireoException {
        check(Linux.ioctl(vmFd, KvmAbi.KVM_SET_TSS_ADDR, TSS_ADDRESS), "KVM_SET_TSS_ADDR");
        Memory identity = Linux.struct(8);
        identity.setLong(0, IDENTITY_MAP_ADDRESS);
        check(Linux.ioctl(vmFd, KvmAbi.KVM_SET_IDENTITY_MAP_ADDR, identity), "KVM_SET_IDENTITY_MAP_ADDR");
        List<RamRange> ranges = machine.memory().ranges();
        if (ranges.size() > kvm.memorySlots) {
            throw new VireoException(machine.name() + ": guest RAM has " + ranges.size()
                    + " ranges but the host's KVM offers " + kvm.memorySlots + " memory slots");
        }
        Memory region = Linux.struct(KvmAbi.MEMORY_REGION_SIZE);
        for (int slot = 0; slot < ranges.size(); slot++) {
            RamRange r = ranges.get(slot);
            region.setInt(0, slot);
            region.setInt(4, 0);
            region.setLong(8, r.start());
            region.setLong(16, r.size());
            region.setLong(24, machine.memory().hostAddress(r.start()));
            if (Linux.ioctl(vmFd, KvmAbi.KVM_SET_USER_MEMORY_REGION, region) != 0) {
                throw new VireoException(String.format("%s: KVM cannot map guest RAM 0x%x-0x%x (%d MiB) as memory "
                        + "slot %d: %s", machine.name(), r.start(), r.end() - 1, r.size() >> 20, slot,
                        Linux.describe(Linux.errno())));
            }
        }
        check(Linux.ioctl(vmFd, KvmAbi.KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
        Memory pit = Linux.struct(KvmAbi.PIT_CONFIG_SIZE);
        pit.setInt(0, KvmAbi.KVM_PIT_SPEAKER_DUMMY);
        check(Linux.ioctl(vmFd, KvmAbi.KVM_CREATE_PIT2, pit), "KVM_CREATE_PIT2");
    }

    private void check(int result, String what) throws VireoException {
        if (result < 0) {
            throw new VireoException(machine.name() + ": " + what + " failed: " + Linux.describe(Linux.errno()));
        }
    }

    /**
     * One line a VM: exits by reason over all vCPUs, the guest TSC frequency, and the process's
     * resident memory split into guest RAM (pages of the guest's mapping that are resident,
     * from mincore) and the rest: what the VMM itself costs.
     */
    private void printStatistics() {
        long[] byReason = new long[KvmVcpu.EXIT_REASONS];
        for (KvmVcpu v : vcpus) {
            for (int r = 0; r < byReason.length; r++) {
                byReason[r] += v.exits.get(r);
            }
        }
        StringBuilder b = new StringBuilder("kvm: ").append(machine.name()).append(": exits");
        long total = 0;
        for (int r = 0; r < byReason.length; r++) {
            if (byReason[r] > 0) {
                b.append(' ').append(KvmVcpu.exitName(r).replace("KVM_EXIT_", "").toLowerCase()).append('=')
                        .append(byReason[r]);
                total += byReason[r];
            }
        }
        b.append(" total=").append(total);
        b.append(String.format("; %.3f s; guest TSC %d kHz", (System.nanoTime() - created) / 1e9, vcpus.get(0).tscKhz()));
        long rss = HostMemory.residentBytes();
        long guest = 0;
        for (RamRange r : machine.memory().ranges()) {
            guest += HostMemory.residentBytes(machine.memory().hostAddress(r.start()), r.size());
        }
        if (rss > 0) {
            b.append(String.format("; process RSS %.1f MiB = guest RAM %.1f MiB + VMM %.1f MiB", rss / 1048576.0,
                    guest / 1048576.0, (rss - guest) / 1048576.0));
        }
        System.err.println(b);
    }

    @Override
    public IrqChip irqChip() {
        return irqChip;
    }

    @Override
    public List<Vcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    /**
     * Not yet: the in-kernel PIC, IOAPIC, PIT and kvmclock (KVM_GET_IRQCHIP, KVM_GET_PIT2,
     * KVM_GET_CLOCK) are not read out, so a VM under KVM cannot be saved; the runtime refuses
     * before it writes anything.
     */
    @Override
    public void saveState(StateWriter out) throws StateException {
        throw new StateException("saving a VM's state is not implemented for the kvm backend yet (its in-kernel "
                + "interrupt controllers and clock are not read out); run the VM with cpu \"emu\" to save it");
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        throw new StateException("restoring a VM's state is not implemented for the kvm backend yet; restore it with"
                + " cpu \"emu\"");
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (stats && !vcpus.isEmpty()) {
            printStatistics();
        }
        for (KvmVcpu v : vcpus) {
            v.close();
        }
        if (vmFd >= 0) {
            Linux.close(vmFd);
        }
    }
}
