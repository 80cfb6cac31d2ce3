package org.vireo.cpu.kvm;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.vireo.api.Machine;
import org.vireo.api.cpu.CpuBackend;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.bus.IoBus;
import org.vireo.core.bus.AddressSpace;
import org.vireo.core.memory.MappedGuestMemory;
import org.vireo.x86.boot.PcMemoryMap;

/**
 * A bare machine on KVM for the backend's tests: PC RAM, empty buses the test fills with its
 * own handlers, and the KVM engine. Skips the calling test, with KVM's own reason, where
 * /dev/kvm is missing or unusable.
 */
final class KvmMachine implements Machine, AutoCloseable {

    final GuestMemory memory;
    final AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "kvm-test");
    final AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "kvm-test");
    final KvmEngine engine;
    final List<String> stops = new ArrayList<>();

    KvmMachine(long memoryBytes, int vcpus) throws Exception {
        assumeKvm();
        memory = new MappedGuestMemory(PcMemoryMap.ramRanges(memoryBytes));
        try {
            engine = (KvmEngine) new KvmBackend().create(this, vcpus);
        } catch (Exception | Error e) {
            memory.close();
            throw e;
        }
    }

    /** Skips the test where this host has no usable KVM ("no /dev/kvm", or why it cannot be used). */
    static void assumeKvm() {
        CpuBackend.Availability a = new KvmBackend().availability();
        Assumptions.assumeTrue(a.usable(), () -> "no usable /dev/kvm: " + a.reason());
    }

    KvmVcpu vcpu(int index) {
        return (KvmVcpu) engine.vcpus().get(index);
    }

    @Override
    public String name() {
        return "kvm-test";
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public IoBus portIo() {
        return pio;
    }

    @Override
    public IoBus mmio() {
        return mmio;
    }

    @Override
    public void requestStop(StopReason reason, String detail) {
        synchronized (stops) {
            stops.add(reason + ": " + detail);
        }
        engine.vcpus().forEach(v -> v.kick());
    }

    @Override
    public void close() {
        engine.close();
        memory.close();
    }
}
