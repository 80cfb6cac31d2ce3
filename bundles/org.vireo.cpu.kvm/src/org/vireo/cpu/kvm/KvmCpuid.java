package org.vireo.cpu.kvm;

import com.sun.jna.Memory;

/**
 * The CPUID table one vCPU gets (KVM_SET_CPUID2): what the host's KVM supports
 * (KVM_GET_SUPPORTED_CPUID, which also carries KVM's paravirtual leaves 0x40000000 and
 * 0x40000001 so that a Linux guest finds kvm-clock), with the per-CPU fields a real package
 * has: the initial APIC id in leaf 1 and the x2APIC id in the topology leaves 0xB and 0x1F,
 * and the hypervisor-present bit.
 */
final class KvmCpuid {

    /** Leaf 1: ECX bit 31, a hypervisor is present; EDX bit 28, EBX[23:16] counts logical processors. */
    private static final int HYPERVISOR = 1 << 31, HTT = 1 << 28;

    private KvmCpuid() {
    }

    /** A kvm_cpuid2 structure for the vCPU with APIC id {@code apicId} among {@code count}. */
    static Memory forVcpu(Kvm kvm, int apicId, int count) {
        int n = kvm.supportedCpuidEntries;
        long size = KvmAbi.CPUID2_HEADER + (long) n * KvmAbi.CPUID_ENTRY_SIZE;
        Memory table = new Memory(size);
        table.write(0, kvm.supportedCpuid.getByteArray(0, (int) size), 0, (int) size);
        for (int i = 0; i < n; i++) {
            long e = KvmAbi.CPUID2_HEADER + (long) i * KvmAbi.CPUID_ENTRY_SIZE;
            int function = table.getInt(e + KvmAbi.CPUID_FUNCTION);
            switch (function) {
                case 1 -> {
                    // EBX[31:24] initial APIC id, EBX[23:16] logical processors in the package.
                    int ebx = table.getInt(e + KvmAbi.CPUID_EBX) & 0xffff;
                    table.setInt(e + KvmAbi.CPUID_EBX, ebx | (apicId << 24) | (Math.min(count, 255) << 16));
                    table.setInt(e + KvmAbi.CPUID_ECX, table.getInt(e + KvmAbi.CPUID_ECX) | HYPERVISOR);
                    if (count > 1) {
                        table.setInt(e + KvmAbi.CPUID_EDX, table.getInt(e + KvmAbi.CPUID_EDX) | HTT);
                    }
                }
                case 0xb, 0x1f -> table.setInt(e + KvmAbi.CPUID_EDX, apicId);
                default -> {
                    // as KVM offers it
                }
            }
        }
        return table;
    }
}
