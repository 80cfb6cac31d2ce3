/*
 * Prints the KVM ABI facts that org.vireo.cpu.kvm.KvmAbi hard-codes, as "NAME VALUE" lines,
 * from the host's own <linux/kvm.h>; KvmAbiTest compares them with the Java constants of
 * the same names.
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/kvm.h>

#define C(name) printf("%s %lld\n", #name, (long long) (name))
#define V(name, value) printf("%s %lld\n", name, (long long) (value))
#define OFF(s, f) offsetof(struct s, f)

int main(void)
{
	C(KVM_GET_API_VERSION); C(KVM_CREATE_VM); C(KVM_GET_MSR_INDEX_LIST); C(KVM_CHECK_EXTENSION);
	C(KVM_GET_VCPU_MMAP_SIZE); C(KVM_GET_SUPPORTED_CPUID); C(KVM_CREATE_VCPU);
	C(KVM_SET_USER_MEMORY_REGION); C(KVM_SET_TSS_ADDR); C(KVM_SET_IDENTITY_MAP_ADDR);
	C(KVM_CREATE_IRQCHIP); C(KVM_IRQ_LINE); C(KVM_CREATE_PIT2); C(KVM_SIGNAL_MSI); C(KVM_RUN);
	C(KVM_GET_REGS); C(KVM_SET_REGS); C(KVM_GET_SREGS); C(KVM_SET_SREGS); C(KVM_GET_MSRS);
	C(KVM_SET_MSRS); C(KVM_GET_LAPIC); C(KVM_SET_LAPIC); C(KVM_SET_CPUID2);
	C(KVM_GET_MP_STATE); C(KVM_SET_MP_STATE); C(KVM_GET_VCPU_EVENTS); C(KVM_SET_VCPU_EVENTS);
	C(KVM_GET_DEBUGREGS); C(KVM_SET_DEBUGREGS); C(KVM_GET_XSAVE); C(KVM_SET_XSAVE);
	C(KVM_GET_XCRS); C(KVM_SET_XCRS); C(KVM_GET_TSC_KHZ);

	C(KVM_CAP_IRQCHIP); C(KVM_CAP_USER_MEMORY); C(KVM_CAP_SET_TSS_ADDR); C(KVM_CAP_EXT_CPUID);
	C(KVM_CAP_NR_VCPUS); C(KVM_CAP_NR_MEMSLOTS); C(KVM_CAP_MP_STATE); C(KVM_CAP_PIT2);
	C(KVM_CAP_VCPU_EVENTS); C(KVM_CAP_DEBUGREGS); C(KVM_CAP_XSAVE); C(KVM_CAP_XCRS);
	C(KVM_CAP_MAX_VCPUS); C(KVM_CAP_SIGNAL_MSI); C(KVM_CAP_IMMEDIATE_EXIT);

	C(KVM_EXIT_UNKNOWN); C(KVM_EXIT_EXCEPTION); C(KVM_EXIT_IO); C(KVM_EXIT_HYPERCALL);
	C(KVM_EXIT_DEBUG); C(KVM_EXIT_HLT); C(KVM_EXIT_MMIO); C(KVM_EXIT_IRQ_WINDOW_OPEN);
	C(KVM_EXIT_SHUTDOWN); C(KVM_EXIT_FAIL_ENTRY); C(KVM_EXIT_INTR); C(KVM_EXIT_NMI);
	C(KVM_EXIT_INTERNAL_ERROR); C(KVM_EXIT_SYSTEM_EVENT); C(KVM_EXIT_IO_IN); C(KVM_EXIT_IO_OUT);
	C(KVM_INTERNAL_ERROR_EMULATION); C(KVM_INTERNAL_ERROR_SIMUL_EX); C(KVM_INTERNAL_ERROR_DELIVERY_EV);
	C(KVM_SYSTEM_EVENT_SHUTDOWN); C(KVM_SYSTEM_EVENT_RESET); C(KVM_SYSTEM_EVENT_CRASH);
	C(KVM_MP_STATE_RUNNABLE); C(KVM_MP_STATE_UNINITIALIZED); C(KVM_MP_STATE_INIT_RECEIVED);
	C(KVM_MP_STATE_HALTED); C(KVM_MP_STATE_SIPI_RECEIVED);
	C(KVM_VCPUEVENT_VALID_NMI_PENDING); C(KVM_VCPUEVENT_VALID_SHADOW); C(KVM_PIT_SPEAKER_DUMMY);

	V("RUN_IMMEDIATE_EXIT", OFF(kvm_run, immediate_exit));
	V("RUN_EXIT_REASON", OFF(kvm_run, exit_reason));
	V("RUN_EXIT_DATA", OFF(kvm_run, io));
	V("IO_DIRECTION", OFF(kvm_run, io.direction));
	V("IO_SIZE", OFF(kvm_run, io.size));
	V("IO_PORT", OFF(kvm_run, io.port));
	V("IO_COUNT", OFF(kvm_run, io.count));
	V("IO_DATA_OFFSET", OFF(kvm_run, io.data_offset));
	V("MMIO_PHYS_ADDR", OFF(kvm_run, mmio.phys_addr));
	V("MMIO_DATA", OFF(kvm_run, mmio.data));
	V("MMIO_LEN", OFF(kvm_run, mmio.len));
	V("MMIO_IS_WRITE", OFF(kvm_run, mmio.is_write));
	V("FAIL_ENTRY_REASON", OFF(kvm_run, fail_entry.hardware_entry_failure_reason));
	V("FAIL_ENTRY_CPU", OFF(kvm_run, fail_entry.cpu));
	V("INTERNAL_SUBERROR", OFF(kvm_run, internal.suberror));
	V("INTERNAL_NDATA", OFF(kvm_run, internal.ndata));
	V("INTERNAL_DATA", OFF(kvm_run, internal.data));
	V("SYSTEM_EVENT_TYPE", OFF(kvm_run, system_event.type));
	V("MEMORY_REGION_SIZE", sizeof(struct kvm_userspace_memory_region));
	V("REGS_SIZE", sizeof(struct kvm_regs));
	V("REGS_RIP", OFF(kvm_regs, rip));
	V("REGS_RFLAGS", OFF(kvm_regs, rflags));
	V("SREGS_SIZE", sizeof(struct kvm_sregs));
	V("SREGS_CS", OFF(kvm_sregs, cs)); V("SREGS_DS", OFF(kvm_sregs, ds)); V("SREGS_ES", OFF(kvm_sregs, es));
	V("SREGS_FS", OFF(kvm_sregs, fs)); V("SREGS_GS", OFF(kvm_sregs, gs)); V("SREGS_SS", OFF(kvm_sregs, ss));
	V("SREGS_TR", OFF(kvm_sregs, tr)); V("SREGS_LDT", OFF(kvm_sregs, ldt)); V("SREGS_GDT", OFF(kvm_sregs, gdt));
	V("SREGS_IDT", OFF(kvm_sregs, idt)); V("SREGS_CR0", OFF(kvm_sregs, cr0)); V("SREGS_CR2", OFF(kvm_sregs, cr2));
	V("SREGS_CR3", OFF(kvm_sregs, cr3)); V("SREGS_CR4", OFF(kvm_sregs, cr4)); V("SREGS_CR8", OFF(kvm_sregs, cr8));
	V("SREGS_EFER", OFF(kvm_sregs, efer)); V("SREGS_APIC_BASE", OFF(kvm_sregs, apic_base));
	V("SREGS_INTERRUPT_BITMAP", OFF(kvm_sregs, interrupt_bitmap));
	V("SEG_BASE", OFF(kvm_segment, base)); V("SEG_LIMIT", OFF(kvm_segment, limit));
	V("SEG_SELECTOR", OFF(kvm_segment, selector)); V("SEG_TYPE", OFF(kvm_segment, type));
	V("SEG_PRESENT", OFF(kvm_segment, present)); V("SEG_DPL", OFF(kvm_segment, dpl));
	V("SEG_DB", OFF(kvm_segment, db)); V("SEG_S", OFF(kvm_segment, s)); V("SEG_L", OFF(kvm_segment, l));
	V("SEG_G", OFF(kvm_segment, g)); V("SEG_AVL", OFF(kvm_segment, avl)); V("SEG_UNUSABLE", OFF(kvm_segment, unusable));
	V("DTABLE_BASE", OFF(kvm_dtable, base)); V("DTABLE_LIMIT", OFF(kvm_dtable, limit));
	V("MSRS_HEADER", sizeof(struct kvm_msrs)); V("MSR_ENTRY_SIZE", sizeof(struct kvm_msr_entry));
	V("CPUID2_HEADER", sizeof(struct kvm_cpuid2)); V("CPUID_ENTRY_SIZE", sizeof(struct kvm_cpuid_entry2));
	V("CPUID_FUNCTION", OFF(kvm_cpuid_entry2, function)); V("CPUID_INDEX", OFF(kvm_cpuid_entry2, index));
	V("CPUID_FLAGS", OFF(kvm_cpuid_entry2, flags)); V("CPUID_EAX", OFF(kvm_cpuid_entry2, eax));
	V("CPUID_EBX", OFF(kvm_cpuid_entry2, ebx)); V("CPUID_ECX", OFF(kvm_cpuid_entry2, ecx));
	V("CPUID_EDX", OFF(kvm_cpuid_entry2, edx));
	V("LAPIC_STATE_SIZE", sizeof(struct kvm_lapic_state)); V("XSAVE_SIZE", sizeof(struct kvm_xsave));
	V("XCRS_SIZE", sizeof(struct kvm_xcrs)); V("XCRS_NR", OFF(kvm_xcrs, nr_xcrs)); V("XCRS_FIRST", OFF(kvm_xcrs, xcrs));
	V("XCR_ENTRY_SIZE", sizeof(struct kvm_xcr));
	V("DEBUGREGS_SIZE", sizeof(struct kvm_debugregs)); V("DEBUGREGS_DR6", OFF(kvm_debugregs, dr6));
	V("DEBUGREGS_DR7", OFF(kvm_debugregs, dr7));
	V("EVENTS_SIZE", sizeof(struct kvm_vcpu_events));
	V("EV_EXC_INJECTED", OFF(kvm_vcpu_events, exception.injected)); V("EV_EXC_NR", OFF(kvm_vcpu_events, exception.nr));
	V("EV_EXC_HAS_ERROR_CODE", OFF(kvm_vcpu_events, exception.has_error_code));
	V("EV_EXC_ERROR_CODE", OFF(kvm_vcpu_events, exception.error_code));
	V("EV_INT_INJECTED", OFF(kvm_vcpu_events, interrupt.injected)); V("EV_INT_NR", OFF(kvm_vcpu_events, interrupt.nr));
	V("EV_INT_SOFT", OFF(kvm_vcpu_events, interrupt.soft)); V("EV_INT_SHADOW", OFF(kvm_vcpu_events, interrupt.shadow));
	V("EV_NMI_INJECTED", OFF(kvm_vcpu_events, nmi.injected)); V("EV_NMI_PENDING", OFF(kvm_vcpu_events, nmi.pending));
	V("EV_NMI_MASKED", OFF(kvm_vcpu_events, nmi.masked));
	V("EV_FLAGS", OFF(kvm_vcpu_events, flags));
	 V("MSI_SIZE", sizeof(struct kvm_msi));
	V("PIT_CONFIG_SIZE", sizeof(struct kvm_pit_config));
	return 0;
}
