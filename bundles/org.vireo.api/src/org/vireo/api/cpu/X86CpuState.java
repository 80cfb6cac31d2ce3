package org.vireo.api.cpu;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The portable architectural state of one x86-64 vCPU: what every CPU backend loads at boot,
 * saves in a snapshot and restores, so that a VM saved under one backend resumes under the
 * other. It holds architecture, not implementation: no KVM structures, no emulator caches.
 *
 * <p>A plain mutable holder: a backend fills it in one go and a loader edits a few fields.
 */
public final class X86CpuState {

    /** Indices into {@link #gpr}, in the encoding order of the instruction set. */
    public static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    // Control register and flag bits that loaders and backends need by name (Intel SDM vol. 3 §2.5).
    public static final long CR0_PE = 1L, CR0_MP = 1L << 1, CR0_ET = 1L << 4, CR0_NE = 1L << 5,
            CR0_WP = 1L << 16, CR0_AM = 1L << 18, CR0_PG = 1L << 31;
    public static final long CR4_PSE = 1L << 4, CR4_PAE = 1L << 5, CR4_PGE = 1L << 7,
            CR4_OSFXSR = 1L << 9, CR4_OSXMMEXCPT = 1L << 10;
    public static final long EFER_SCE = 1L, EFER_LME = 1L << 8, EFER_LMA = 1L << 10, EFER_NXE = 1L << 11;
    public static final long RFLAGS_RESERVED = 1L << 1, RFLAGS_IF = 1L << 9;

    /** Architectural MSR numbers commonly carried in {@link #msrs}. */
    public static final int MSR_TSC = 0x10, MSR_APIC_BASE = 0x1b, MSR_MISC_ENABLE = 0x1a0,
            MSR_PAT = 0x277, MSR_STAR = 0xc0000081, MSR_LSTAR = 0xc0000082, MSR_CSTAR = 0xc0000083,
            MSR_SFMASK = 0xc0000084, MSR_KERNEL_GS_BASE = 0xc0000102, MSR_TSC_AUX = 0xc0000103,
            MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176;

    /** RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15. */
    public final long[] gpr = new long[16];
    public long rip;
    public long rflags = RFLAGS_RESERVED;

    public Segment cs = Segment.NULL, ds = Segment.NULL, es = Segment.NULL, fs = Segment.NULL,
            gs = Segment.NULL, ss = Segment.NULL, tr = Segment.NULL, ldtr = Segment.NULL;
    public long gdtBase, idtBase;
    public int gdtLimit, idtLimit;

    public long cr0, cr2, cr3, cr4, cr8, efer, xcr0 = 1;
    public final long[] dr = new long[8];

    /** Model-specific registers by index, other than EFER (kept above). */
    public final Map<Integer, Long> msrs = new TreeMap<>();

    /** The 512-byte FXSAVE image: x87, MXCSR, XMM0-15 (Intel SDM vol. 1 §10.5.1). */
    public final byte[] fxsave = new byte[512];

    /**
     * The XSAVE area after the legacy region (from byte 512: the XSAVE header and the extended
     * components such as AVX), in the standard, non-compacted format; empty when the vCPU has
     * no extended state (the software CPU). The legacy region is {@link #fxsave}.
     */
    public byte[] xsaveExtended = new byte[0];

    /** The local APIC's 1 KiB register page, in the layout of its MMIO window; empty if none. */
    public byte[] lapic = new byte[0];

    /** Whether the vCPU is halted (HLT) waiting for an interrupt, and whether it has started (APs wait for SIPI). */
    public boolean halted, waitingForSipi;

    /** An external interrupt vector injected but not yet delivered, or -1. */
    public int pendingInterrupt = -1;

    /** An exception raised but not yet delivered (vector), or -1; its error code, or -1 if it has none. */
    public int pendingException = -1, pendingErrorCode = -1;

    /** An NMI waiting for delivery; NMIs blocked (inside an NMI handler, until IRET). */
    public boolean nmiPending, nmiMasked;

    /** Interrupts are blocked for one instruction after STI or MOV SS. */
    public boolean interruptShadow;

    public X86CpuState() {
        // The FXSAVE image's reset values: FCW 0x37f, MXCSR 0x1f80 (Intel SDM vol. 1 §8.1.5, §10.2.3.1).
        fxsave[0] = 0x7f;
        fxsave[1] = 0x03;
        fxsave[24] = (byte) 0x80;
        fxsave[25] = 0x1f;
    }

    public X86CpuState copy() {
        X86CpuState c = new X86CpuState();
        System.arraycopy(gpr, 0, c.gpr, 0, gpr.length);
        c.rip = rip;
        c.rflags = rflags;
        c.cs = cs;
        c.ds = ds;
        c.es = es;
        c.fs = fs;
        c.gs = gs;
        c.ss = ss;
        c.tr = tr;
        c.ldtr = ldtr;
        c.gdtBase = gdtBase;
        c.gdtLimit = gdtLimit;
        c.idtBase = idtBase;
        c.idtLimit = idtLimit;
        c.cr0 = cr0;
        c.cr2 = cr2;
        c.cr3 = cr3;
        c.cr4 = cr4;
        c.cr8 = cr8;
        c.efer = efer;
        c.xcr0 = xcr0;
        System.arraycopy(dr, 0, c.dr, 0, dr.length);
        c.msrs.putAll(msrs);
        System.arraycopy(fxsave, 0, c.fxsave, 0, fxsave.length);
        c.xsaveExtended = xsaveExtended.clone();
        c.lapic = lapic.clone();
        c.halted = halted;
        c.waitingForSipi = waitingForSipi;
        c.pendingInterrupt = pendingInterrupt;
        c.pendingException = pendingException;
        c.pendingErrorCode = pendingErrorCode;
        c.nmiPending = nmiPending;
        c.nmiMasked = nmiMasked;
        c.interruptShadow = interruptShadow;
        return c;
    }

    /** Whether the state describes 64-bit mode: long mode active and a 64-bit code segment. */
    public boolean in64BitMode() {
        return (efer & EFER_LMA) != 0 && cs.longMode();
    }

    /** Version 2 added the extended XSAVE area and the pending events. */
    private static final int STATE_VERSION = 2;

    public void saveState(StateWriter out) {
        StateWriter s = out.section("x86-cpu", STATE_VERSION);
        s.putLongs("gpr", gpr);
        s.putLong("rip", rip);
        s.putLong("rflags", rflags);
        putSegment(s, "cs", cs);
        putSegment(s, "ds", ds);
        putSegment(s, "es", es);
        putSegment(s, "fs", fs);
        putSegment(s, "gs", gs);
        putSegment(s, "ss", ss);
        putSegment(s, "tr", tr);
        putSegment(s, "ldtr", ldtr);
        s.putLongs("gdt", new long[] {gdtBase, gdtLimit});
        s.putLongs("idt", new long[] {idtBase, idtLimit});
        s.putLongs("cr", new long[] {cr0, cr2, cr3, cr4, cr8});
        s.putLong("efer", efer);
        s.putLong("xcr0", xcr0);
        s.putLongs("dr", dr);
        long[] m = new long[msrs.size() * 2];
        int i = 0;
        for (Map.Entry<Integer, Long> e : msrs.entrySet()) {
            m[i++] = e.getKey() & 0xffffffffL;
            m[i++] = e.getValue();
        }
        s.putLongs("msrs", m);
        s.putBytes("fxsave", fxsave);
        s.putBytes("lapic", lapic);
        s.putBoolean("halted", halted);
        s.putBoolean("waitingForSipi", waitingForSipi);
        s.putInt("pendingInterrupt", pendingInterrupt);
        s.putBytes("xsaveExtended", xsaveExtended);
        s.putInt("pendingException", pendingException);
        s.putInt("pendingErrorCode", pendingErrorCode);
        s.putBoolean("nmiPending", nmiPending);
        s.putBoolean("nmiMasked", nmiMasked);
        s.putBoolean("interruptShadow", interruptShadow);
    }

    public static X86CpuState restoreState(StateReader in) throws StateException {
        StateReader s = in.section("x86-cpu").expect("x86-cpu", 1, STATE_VERSION);
        X86CpuState c = new X86CpuState();
        copyExact(s, "gpr", c.gpr);
        c.rip = s.getLong("rip");
        c.rflags = s.getLong("rflags");
        c.cs = segment(s, "cs");
        c.ds = segment(s, "ds");
        c.es = segment(s, "es");
        c.fs = segment(s, "fs");
        c.gs = segment(s, "gs");
        c.ss = segment(s, "ss");
        c.tr = segment(s, "tr");
        c.ldtr = segment(s, "ldtr");
        long[] gdt = longs(s, "gdt", 2);
        c.gdtBase = gdt[0];
        c.gdtLimit = (int) gdt[1];
        long[] idt = longs(s, "idt", 2);
        c.idtBase = idt[0];
        c.idtLimit = (int) idt[1];
        long[] cr = longs(s, "cr", 5);
        c.cr0 = cr[0];
        c.cr2 = cr[1];
        c.cr3 = cr[2];
        c.cr4 = cr[3];
        c.cr8 = cr[4];
        c.efer = s.getLong("efer");
        c.xcr0 = s.getLong("xcr0");
        copyExact(s, "dr", c.dr);
        long[] m = s.getLongs("msrs");
        if (m.length % 2 != 0) {
            throw new StateException("state of 'x86-cpu': field 'msrs' has an odd length");
        }
        for (int i = 0; i < m.length; i += 2) {
            c.msrs.put((int) m[i], m[i + 1]);
        }
        System.arraycopy(s.getBytes("fxsave", 512), 0, c.fxsave, 0, 512);
        c.lapic = s.getBytes("lapic");
        c.halted = s.getBoolean("halted");
        c.waitingForSipi = s.getBoolean("waitingForSipi");
        c.pendingInterrupt = s.getInt("pendingInterrupt");
        if (s.version() >= 2) {
            c.xsaveExtended = s.getBytes("xsaveExtended");
            c.pendingException = s.getInt("pendingException");
            c.pendingErrorCode = s.getInt("pendingErrorCode");
            c.nmiPending = s.getBoolean("nmiPending");
            c.nmiMasked = s.getBoolean("nmiMasked");
            c.interruptShadow = s.getBoolean("interruptShadow");
        }
        return c;
    }

    private static void putSegment(StateWriter s, String key, Segment seg) {
        s.putLongs(key, new long[] {seg.selector(), seg.base(), seg.limit() & 0xffffffffL, seg.attributes()});
    }

    private static Segment segment(StateReader s, String key) throws StateException {
        long[] v = longs(s, key, 4);
        return new Segment((int) v[0], v[1], (int) v[2], (int) v[3]);
    }

    private static long[] longs(StateReader s, String key, int n) throws StateException {
        long[] v = s.getLongs(key);
        if (v.length != n) {
            throw new StateException("state of 'x86-cpu': field '" + key + "' has " + v.length
                    + " values, expected " + n);
        }
        return v;
    }

    private static void copyExact(StateReader s, String key, long[] dst) throws StateException {
        System.arraycopy(longs(s, key, dst.length), 0, dst, 0, dst.length);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        String[] names = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
        for (int i = 0; i < 16; i++) {
            b.append(String.format("%-3s=%016x%s", names[i], gpr[i], i % 4 == 3 ? "\n" : "  "));
        }
        b.append(String.format("rip=%016x  rflags=%016x%n", rip, rflags));
        b.append(String.format("cr0=%016x  cr2=%016x  cr3=%016x  cr4=%016x  efer=%x%n", cr0, cr2, cr3, cr4, efer));
        b.append("cs: ").append(cs).append("\nss: ").append(ss).append("\nds: ").append(ds)
                .append("\nfs: ").append(fs).append("\ngs: ").append(gs).append("\ntr: ").append(tr).append('\n');
        b.append(String.format("gdt=%016x/%x  idt=%016x/%x", gdtBase, gdtLimit, idtBase, idtLimit));
        return b.toString();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof X86CpuState c)) {
            return false;
        }
        return Arrays.equals(gpr, c.gpr) && rip == c.rip && rflags == c.rflags && cs.equals(c.cs)
                && ds.equals(c.ds) && es.equals(c.es) && fs.equals(c.fs) && gs.equals(c.gs)
                && ss.equals(c.ss) && tr.equals(c.tr) && ldtr.equals(c.ldtr) && gdtBase == c.gdtBase
                && gdtLimit == c.gdtLimit && idtBase == c.idtBase && idtLimit == c.idtLimit
                && cr0 == c.cr0 && cr2 == c.cr2 && cr3 == c.cr3 && cr4 == c.cr4 && cr8 == c.cr8
                && efer == c.efer && xcr0 == c.xcr0 && Arrays.equals(dr, c.dr) && msrs.equals(c.msrs)
                && Arrays.equals(fxsave, c.fxsave) && Arrays.equals(xsaveExtended, c.xsaveExtended)
                && Arrays.equals(lapic, c.lapic)
                && halted == c.halted && waitingForSipi == c.waitingForSipi
                && pendingInterrupt == c.pendingInterrupt && pendingException == c.pendingException
                && pendingErrorCode == c.pendingErrorCode && nmiPending == c.nmiPending
                && nmiMasked == c.nmiMasked && interruptShadow == c.interruptShadow;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(rip) * 31 + Arrays.hashCode(gpr);
    }
}
