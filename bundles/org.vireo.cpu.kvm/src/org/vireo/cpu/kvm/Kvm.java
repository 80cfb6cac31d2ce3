package org.vireo.cpu.kvm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.sun.jna.Memory;

import org.vireo.api.VireoException;

/**
 * The host's KVM: the open {@code /dev/kvm} descriptor and what it offers. Opened once per
 * process and kept; every VM is created from it.
 */
final class Kvm {

    static final String DEVICE = "/dev/kvm";

    /** The capabilities without which this backend does not run, by name. */
    private static final Map<String, Integer> REQUIRED = new LinkedHashMap<>();

    static {
        REQUIRED.put("KVM_CAP_IRQCHIP", KvmAbi.KVM_CAP_IRQCHIP);
        REQUIRED.put("KVM_CAP_USER_MEMORY", KvmAbi.KVM_CAP_USER_MEMORY);
        REQUIRED.put("KVM_CAP_SET_TSS_ADDR", KvmAbi.KVM_CAP_SET_TSS_ADDR);
        REQUIRED.put("KVM_CAP_EXT_CPUID", KvmAbi.KVM_CAP_EXT_CPUID);
        REQUIRED.put("KVM_CAP_PIT2", KvmAbi.KVM_CAP_PIT2);
        REQUIRED.put("KVM_CAP_MP_STATE", KvmAbi.KVM_CAP_MP_STATE);
        REQUIRED.put("KVM_CAP_VCPU_EVENTS", KvmAbi.KVM_CAP_VCPU_EVENTS);
        REQUIRED.put("KVM_CAP_SIGNAL_MSI", KvmAbi.KVM_CAP_SIGNAL_MSI);
        REQUIRED.put("KVM_CAP_IMMEDIATE_EXIT", KvmAbi.KVM_CAP_IMMEDIATE_EXIT);
    }

    private static Kvm instance;

    final int fd;
    final int vcpuMmapSize;
    final int maxVcpus;
    final int memorySlots;
    final boolean xsave, xcrs, debugRegisters;
    /** KVM_GET_SUPPORTED_CPUID's table, raw kvm_cpuid2 entries. */
    final Memory supportedCpuid;
    final int supportedCpuidEntries;
    /** The MSRs of {@link KvmAbi#STATE_MSRS} this KVM can save and restore. */
    final int[] stateMsrs;
    /** Whether KVM is PVM, the software nested hypervisor that runs only guests built for it. */
    final boolean pvm;

    private Kvm(int fd) throws VireoException {
        this.fd = fd;
        int version = Linux.ioctl(fd, KvmAbi.KVM_GET_API_VERSION, 0);
        if (version != KvmAbi.API_VERSION) {
            throw new VireoException(DEVICE + " speaks KVM API version " + version + "; Vireo needs "
                    + KvmAbi.API_VERSION);
        }
        List<String> missing = new ArrayList<>();
        REQUIRED.forEach((name, capability) -> {
            if (extension(capability) <= 0) {
                missing.add(name);
            }
        });
        if (!missing.isEmpty()) {
            throw new VireoException("the host's KVM lacks " + String.join(", ", missing));
        }
        this.vcpuMmapSize = Linux.ioctl(fd, KvmAbi.KVM_GET_VCPU_MMAP_SIZE, 0);
        int max = extension(KvmAbi.KVM_CAP_MAX_VCPUS);
        this.maxVcpus = max > 0 ? max : Math.max(extension(KvmAbi.KVM_CAP_NR_VCPUS), 4);
        int slots = extension(KvmAbi.KVM_CAP_NR_MEMSLOTS);
        this.memorySlots = slots > 0 ? slots : 32;
        this.xsave = extension(KvmAbi.KVM_CAP_XSAVE) > 0;
        this.xcrs = extension(KvmAbi.KVM_CAP_XCRS) > 0;
        this.debugRegisters = extension(KvmAbi.KVM_CAP_DEBUGREGS) > 0;
        Memory cpuid = null;
        int entries = 0;
        for (int n = 64; n <= 4096 && cpuid == null; n *= 2) {
            Memory m = Linux.struct(KvmAbi.CPUID2_HEADER + n * KvmAbi.CPUID_ENTRY_SIZE);
            m.setInt(0, n);
            if (Linux.ioctl(fd, KvmAbi.KVM_GET_SUPPORTED_CPUID, m) == 0) {
                cpuid = m;
                entries = m.getInt(0);
            } else if (Linux.errno() != Linux.E2BIG) {
                throw new VireoException("KVM_GET_SUPPORTED_CPUID failed: " + Linux.describe(Linux.errno()));
            }
        }
        if (cpuid == null) {
            throw new VireoException("KVM_GET_SUPPORTED_CPUID returns more than 4096 entries");
        }
        this.supportedCpuid = cpuid;
        this.supportedCpuidEntries = entries;
        this.stateMsrs = stateMsrs();
        this.pvm = Files.isDirectory(Path.of("/sys/module/kvm_pvm"));
    }

    /** The process's KVM, opened on first use. */
    static synchronized Kvm get() throws VireoException {
        if (instance == null) {
            int fd = Linux.open(DEVICE, Linux.O_RDWR | Linux.O_CLOEXEC);
            if (fd < 0) {
                throw new VireoException(openFailure(Linux.errno()));
            }
            try {
                instance = new Kvm(fd);
            } catch (VireoException | RuntimeException e) {
                Linux.close(fd);
                throw e;
            }
        }
        return instance;
    }

    private static String openFailure(int errno) {
        return switch (errno) {
            case Linux.ENOENT -> "no " + DEVICE + ": this host offers no KVM (no hardware virtualization, "
                    + "or the kvm_intel/kvm_amd module is not loaded; in a VM, enable nested virtualization)";
            case Linux.EACCES, Linux.EPERM -> "permission denied opening " + DEVICE
                    + ": add the user to the group that owns it (usually 'kvm') or run as root";
            case Linux.ENXIO, Linux.ENODEV -> DEVICE + " exists but no KVM module drives it (load kvm_intel or kvm_amd)";
            default -> "cannot open " + DEVICE + ": " + Linux.describe(errno);
        };
    }

    int extension(int capability) {
        return Linux.ioctl(fd, KvmAbi.KVM_CHECK_EXTENSION, capability);
    }

    private int[] stateMsrs() throws VireoException {
        Memory list = null;
        for (int n = 256; list == null; n *= 2) {
            Memory m = Linux.struct(4 + 4 * n);
            m.setInt(0, n);
            if (Linux.ioctl(fd, KvmAbi.KVM_GET_MSR_INDEX_LIST, m) == 0) {
                list = m;
            } else if (Linux.errno() != Linux.E2BIG || n > 65536) {
                throw new VireoException("KVM_GET_MSR_INDEX_LIST failed: " + Linux.describe(Linux.errno()));
            }
        }
        Set<Integer> offered = new HashSet<>();
        int count = list.getInt(0);
        for (int i = 0; i < count; i++) {
            offered.add(list.getInt(4 + 4L * i));
        }
        return Arrays.stream(KvmAbi.STATE_MSRS).filter(offered::contains).toArray();
    }
}
