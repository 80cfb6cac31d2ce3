package org.vireo.cpu.kvm;

/**
 * The parts of the Linux KVM ABI this backend uses, for x86-64: ioctl request numbers,
 * capability numbers, exit reasons and the byte layout of the structures passed through
 * ioctl (include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h; the KVM API document,
 * Documentation/virt/kvm/api.rst). The ABI is stable: KVM_GET_API_VERSION has been 12 since
 * Linux 2.6.22 and structures only grow in reserved space. KvmAbiTest compiles a C program
 * against the host's headers and checks every number here.
 */
final class KvmAbi {

    private KvmAbi() {
    }

    static final int API_VERSION = 12;

    // System ioctls (on the /dev/kvm descriptor).
    static final long KVM_GET_API_VERSION = 0xae00;
    static final long KVM_CREATE_VM = 0xae01;
    static final long KVM_GET_MSR_INDEX_LIST = 0xc004ae02L;
    static final long KVM_CHECK_EXTENSION = 0xae03;
    static final long KVM_GET_VCPU_MMAP_SIZE = 0xae04;
    static final long KVM_GET_SUPPORTED_CPUID = 0xc008ae05L;

    // VM ioctls.
    static final long KVM_CREATE_VCPU = 0xae41;
    static final long KVM_SET_USER_MEMORY_REGION = 0x4020ae46L;
    static final long KVM_SET_TSS_ADDR = 0xae47;
    static final long KVM_SET_IDENTITY_MAP_ADDR = 0x4008ae48L;
    static final long KVM_CREATE_IRQCHIP = 0xae60;
    static final long KVM_IRQ_LINE = 0x4008ae61L;
    static final long KVM_CREATE_PIT2 = 0x4040ae77L;
    static final long KVM_SIGNAL_MSI = 0x4020aea5L;

    // vCPU ioctls.
    static final long KVM_RUN = 0xae80;
    static final long KVM_GET_REGS = 0x8090ae81L;
    static final long KVM_SET_REGS = 0x4090ae82L;
    static final long KVM_GET_SREGS = 0x8138ae83L;
    static final long KVM_SET_SREGS = 0x4138ae84L;
    static final long KVM_GET_MSRS = 0xc008ae88L;
    static final long KVM_SET_MSRS = 0x4008ae89L;
    static final long KVM_GET_LAPIC = 0x8400ae8eL;
    static final long KVM_SET_LAPIC = 0x4400ae8fL;
    static final long KVM_SET_CPUID2 = 0x4008ae90L;
    static final long KVM_GET_MP_STATE = 0x8004ae98L;
    static final long KVM_SET_MP_STATE = 0x4004ae99L;
    static final long KVM_GET_VCPU_EVENTS = 0x8040ae9fL;
    static final long KVM_SET_VCPU_EVENTS = 0x4040aea0L;
    static final long KVM_GET_DEBUGREGS = 0x8080aea1L;
    static final long KVM_SET_DEBUGREGS = 0x4080aea2L;
    static final long KVM_GET_XSAVE = 0x9000aea4L;
    static final long KVM_SET_XSAVE = 0x5000aea5L;
    static final long KVM_GET_XCRS = 0x8188aea6L;
    static final long KVM_SET_XCRS = 0x4188aea7L;
    static final long KVM_GET_TSC_KHZ = 0xaea3;

    // Capabilities (KVM_CHECK_EXTENSION).
    static final int KVM_CAP_IRQCHIP = 0;
    static final int KVM_CAP_USER_MEMORY = 3;
    static final int KVM_CAP_SET_TSS_ADDR = 4;
    static final int KVM_CAP_EXT_CPUID = 7;
    static final int KVM_CAP_NR_VCPUS = 9;
    static final int KVM_CAP_NR_MEMSLOTS = 10;
    static final int KVM_CAP_MP_STATE = 14;
    static final int KVM_CAP_PIT2 = 33;
    static final int KVM_CAP_VCPU_EVENTS = 41;
    static final int KVM_CAP_DEBUGREGS = 50;
    static final int KVM_CAP_XSAVE = 55;
    static final int KVM_CAP_XCRS = 56;
    static final int KVM_CAP_MAX_VCPUS = 66;
    static final int KVM_CAP_SIGNAL_MSI = 77;
    static final int KVM_CAP_IMMEDIATE_EXIT = 136;

    // Exit reasons (kvm_run.exit_reason).
    static final int KVM_EXIT_UNKNOWN = 0;
    static final int KVM_EXIT_EXCEPTION = 1;
    static final int KVM_EXIT_IO = 2;
    static final int KVM_EXIT_HYPERCALL = 3;
    static final int KVM_EXIT_DEBUG = 4;
    static final int KVM_EXIT_HLT = 5;
    static final int KVM_EXIT_MMIO = 6;
    static final int KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    static final int KVM_EXIT_SHUTDOWN = 8;
    static final int KVM_EXIT_FAIL_ENTRY = 9;
    static final int KVM_EXIT_INTR = 10;
    static final int KVM_EXIT_NMI = 16;
    static final int KVM_EXIT_INTERNAL_ERROR = 17;
    static final int KVM_EXIT_SYSTEM_EVENT = 24;

    static final int KVM_EXIT_IO_IN = 0, KVM_EXIT_IO_OUT = 1;

    /** kvm_run.internal.suberror values. */
    static final int KVM_INTERNAL_ERROR_EMULATION = 1, KVM_INTERNAL_ERROR_SIMUL_EX = 2,
            KVM_INTERNAL_ERROR_DELIVERY_EV = 3;

    /** kvm_run.system_event.type values. */
    static final int KVM_SYSTEM_EVENT_SHUTDOWN = 1, KVM_SYSTEM_EVENT_RESET = 2, KVM_SYSTEM_EVENT_CRASH = 3;

    /** kvm_mp_state values. */
    static final int KVM_MP_STATE_RUNNABLE = 0, KVM_MP_STATE_UNINITIALIZED = 1, KVM_MP_STATE_INIT_RECEIVED = 2,
            KVM_MP_STATE_HALTED = 3, KVM_MP_STATE_SIPI_RECEIVED = 4;

    /** kvm_vcpu_events.flags. */
    static final int KVM_VCPUEVENT_VALID_NMI_PENDING = 1, KVM_VCPUEVENT_VALID_SHADOW = 4;

    /** kvm_pit_config.flags: KVM answers port 0x61 (the speaker's gate) itself. */
    static final int KVM_PIT_SPEAKER_DUMMY = 1;

    /** struct kvm_run: the shared page of a vCPU. */
    static final int RUN_IMMEDIATE_EXIT = 1, RUN_EXIT_REASON = 8, RUN_EXIT_DATA = 32;
    /** kvm_run.io: direction u8, size u8, port u16, count u32, data_offset u64. */
    static final int IO_DIRECTION = 32, IO_SIZE = 33, IO_PORT = 34, IO_COUNT = 36, IO_DATA_OFFSET = 40;
    /** kvm_run.mmio: phys_addr u64, data u8[8], len u32, is_write u8. */
    static final int MMIO_PHYS_ADDR = 32, MMIO_DATA = 40, MMIO_LEN = 48, MMIO_IS_WRITE = 52;
    /** kvm_run.fail_entry: hardware_entry_failure_reason u64, cpu u32. */
    static final int FAIL_ENTRY_REASON = 32, FAIL_ENTRY_CPU = 40;
    /** kvm_run.internal: suberror u32, ndata u32, data u64[16]. */
    static final int INTERNAL_SUBERROR = 32, INTERNAL_NDATA = 36, INTERNAL_DATA = 40;
    /** kvm_run.system_event: type u32, ndata u32, data u64[16]. */
    static final int SYSTEM_EVENT_TYPE = 32;

    /** struct kvm_userspace_memory_region: slot u32, flags u32, guest_phys_addr, memory_size, userspace_addr. */
    static final int MEMORY_REGION_SIZE = 32;

    /**
     * struct kvm_regs: rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8-r15, rip, rflags (18 u64).
     * {@code REGS_ORDER[i]} is the X86CpuState GPR index of kvm_regs' i-th register.
     */
    static final int REGS_SIZE = 144;
    static final int[] REGS_ORDER = {0, 3, 1, 2, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15};
    static final int REGS_RIP = 128, REGS_RFLAGS = 136;

    /**
     * struct kvm_sregs: eight kvm_segment (cs, ds, es, fs, gs, ss, tr, ldt), two kvm_dtable
     * (gdt, idt), cr0, cr2, cr3, cr4, cr8, efer, apic_base, interrupt_bitmap u64[4].
     */
    static final int SREGS_SIZE = 312;
    static final int SREGS_CS = 0, SREGS_DS = 24, SREGS_ES = 48, SREGS_FS = 72, SREGS_GS = 96, SREGS_SS = 120,
            SREGS_TR = 144, SREGS_LDT = 168, SREGS_GDT = 192, SREGS_IDT = 208, SREGS_CR0 = 224, SREGS_CR2 = 232,
            SREGS_CR3 = 240, SREGS_CR4 = 248, SREGS_CR8 = 256, SREGS_EFER = 264, SREGS_APIC_BASE = 272,
            SREGS_INTERRUPT_BITMAP = 280;
    /** struct kvm_segment: base u64, limit u32, selector u16, type, present, dpl, db, s, l, g, avl, unusable (u8 each). */
    static final int SEG_BASE = 0, SEG_LIMIT = 8, SEG_SELECTOR = 12, SEG_TYPE = 14, SEG_PRESENT = 15, SEG_DPL = 16,
            SEG_DB = 17, SEG_S = 18, SEG_L = 19, SEG_G = 20, SEG_AVL = 21, SEG_UNUSABLE = 22;
    /** struct kvm_dtable: base u64, limit u16. */
    static final int DTABLE_BASE = 0, DTABLE_LIMIT = 8;

    /** struct kvm_msrs: nmsrs u32, pad u32, then kvm_msr_entry {index u32, reserved u32, data u64}. */
    static final int MSRS_HEADER = 8, MSR_ENTRY_SIZE = 16;

    /** struct kvm_cpuid2: nent u32, padding u32, then kvm_cpuid_entry2 {function, index, flags, eax, ebx, ecx, edx, padding[3]}. */
    static final int CPUID2_HEADER = 8, CPUID_ENTRY_SIZE = 40;
    static final int CPUID_FUNCTION = 0, CPUID_INDEX = 4, CPUID_FLAGS = 8, CPUID_EAX = 12, CPUID_EBX = 16,
            CPUID_ECX = 20, CPUID_EDX = 24;

    static final int LAPIC_STATE_SIZE = 1024;
    static final int XSAVE_SIZE = 4096;
    /** The legacy FXSAVE region at the start of the XSAVE area, then the XSAVE header with XSTATE_BV. */
    static final int XSAVE_LEGACY_SIZE = 512, XSAVE_XSTATE_BV = 512;

    /** struct kvm_xcrs: nr_xcrs u32, flags u32, xcrs[16] {xcr u32, reserved u32, value u64}, padding. */
    static final int XCRS_SIZE = 392, XCRS_NR = 0, XCRS_FIRST = 8, XCR_ENTRY_SIZE = 16;

    /** struct kvm_debugregs: db[4] u64, dr6, dr7, flags, reserved[9]. */
    static final int DEBUGREGS_SIZE = 128, DEBUGREGS_DR6 = 32, DEBUGREGS_DR7 = 40;

    /**
     * struct kvm_vcpu_events: exception {injected, nr, has_error_code, pending u8; error_code u32},
     * interrupt {injected, nr, soft, shadow u8}, nmi {injected, pending, masked, pad u8},
     * sipi_vector u32, flags u32, smi, triple_fault, reserved, exception_has_payload, payload.
     */
    static final int EVENTS_SIZE = 64;
    static final int EV_EXC_INJECTED = 0, EV_EXC_NR = 1, EV_EXC_HAS_ERROR_CODE = 2, EV_EXC_ERROR_CODE = 4,
            EV_INT_INJECTED = 8, EV_INT_NR = 9, EV_INT_SOFT = 10, EV_INT_SHADOW = 11, EV_NMI_INJECTED = 12,
            EV_NMI_PENDING = 13, EV_NMI_MASKED = 14, EV_FLAGS = 20;

    /** struct kvm_msi: address_lo, address_hi, data, flags u32, devid u32, pad[12]. */
    static final int MSI_SIZE = 32;
    /** struct kvm_pit_config: flags u32, pad[15]. */
    static final int PIT_CONFIG_SIZE = 64;

    /** The MSRs a vCPU's state carries, where the host's KVM offers them (KVM_GET_MSR_INDEX_LIST). */
    static final int[] STATE_MSRS = {
        0x10, // TSC
        0x3b, // TSC_ADJUST
        0x174, 0x175, 0x176, // SYSENTER_CS, ESP, EIP
        0x1a0, // MISC_ENABLE
        0x277, // PAT
        0x6e0, // TSC_DEADLINE
        0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, // STAR, LSTAR, CSTAR, SFMASK
        0xc0000102, 0xc0000103, // KERNEL_GS_BASE, TSC_AUX
        0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04, // kvm-clock, async PF, steal time, PV EOI
    };
}
