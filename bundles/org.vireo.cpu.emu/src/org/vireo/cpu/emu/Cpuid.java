package org.vireo.cpu.emu;

/**
 * What CPUID tells the guest (Intel SDM vol. 2 "CPUID"). It reports exactly the features this
 * CPU implements, so that the kernel's alternatives and glibc's ifuncs choose code paths the
 * emulator runs: no AVX, no SSE3 and later, no MTRRs, no x2APIC, no TSC deadline timer.
 */
final class Cpuid {

    private static final int MAX_BASIC = 0x16;
    private static final int MAX_EXTENDED = 0x80000008;

    // Leaf 1 EDX (SDM table 3-11).
    private static final int FPU = 1, DE = 1 << 2, PSE = 1 << 3, TSC = 1 << 4, MSR = 1 << 5, PAE = 1 << 6,
            CX8 = 1 << 8, APIC = 1 << 9, PGE = 1 << 13, CMOV = 1 << 15, PAT = 1 << 16, CLFSH = 1 << 19,
            MMX = 1 << 23, FXSR = 1 << 24, SSE = 1 << 25, SSE2 = 1 << 26;
    // Leaf 1 ECX.
    private static final int CX16 = 1 << 13, POPCNT = 1 << 23, HYPERVISOR = 1 << 31;
    // Leaf 0x80000001.
    private static final int LAHF_LM = 1, SYSCALL = 1 << 11, NX = 1 << 20, PAGE1GB = 1 << 26, RDTSCP = 1 << 27,
            LM = 1 << 29;
    // Leaf 7 EDX.
    private static final int ARCH_CAPABILITIES = 1 << 29;

    /** Family 6, model 0x55-free, stepping 1: an unremarkable Intel signature, with no errata keyed to it. */
    private static final int SIGNATURE = (6 << 8) | (0x0f << 4) | 1;

    private Cpuid() {
    }

    /** Fills EAX, EBX, ECX, EDX of {@code cpu} for leaf EAX, subleaf ECX. */
    static void execute(Cpu cpu, int apicId) {
        int leaf = (int) cpu.r[0];
        int sub = (int) cpu.r[1];
        int a = 0, b = 0, c = 0, d = 0;
        if (Integer.compareUnsigned(leaf, MAX_BASIC) > 0 && Integer.compareUnsigned(leaf, 0x80000000) < 0) {
            // Beyond the highest basic leaf: the data of the highest basic leaf (SDM note on CPUID).
            leaf = MAX_BASIC;
        }
        switch (leaf) {
            case 0 -> {
                a = MAX_BASIC;
                b = ascii("Genu");
                d = ascii("ineI");
                c = ascii("ntel");
            }
            case 1 -> {
                a = SIGNATURE;
                // CLFLUSH line size 8 quadwords (64 bytes), one logical processor, the initial APIC ID.
                b = (8 << 8) | (1 << 16) | (apicId << 24);
                c = CX16 | POPCNT | HYPERVISOR;
                d = FPU | DE | PSE | TSC | MSR | PAE | CX8 | APIC | PGE | CMOV | PAT | CLFSH | MMX | FXSR | SSE | SSE2;
            }
            case 7 -> {
                if (sub == 0) {
                    d = ARCH_CAPABILITIES;
                }
            }
            case 0x15 -> {
                // TSC = crystal * EBX / EAX; ECX the crystal's frequency, which also clocks the local APIC timer.
                a = 1;
                b = (int) (Cpu.TSC_HZ / Cpu.CRYSTAL_HZ);
                c = (int) Cpu.CRYSTAL_HZ;
            }
            case 0x16 -> {
                a = (int) (Cpu.TSC_HZ / 1_000_000);
                b = a;
                c = (int) (Cpu.CRYSTAL_HZ / 1_000_000);
            }
            case 0x80000000 -> a = MAX_EXTENDED;
            case 0x80000001 -> {
                c = LAHF_LM;
                d = SYSCALL | NX | PAGE1GB | RDTSCP | LM;
            }
            case 0x80000002, 0x80000003, 0x80000004 -> {
                String brand = "Vireo software x86-64 CPU @ 2.50GHz";
                int base = (leaf - 0x80000002) * 16;
                a = brandWord(brand, base);
                b = brandWord(brand, base + 4);
                c = brandWord(brand, base + 8);
                d = brandWord(brand, base + 12);
            }
            case 0x80000007 -> d = 1 << 8; // invariant TSC
            case 0x80000008 -> a = (48 << 8) | Mmu.PHYS_ADDR_BITS;
            default -> { }
        }
        cpu.r[0] = a & 0xffffffffL;
        cpu.r[3] = b & 0xffffffffL;
        cpu.r[1] = c & 0xffffffffL;
        cpu.r[2] = d & 0xffffffffL;
    }

    private static int ascii(String s) {
        return s.charAt(0) | s.charAt(1) << 8 | s.charAt(2) << 16 | s.charAt(3) << 24;
    }

    private static int brandWord(String s, int at) {
        int v = 0;
        for (int k = 0; k < 4; k++) {
            int i = at + k;
            v |= (i < s.length() ? s.charAt(i) : 0) << (8 * k);
        }
        return v;
    }
}
