package org.vireo.cpu.kvm;

import java.util.Map;

import com.sun.jna.Memory;

import org.vireo.api.VireoException;
import org.vireo.api.cpu.Segment;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.x86.boot.PcMemoryMap;

/**
 * Moves a vCPU's whole architectural state between KVM and the portable {@link X86CpuState}:
 * general registers, segments and descriptor tables, control registers and EFER, the MSRs of
 * {@link KvmAbi#STATE_MSRS}, x87/SSE/AVX through XSAVE, XCR0, debug registers, the local
 * APIC's registers, the multiprocessing state and pending events. The order of the writes
 * follows what KVM needs: special registers (EFER, APIC base) before the MSRs and the LAPIC
 * page, the events last.
 */
final class KvmStateCodec {

    /** IA32_APIC_BASE: enabled (bit 11), bootstrap processor (bit 8), at the PC's LAPIC address. */
    private static final long APIC_ENABLE = 1L << 11, APIC_BSP = 1L << 8;

    private final int fd;
    private final Kvm kvm;
    private final int index;
    private final Memory m = Linux.struct(KvmAbi.XSAVE_SIZE);

    KvmStateCodec(int vcpuFd, Kvm kvm, int index) {
        this.fd = vcpuFd;
        this.kvm = kvm;
        this.index = index;
    }

    X86CpuState read() throws VireoException {
        X86CpuState s = new X86CpuState();
        get(KvmAbi.KVM_GET_REGS, KvmAbi.REGS_SIZE, "KVM_GET_REGS");
        for (int i = 0; i < 16; i++) {
            s.gpr[KvmAbi.REGS_ORDER[i]] = m.getLong(8L * i);
        }
        s.rip = m.getLong(KvmAbi.REGS_RIP);
        s.rflags = m.getLong(KvmAbi.REGS_RFLAGS);

        get(KvmAbi.KVM_GET_SREGS, KvmAbi.SREGS_SIZE, "KVM_GET_SREGS");
        s.cs = segment(KvmAbi.SREGS_CS);
        s.ds = segment(KvmAbi.SREGS_DS);
        s.es = segment(KvmAbi.SREGS_ES);
        s.fs = segment(KvmAbi.SREGS_FS);
        s.gs = segment(KvmAbi.SREGS_GS);
        s.ss = segment(KvmAbi.SREGS_SS);
        s.tr = segment(KvmAbi.SREGS_TR);
        s.ldtr = segment(KvmAbi.SREGS_LDT);
        s.gdtBase = m.getLong(KvmAbi.SREGS_GDT + KvmAbi.DTABLE_BASE);
        s.gdtLimit = m.getShort(KvmAbi.SREGS_GDT + KvmAbi.DTABLE_LIMIT) & 0xffff;
        s.idtBase = m.getLong(KvmAbi.SREGS_IDT + KvmAbi.DTABLE_BASE);
        s.idtLimit = m.getShort(KvmAbi.SREGS_IDT + KvmAbi.DTABLE_LIMIT) & 0xffff;
        s.cr0 = m.getLong(KvmAbi.SREGS_CR0);
        s.cr2 = m.getLong(KvmAbi.SREGS_CR2);
        s.cr3 = m.getLong(KvmAbi.SREGS_CR3);
        s.cr4 = m.getLong(KvmAbi.SREGS_CR4);
        s.cr8 = m.getLong(KvmAbi.SREGS_CR8);
        s.efer = m.getLong(KvmAbi.SREGS_EFER);
        s.msrs.put(X86CpuState.MSR_APIC_BASE, m.getLong(KvmAbi.SREGS_APIC_BASE));
        int bitmapInterrupt = -1;
        for (int word = 0; word < 4; word++) {
            long bits = m.getLong(KvmAbi.SREGS_INTERRUPT_BITMAP + 8L * word);
            if (bits != 0) {
                bitmapInterrupt = word * 64 + Long.numberOfTrailingZeros(bits);
            }
        }

        int n = kvm.stateMsrs.length;
        m.clear(KvmAbi.MSRS_HEADER + (long) n * KvmAbi.MSR_ENTRY_SIZE);
        m.setInt(0, n);
        for (int i = 0; i < n; i++) {
            m.setInt(KvmAbi.MSRS_HEADER + (long) i * KvmAbi.MSR_ENTRY_SIZE, kvm.stateMsrs[i]);
        }
        int got = Linux.ioctl(fd, KvmAbi.KVM_GET_MSRS, m);
        if (got < 0) {
            throw failure("KVM_GET_MSRS");
        }
        for (int i = 0; i < got; i++) {
            long e = KvmAbi.MSRS_HEADER + (long) i * KvmAbi.MSR_ENTRY_SIZE;
            s.msrs.put(m.getInt(e), m.getLong(e + 8));
        }

        get(KvmAbi.KVM_GET_XSAVE, KvmAbi.XSAVE_SIZE, "KVM_GET_XSAVE");
        m.read(0, s.fxsave, 0, KvmAbi.XSAVE_LEGACY_SIZE);
        s.xsaveExtended = m.getByteArray(KvmAbi.XSAVE_LEGACY_SIZE, KvmAbi.XSAVE_SIZE - KvmAbi.XSAVE_LEGACY_SIZE);

        if (kvm.xcrs) {
            get(KvmAbi.KVM_GET_XCRS, KvmAbi.XCRS_SIZE, "KVM_GET_XCRS");
            int count = m.getInt(KvmAbi.XCRS_NR);
            for (int i = 0; i < count; i++) {
                long e = KvmAbi.XCRS_FIRST + (long) i * KvmAbi.XCR_ENTRY_SIZE;
                if (m.getInt(e) == 0) {
                    s.xcr0 = m.getLong(e + 8);
                }
            }
        }
        if (kvm.debugRegisters) {
            get(KvmAbi.KVM_GET_DEBUGREGS, KvmAbi.DEBUGREGS_SIZE, "KVM_GET_DEBUGREGS");
            for (int i = 0; i < 4; i++) {
                s.dr[i] = m.getLong(8L * i);
            }
            s.dr[6] = m.getLong(KvmAbi.DEBUGREGS_DR6);
            s.dr[7] = m.getLong(KvmAbi.DEBUGREGS_DR7);
        }

        get(KvmAbi.KVM_GET_LAPIC, KvmAbi.LAPIC_STATE_SIZE, "KVM_GET_LAPIC");
        s.lapic = m.getByteArray(0, KvmAbi.LAPIC_STATE_SIZE);

        get(KvmAbi.KVM_GET_MP_STATE, 4, "KVM_GET_MP_STATE");
        int mp = m.getInt(0);
        s.halted = mp == KvmAbi.KVM_MP_STATE_HALTED;
        s.waitingForSipi = mp == KvmAbi.KVM_MP_STATE_UNINITIALIZED || mp == KvmAbi.KVM_MP_STATE_INIT_RECEIVED;

        get(KvmAbi.KVM_GET_VCPU_EVENTS, KvmAbi.EVENTS_SIZE, "KVM_GET_VCPU_EVENTS");
        if (m.getByte(KvmAbi.EV_EXC_INJECTED) != 0) {
            s.pendingException = m.getByte(KvmAbi.EV_EXC_NR) & 0xff;
            s.pendingErrorCode = m.getByte(KvmAbi.EV_EXC_HAS_ERROR_CODE) != 0 ? m.getInt(KvmAbi.EV_EXC_ERROR_CODE) : -1;
        }
        boolean injected = m.getByte(KvmAbi.EV_INT_INJECTED) != 0 && m.getByte(KvmAbi.EV_INT_SOFT) == 0;
        s.pendingInterrupt = injected ? m.getByte(KvmAbi.EV_INT_NR) & 0xff : bitmapInterrupt;
        s.interruptShadow = m.getByte(KvmAbi.EV_INT_SHADOW) != 0;
        s.nmiPending = m.getByte(KvmAbi.EV_NMI_PENDING) != 0 || m.getByte(KvmAbi.EV_NMI_INJECTED) != 0;
        s.nmiMasked = m.getByte(KvmAbi.EV_NMI_MASKED) != 0;
        return s;
    }

    void write(X86CpuState s) throws VireoException {
        if (!s.waitingForSipi) {
            writeRegisters(s);
        }
        if (s.lapic.length == KvmAbi.LAPIC_STATE_SIZE) {
            m.write(0, s.lapic, 0, KvmAbi.LAPIC_STATE_SIZE);
            set(KvmAbi.KVM_SET_LAPIC, "KVM_SET_LAPIC");
        }
        m.setInt(0, s.waitingForSipi ? KvmAbi.KVM_MP_STATE_UNINITIALIZED
                : s.halted ? KvmAbi.KVM_MP_STATE_HALTED : KvmAbi.KVM_MP_STATE_RUNNABLE);
        set(KvmAbi.KVM_SET_MP_STATE, "KVM_SET_MP_STATE");
        if (!s.waitingForSipi) {
            writeEvents(s);
        }
    }

    /**
     * Registers, XSAVE, XCR0, special registers, MSRs, debug registers. An application
     * processor waiting for its startup IPI skips these: INIT and SIPI set them.
     */
    private void writeRegisters(X86CpuState s) throws VireoException {
        m.clear(KvmAbi.REGS_SIZE);
        for (int i = 0; i < 16; i++) {
            m.setLong(8L * i, s.gpr[KvmAbi.REGS_ORDER[i]]);
        }
        m.setLong(KvmAbi.REGS_RIP, s.rip);
        m.setLong(KvmAbi.REGS_RFLAGS, s.rflags | X86CpuState.RFLAGS_RESERVED);
        set(KvmAbi.KVM_SET_REGS, "KVM_SET_REGS");

        m.clear(KvmAbi.XSAVE_SIZE);
        m.write(0, s.fxsave, 0, KvmAbi.XSAVE_LEGACY_SIZE);
        int extended = Math.min(s.xsaveExtended.length, KvmAbi.XSAVE_SIZE - KvmAbi.XSAVE_LEGACY_SIZE);
        m.write(KvmAbi.XSAVE_LEGACY_SIZE, s.xsaveExtended, 0, extended);
        // XSTATE_BV bits 0 and 1: the x87 and SSE state are those of the legacy region, not the init state.
        m.setLong(KvmAbi.XSAVE_XSTATE_BV, m.getLong(KvmAbi.XSAVE_XSTATE_BV) | 3);
        set(KvmAbi.KVM_SET_XSAVE, "KVM_SET_XSAVE");

        if (kvm.xcrs) {
            m.clear(KvmAbi.XCRS_SIZE);
            m.setInt(KvmAbi.XCRS_NR, 1);
            m.setInt(KvmAbi.XCRS_FIRST, 0);
            m.setLong(KvmAbi.XCRS_FIRST + 8, s.xcr0 | 1);
            set(KvmAbi.KVM_SET_XCRS, "KVM_SET_XCRS");
        }

        m.clear(KvmAbi.SREGS_SIZE);
        putSegment(KvmAbi.SREGS_CS, s.cs);
        putSegment(KvmAbi.SREGS_DS, s.ds);
        putSegment(KvmAbi.SREGS_ES, s.es);
        putSegment(KvmAbi.SREGS_FS, s.fs);
        putSegment(KvmAbi.SREGS_GS, s.gs);
        putSegment(KvmAbi.SREGS_SS, s.ss);
        putSegment(KvmAbi.SREGS_TR, s.tr);
        putSegment(KvmAbi.SREGS_LDT, s.ldtr);
        m.setLong(KvmAbi.SREGS_GDT + KvmAbi.DTABLE_BASE, s.gdtBase);
        m.setShort(KvmAbi.SREGS_GDT + KvmAbi.DTABLE_LIMIT, (short) s.gdtLimit);
        m.setLong(KvmAbi.SREGS_IDT + KvmAbi.DTABLE_BASE, s.idtBase);
        m.setShort(KvmAbi.SREGS_IDT + KvmAbi.DTABLE_LIMIT, (short) s.idtLimit);
        m.setLong(KvmAbi.SREGS_CR0, s.cr0);
        m.setLong(KvmAbi.SREGS_CR2, s.cr2);
        m.setLong(KvmAbi.SREGS_CR3, s.cr3);
        m.setLong(KvmAbi.SREGS_CR4, s.cr4);
        m.setLong(KvmAbi.SREGS_CR8, s.cr8);
        m.setLong(KvmAbi.SREGS_EFER, s.efer);
        m.setLong(KvmAbi.SREGS_APIC_BASE, s.msrs.getOrDefault(X86CpuState.MSR_APIC_BASE,
                PcMemoryMap.LAPIC_BASE | APIC_ENABLE | (index == 0 ? APIC_BSP : 0)));
        set(KvmAbi.KVM_SET_SREGS, "KVM_SET_SREGS");

        int n = 0;
        m.clear(KvmAbi.MSRS_HEADER + (long) kvm.stateMsrs.length * KvmAbi.MSR_ENTRY_SIZE);
        for (int msr : kvm.stateMsrs) {
            Long value = s.msrs.get(msr);
            if (value != null) {
                long e = KvmAbi.MSRS_HEADER + (long) n * KvmAbi.MSR_ENTRY_SIZE;
                m.setInt(e, msr);
                m.setLong(e + 8, value);
                n++;
            }
        }
        m.setInt(0, n);
        int written = Linux.ioctl(fd, KvmAbi.KVM_SET_MSRS, m);
        if (written != n) {
            int bad = written >= 0 ? m.getInt(KvmAbi.MSRS_HEADER + (long) written * KvmAbi.MSR_ENTRY_SIZE) : 0;
            throw new VireoException(written < 0 ? "vCPU " + index + ": KVM_SET_MSRS failed: "
                    + Linux.describe(Linux.errno())
                    : String.format("vCPU %d: KVM refused MSR 0x%x = 0x%x", index, bad, s.msrs.get(bad)));
        }

        if (kvm.debugRegisters) {
            m.clear(KvmAbi.DEBUGREGS_SIZE);
            for (int i = 0; i < 4; i++) {
                m.setLong(8L * i, s.dr[i]);
            }
            m.setLong(KvmAbi.DEBUGREGS_DR6, s.dr[6] == 0 ? 0xffff0ff0L : s.dr[6]);
            m.setLong(KvmAbi.DEBUGREGS_DR7, s.dr[7] == 0 ? 0x400 : s.dr[7]);
            set(KvmAbi.KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS");
        }
    }

    private void writeEvents(X86CpuState s) throws VireoException {
        m.clear(KvmAbi.EVENTS_SIZE);
        if (s.pendingException >= 0) {
            m.setByte(KvmAbi.EV_EXC_INJECTED, (byte) 1);
            m.setByte(KvmAbi.EV_EXC_NR, (byte) s.pendingException);
            if (s.pendingErrorCode >= 0) {
                m.setByte(KvmAbi.EV_EXC_HAS_ERROR_CODE, (byte) 1);
                m.setInt(KvmAbi.EV_EXC_ERROR_CODE, s.pendingErrorCode);
            }
        }
        if (s.pendingInterrupt >= 0) {
            m.setByte(KvmAbi.EV_INT_INJECTED, (byte) 1);
            m.setByte(KvmAbi.EV_INT_NR, (byte) s.pendingInterrupt);
        }
        m.setByte(KvmAbi.EV_INT_SHADOW, (byte) (s.interruptShadow ? 1 : 0));
        m.setByte(KvmAbi.EV_NMI_PENDING, (byte) (s.nmiPending ? 1 : 0));
        m.setByte(KvmAbi.EV_NMI_MASKED, (byte) (s.nmiMasked ? 1 : 0));
        m.setInt(KvmAbi.EV_FLAGS, KvmAbi.KVM_VCPUEVENT_VALID_NMI_PENDING | KvmAbi.KVM_VCPUEVENT_VALID_SHADOW);
        set(KvmAbi.KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS");
    }

    private Segment segment(int at) {
        int attributes = (m.getByte(at + KvmAbi.SEG_TYPE) & 0xf)
                | (m.getByte(at + KvmAbi.SEG_S) != 0 ? Segment.S : 0)
                | ((m.getByte(at + KvmAbi.SEG_DPL) & 3) << Segment.DPL_SHIFT)
                | (m.getByte(at + KvmAbi.SEG_PRESENT) != 0 ? Segment.PRESENT : 0)
                | (m.getByte(at + KvmAbi.SEG_AVL) != 0 ? Segment.AVL : 0)
                | (m.getByte(at + KvmAbi.SEG_L) != 0 ? Segment.LONG : 0)
                | (m.getByte(at + KvmAbi.SEG_DB) != 0 ? Segment.DB : 0)
                | (m.getByte(at + KvmAbi.SEG_G) != 0 ? Segment.GRANULARITY : 0)
                | (m.getByte(at + KvmAbi.SEG_UNUSABLE) != 0 ? Segment.UNUSABLE : 0);
        return new Segment(m.getShort(at + KvmAbi.SEG_SELECTOR) & 0xffff, m.getLong(at + KvmAbi.SEG_BASE),
                m.getInt(at + KvmAbi.SEG_LIMIT), attributes);
    }

    private void putSegment(int at, Segment s) {
        int a = s.attributes();
        m.setLong(at + KvmAbi.SEG_BASE, s.base());
        m.setInt(at + KvmAbi.SEG_LIMIT, s.limit());
        m.setShort(at + KvmAbi.SEG_SELECTOR, (short) s.selector());
        m.setByte(at + KvmAbi.SEG_TYPE, (byte) s.type());
        m.setByte(at + KvmAbi.SEG_PRESENT, (byte) (s.present() ? 1 : 0));
        m.setByte(at + KvmAbi.SEG_DPL, (byte) s.dpl());
        m.setByte(at + KvmAbi.SEG_DB, (byte) ((a & Segment.DB) != 0 ? 1 : 0));
        m.setByte(at + KvmAbi.SEG_S, (byte) ((a & Segment.S) != 0 ? 1 : 0));
        m.setByte(at + KvmAbi.SEG_L, (byte) (s.longMode() ? 1 : 0));
        m.setByte(at + KvmAbi.SEG_G, (byte) ((a & Segment.GRANULARITY) != 0 ? 1 : 0));
        m.setByte(at + KvmAbi.SEG_AVL, (byte) ((a & Segment.AVL) != 0 ? 1 : 0));
        m.setByte(at + KvmAbi.SEG_UNUSABLE, (byte) (s.unusable() ? 1 : 0));
    }

    private void get(long request, int size, String name) throws VireoException {
        m.clear(size);
        if (Linux.ioctl(fd, request, m) < 0) {
            throw failure(name);
        }
    }

    private void set(long request, String name) throws VireoException {
        if (Linux.ioctl(fd, request, m) < 0) {
            throw failure(name);
        }
    }

    private VireoException failure(String name) {
        return new VireoException("vCPU " + index + ": " + name + " failed: " + Linux.describe(Linux.errno()));
    }

    /** The MSRs of a state that this host's KVM cannot carry (for a warning when moving a VM). */
    Map<Integer, Long> unsupportedMsrs(X86CpuState s) {
        Map<Integer, Long> rest = new java.util.TreeMap<>(s.msrs);
        for (int msr : kvm.stateMsrs) {
            rest.remove(msr);
        }
        rest.remove(X86CpuState.MSR_APIC_BASE);
        return rest;
    }
}
