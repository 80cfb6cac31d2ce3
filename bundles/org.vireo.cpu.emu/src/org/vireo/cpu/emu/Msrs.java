package org.vireo.cpu.emu;

import java.util.Map;

import org.vireo.api.cpu.X86CpuState;

/**
 * The model-specific registers this CPU has (Intel SDM vol. 4). RDMSR or WRMSR of any other
 * index raises #GP(0), as hardware does, so that the guest's probing with {@code rdmsr_safe}
 * sees exactly what CPUID promised.
 */
final class Msrs {

    static final int TSC = 0x10, PLATFORM_ID = 0x17, APIC_BASE = 0x1b, BIOS_SIGN_ID = 0x8b, MISC_ENABLE = 0x1a0, PAT = 0x277,
            SYSENTER_CS = 0x174, SYSENTER_ESP = 0x175, SYSENTER_EIP = 0x176, ARCH_CAPABILITIES = 0x10a,
            EFER = 0xc0000080, STAR = 0xc0000081, LSTAR = 0xc0000082, CSTAR = 0xc0000083, SFMASK = 0xc0000084,
            FS_BASE = 0xc0000100, GS_BASE = 0xc0000101, KERNEL_GS_BASE = 0xc0000102, TSC_AUX = 0xc0000103;

    /**
     * IA32_ARCH_CAPABILITIES: an interpreter has no speculative execution, so every "not
     * affected" bit the kernel looks for is set (SDM vol. 4 table 2-2): RDCL_NO (0),
     * SKIP_L1DFL_VMENTRY (3), SSB_NO (4), MDS_NO (5), PSCHANGE_MC_NO (6), TAA_NO (8),
     * SBDR_SSDP_NO (13), FBSDP_NO (14), PSDP_NO (15), BHI_NO (20), PBRSB_NO (24), GDS_NO (26),
     * RFDS_NO (27), ITS_NO (62). Without them the guest would pick mitigations for bugs it
     * cannot have.
     */
    static final long ARCH_CAPABILITIES_VALUE = 1L | 1L << 3 | 1L << 4 | 1L << 5 | 1L << 6 | 1L << 8 | 1L << 13
            | 1L << 14 | 1L << 15 | 1L << 20 | 1L << 24 | 1L << 26 | 1L << 27 | 1L << 62;

    private final Cpu cpu;
    long star, lstar, cstar, sfmask, kernelGsBase, tscAux;
    long pat = 0x0007040600070406L;
    long sysenterCs, sysenterEsp, sysenterEip;
    long miscEnable = 1; // fast strings
    /** TSC = guest time's TSC + this offset; WRMSR to the TSC moves it. */
    long tscOffset;

    Msrs(Cpu cpu) {
        this.cpu = cpu;
    }

    long read(int index) {
        return switch (index) {
            case TSC -> cpu.tsc();
            case APIC_BASE -> cpu.platform.apicBaseMsr();
            case BIOS_SIGN_ID, PLATFORM_ID -> 0;
            case MISC_ENABLE -> miscEnable;
            case PAT -> pat;
            case SYSENTER_CS -> sysenterCs;
            case SYSENTER_ESP -> sysenterEsp;
            case SYSENTER_EIP -> sysenterEip;
            case ARCH_CAPABILITIES -> ARCH_CAPABILITIES_VALUE;
            case EFER -> cpu.efer;
            case STAR -> star;
            case LSTAR -> lstar;
            case CSTAR -> cstar;
            case SFMASK -> sfmask;
            case FS_BASE -> cpu.fsBase;
            case GS_BASE -> cpu.gsBase;
            case KERNEL_GS_BASE -> kernelGsBase;
            case TSC_AUX -> tscAux;
            default -> throw CpuFault.gp(0);
        };
    }

    void write(int index, long v) {
        switch (index) {
            case TSC -> tscOffset = v - (cpu.tsc() - tscOffset);
            case APIC_BASE -> cpu.platform.setApicBaseMsr(v);
            case BIOS_SIGN_ID -> { }
            case MISC_ENABLE -> miscEnable = v & 1;
            case PAT -> {
                for (int k = 0; k < 8; k++) {
                    int t = (int) (v >>> (8 * k)) & 0xff;
                    if (t == 2 || t == 3 || t > 7) {
                        throw CpuFault.gp(0);
                    }
                }
                pat = v;
            }
            case SYSENTER_CS -> sysenterCs = v & 0xffff;
            case SYSENTER_ESP -> sysenterEsp = canonical(v);
            case SYSENTER_EIP -> sysenterEip = canonical(v);
            case EFER -> writeEfer(v);
            case STAR -> star = v;
            case LSTAR -> lstar = canonical(v);
            case CSTAR -> cstar = canonical(v);
            case SFMASK -> sfmask = v & 0xffffffffL;
            case FS_BASE -> cpu.fsBase = canonical(v);
            case GS_BASE -> cpu.gsBase = canonical(v);
            case KERNEL_GS_BASE -> kernelGsBase = canonical(v);
            case TSC_AUX -> tscAux = v & 0xffffffffL;
            default -> throw CpuFault.gp(0);
        }
    }

    private void writeEfer(long v) {
        long allowed = Cpu.EFER_SCE | Cpu.EFER_LME | Cpu.EFER_LMA | Cpu.EFER_NXE;
        if ((v & ~allowed) != 0) {
            throw CpuFault.gp(0);
        }
        // LMA is read-only; LME cannot change while paging is on.
        long next = (v & ~Cpu.EFER_LMA) | (cpu.efer & Cpu.EFER_LMA);
        if (((next ^ cpu.efer) & Cpu.EFER_LME) != 0 && (cpu.cr0 & Cpu.CR0_PG) != 0) {
            throw CpuFault.gp(0);
        }
        if (((next ^ cpu.efer) & Cpu.EFER_NXE) != 0) {
            cpu.mmu.flushAll();
        }
        cpu.efer = next;
    }

    private static long canonical(long v) {
        if ((v << 16 >> 16) != v) {
            throw CpuFault.gp(0);
        }
        return v;
    }

    void load(Map<Integer, Long> m) {
        star = m.getOrDefault(X86CpuState.MSR_STAR, 0L);
        lstar = m.getOrDefault(X86CpuState.MSR_LSTAR, 0L);
        cstar = m.getOrDefault(X86CpuState.MSR_CSTAR, 0L);
        sfmask = m.getOrDefault(X86CpuState.MSR_SFMASK, 0L);
        kernelGsBase = m.getOrDefault(X86CpuState.MSR_KERNEL_GS_BASE, 0L);
        tscAux = m.getOrDefault(X86CpuState.MSR_TSC_AUX, 0L);
        pat = m.getOrDefault(X86CpuState.MSR_PAT, 0x0007040600070406L);
        sysenterCs = m.getOrDefault(X86CpuState.MSR_SYSENTER_CS, 0L);
        sysenterEsp = m.getOrDefault(X86CpuState.MSR_SYSENTER_ESP, 0L);
        sysenterEip = m.getOrDefault(X86CpuState.MSR_SYSENTER_EIP, 0L);
        miscEnable = m.getOrDefault(X86CpuState.MSR_MISC_ENABLE, 1L);
        Long apicBase = m.get(X86CpuState.MSR_APIC_BASE);
        if (apicBase != null) {
            cpu.platform.setApicBaseMsr(apicBase);
        }
        Long tsc = m.get(X86CpuState.MSR_TSC);
        tscOffset = 0;
        if (tsc != null) {
            tscOffset = tsc - cpu.tsc();
        }
    }

    void save(Map<Integer, Long> m) {
        m.put(X86CpuState.MSR_STAR, star);
        m.put(X86CpuState.MSR_LSTAR, lstar);
        m.put(X86CpuState.MSR_CSTAR, cstar);
        m.put(X86CpuState.MSR_SFMASK, sfmask);
        m.put(X86CpuState.MSR_KERNEL_GS_BASE, kernelGsBase);
        m.put(X86CpuState.MSR_TSC_AUX, tscAux);
        m.put(X86CpuState.MSR_PAT, pat);
        m.put(X86CpuState.MSR_SYSENTER_CS, sysenterCs);
        m.put(X86CpuState.MSR_SYSENTER_ESP, sysenterEsp);
        m.put(X86CpuState.MSR_SYSENTER_EIP, sysenterEip);
        m.put(X86CpuState.MSR_MISC_ENABLE, miscEnable);
        m.put(X86CpuState.MSR_APIC_BASE, cpu.platform.apicBaseMsr());
        m.put(X86CpuState.MSR_TSC, cpu.tsc());
    }
}
