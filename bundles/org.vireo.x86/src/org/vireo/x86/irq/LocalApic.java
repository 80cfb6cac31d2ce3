package org.vireo.x86.irq;

import org.vireo.api.device.Device;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * One vCPU's local APIC in xAPIC mode: the 4 KiB register page the CPU maps at its APIC base
 * (Intel SDM vol. 3 ch. 11). It holds the interrupts accepted for the CPU (IRR), those in
 * service (ISR) and their trigger modes (TMR), the task and processor priorities, the
 * local vector table, the timer, and the interrupt command register for IPIs.
 *
 * <p>The timer counts at {@link #TIMER_HZ} divided by the divide configuration, computed from
 * the VM's {@link VirtualClock}: the current count is derived from the time the initial count
 * was written, and a clock timer raises the interrupt when it runs out. One-shot and periodic
 * modes; the TSC-deadline mode is not offered (CPUID does not report it).
 */
public final class LocalApic implements Device {

    /** The timer's input clock (the "core crystal" the CPU reports in CPUID leaf 0x15). */
    public static final long TIMER_HZ = 25_000_000L;
    private static final long NANOS_PER_TICK = 1_000_000_000L / TIMER_HZ;

    // Register offsets in the APIC page (SDM vol. 3 table 11-1).
    static final int ID = 0x20, VERSION = 0x30, TPR = 0x80, APR = 0x90, PPR = 0xa0, EOI = 0xb0, RRD = 0xc0,
            LDR = 0xd0, DFR = 0xe0, SVR = 0xf0, ISR = 0x100, TMR = 0x180, IRR = 0x200, ESR = 0x280,
            LVT_CMCI = 0x2f0, ICR_LOW = 0x300, ICR_HIGH = 0x310, LVT_TIMER = 0x320, LVT_THERMAL = 0x330,
            LVT_PERF = 0x340, LVT_LINT0 = 0x350, LVT_LINT1 = 0x360, LVT_ERROR = 0x370, TIMER_INITIAL = 0x380,
            TIMER_CURRENT = 0x390, TIMER_DIVIDE = 0x3e0;

    /** Version 0x14 (an integrated APIC), six LVT entries (max LVT entry 5). */
    static final int VERSION_VALUE = 0x14 | (5 << 16);

    static final int LVT_MASKED = 1 << 16;
    private static final int LVT_TIMER_PERIODIC = 1 << 17;
    private static final int DELIVERY_FIXED = 0, DELIVERY_LOWEST = 1, DELIVERY_SMI = 2, DELIVERY_NMI = 4,
            DELIVERY_INIT = 5, DELIVERY_STARTUP = 6, DELIVERY_EXTINT = 7;
    private static final int ESR_SEND_ILLEGAL_VECTOR = 1 << 5, ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6,
            ESR_ILLEGAL_REGISTER = 1 << 7;
    /** IA32_APIC_BASE: BSP flag and global enable (SDM vol. 3 §11.4.4). */
    static final long BASE_BSP = 1L << 8, BASE_ENABLE = 1L << 11;
    private static final long BASE_DEFAULT = 0xfee00000L;

    private final Object lock;
    private final int apicId;
    private final VirtualClock clock;
    private final VirtualClock.Timer timer;
    private final PcInterruptController controller;
    private volatile Runnable interruptListener = () -> { };
    private volatile StartupListener startupListener = (target, mode, vector) -> { };

    private final int[] irr = new int[8];
    private final int[] isr = new int[8];
    private final int[] tmr = new int[8];
    private long baseMsr;
    private int tpr, ldr, dfr, svr, esr, pendingEsr, icrLow, icrHigh;
    /** LVT entries: timer, thermal, performance counters, LINT0, LINT1, error, CMCI. */
    private final int[] lvt = new int[7];
    private static final int L_TIMER = 0, L_THERMAL = 1, L_PERF = 2, L_LINT0 = 3, L_LINT1 = 4, L_ERROR = 5,
            L_CMCI = 6;
    private int timerInitial, timerDivide;
    /** Guest time when the current count was last loaded from the initial count. */
    private long timerStart;
    private boolean nmiPending;

    /** What the CPU is told of INIT and STARTUP IPIs sent to it (for SMP bring-up). */
    @FunctionalInterface
    public interface StartupListener {
        /** {@code mode}: 5 INIT, 6 STARTUP; {@code vector}: the SIPI's page number. */
        void startup(int targetApicId, int mode, int vector);
    }

    LocalApic(Object lock, int apicId, boolean bootProcessor, VirtualClock clock, PcInterruptController controller) {
        this.lock = lock;
        this.apicId = apicId;
        this.clock = clock;
        this.controller = controller;
        this.timer = clock.timer("lapic" + apicId + " timer", this::timerExpired);
        this.baseMsr = BASE_DEFAULT | BASE_ENABLE | (bootProcessor ? BASE_BSP : 0);
        resetRegisters();
    }

    @Override
    public String id() {
        return "lapic" + apicId;
    }

    public int apicId() {
        return apicId;
    }

    private void resetRegisters() {
        java.util.Arrays.fill(irr, 0);
        java.util.Arrays.fill(isr, 0);
        java.util.Arrays.fill(tmr, 0);
        tpr = 0;
        ldr = 0;
        dfr = 0xffffffff;
        svr = 0xff;
        esr = 0;
        pendingEsr = 0;
        icrLow = 0;
        icrHigh = 0;
        java.util.Arrays.fill(lvt, LVT_MASKED);
        timerInitial = 0;
        timerDivide = 0;
        timerStart = 0;
        nmiPending = false;
        timer.cancel();
    }

    @Override
    public void reset() {
        synchronized (lock) {
            resetRegisters();
            baseMsr = BASE_DEFAULT | BASE_ENABLE | (baseMsr & BASE_BSP);
        }
    }

    public void setInterruptListener(Runnable listener) {
        this.interruptListener = listener == null ? () -> { } : listener;
    }

    public void setStartupListener(StartupListener listener) {
        this.startupListener = listener == null ? (t, m, v) -> { } : listener;
    }

    void notifyCpu() {
        interruptListener.run();
    }

    // ---- the CPU's side ----

    public long baseMsr() {
        synchronized (lock) {
            return baseMsr;
        }
    }

    /** WRMSR IA32_APIC_BASE: the base address and the global enable; the BSP flag is read-only. */
    public void setBaseMsr(long value) {
        synchronized (lock) {
            boolean wasEnabled = (baseMsr & BASE_ENABLE) != 0;
            baseMsr = (value & 0xf_ffff_f000L) | (value & BASE_ENABLE) | (baseMsr & BASE_BSP);
            if (wasEnabled && (baseMsr & BASE_ENABLE) == 0) {
                // Globally disabling the APIC resets it to its power-up state (SDM §11.4.3).
                resetRegisters();
            }
        }
        notifyCpu();
    }

    private boolean globallyEnabled() {
        return (baseMsr & BASE_ENABLE) != 0;
    }

    private boolean softwareEnabled() {
        return (svr & 0x100) != 0;
    }

    public int tpr() {
        synchronized (lock) {
            return tpr;
        }
    }

    public void setTpr(int value) {
        synchronized (lock) {
            tpr = value & 0xff;
        }
        notifyCpu();
    }

    /** The vector the CPU would take now with RFLAGS.IF=1, or -1. */
    public int pendingInterrupt() {
        synchronized (lock) {
            int v = globallyEnabled() ? highest(irr) : -1;
            if (v >= 0 && (v & 0xf0) > (ppr() & 0xf0)) {
                return v;
            }
            return extIntVector();
        }
    }

    /**
     * A PIC interrupt reaches the CPU through LINT0 programmed for ExtINT, or directly when
     * the APIC is globally disabled (the PC's "through local APIC" virtual wire).
     */
    private int extIntVector() {
        return wireToPic() ? controller.pic().peekVector() : -1;
    }

    private boolean wireToPic() {
        if (apicId != 0) {
            return false;
        }
        return !globallyEnabled()
                || ((lvt[L_LINT0] & LVT_MASKED) == 0 && ((lvt[L_LINT0] >>> 8) & 7) == DELIVERY_EXTINT
                        && softwareEnabled());
    }

    /** INTA: moves the highest deliverable vector from IRR to ISR and returns it; the spurious vector if none. */
    public int acknowledgeInterrupt() {
        synchronized (lock) {
            int v = globallyEnabled() ? highest(irr) : -1;
            if (v >= 0 && (v & 0xf0) > (ppr() & 0xf0)) {
                clear(irr, v);
                set(isr, v);
                return v;
            }
            if (!wireToPic()) {
                return svr & 0xff;
            }
        }
        // The PIC answers the INTA itself, with its spurious IRQ 7 if the request went away.
        return controller.pic().acknowledge();
    }
    /** Whether an NMI is pending; takes it. */
    public boolean takeNmi() {
        synchronized (lock) {
            boolean n = nmiPending;
            nmiPending = false;
            return n;
        }
    }

    // ---- delivery from the IOAPIC, MSIs and IPIs ----

    /** Accepts a fixed interrupt (SDM §11.5.2 for illegal vectors). */
    void accept(int vector, boolean level) {
        synchronized (lock) {
            if (vector < 16) {
                esr |= ESR_RECEIVE_ILLEGAL_VECTOR;
                pendingEsr |= ESR_RECEIVE_ILLEGAL_VECTOR;
                raiseError();
                return;
            }
            set(irr, vector);
            if (level) {
                set(tmr, vector);
            } else {
                clear(tmr, vector);
            }
        }
        notifyCpu();
    }

    void acceptNmi() {
        synchronized (lock) {
            nmiPending = true;
        }
        notifyCpu();
    }

    /** Whether this APIC is named by {@code destination} in the given mode (SDM §11.6.2). */
    boolean matches(int destination, boolean logical) {
        synchronized (lock) {
            if (!logical) {
                return destination == 0xff || destination == apicId;
            }
            int logicalId = ldr >>> 24;
            if ((dfr >>> 28) == 0xf) {
                return (logicalId & destination) != 0; // flat model
            }
            // Cluster model: high nibble the cluster, low nibble a bitmap in it.
            return ((logicalId >>> 4) == (destination >>> 4) || (destination >>> 4) == 0xf)
                    && (logicalId & destination & 0xf) != 0;
        }
    }

    /** The LINT0/LINT1 pins: the PIC's output changed (LINT0), or an NMI source (LINT1). */
    void lint1() {
        synchronized (lock) {
            int entry = lvt[L_LINT1];
            if ((entry & LVT_MASKED) != 0 || !softwareEnabled()) {
                return;
            }
            if (((entry >>> 8) & 7) == DELIVERY_NMI) {
                nmiPending = true;
            }
        }
        notifyCpu();
    }

    // ---- register page ----

    public long read(int offset, int size) {
        synchronized (lock) {
            int reg = offset & 0xff0;
            int shift = 8 * (offset & 3);
            return (readRegister(reg) >>> shift) & (size >= 4 ? 0xffffffffL : (1L << (8 * size)) - 1);
        }
    }

    private long readRegister(int reg) {
        long v = switch (reg) {
            case ID -> (long) apicId << 24;
            case VERSION -> VERSION_VALUE;
            case TPR -> tpr;
            case APR -> 0;
            case PPR -> ppr();
            case LDR -> ldr;
            case DFR -> dfr;
            case SVR -> svr;
            case ESR -> esr;
            case ICR_LOW -> icrLow & ~(1 << 12); // delivery status: always idle
            case ICR_HIGH -> icrHigh;
            case LVT_TIMER -> lvt[L_TIMER];
            case LVT_THERMAL -> lvt[L_THERMAL];
            case LVT_PERF -> lvt[L_PERF];
            case LVT_LINT0 -> lvt[L_LINT0];
            case LVT_LINT1 -> lvt[L_LINT1];
            case LVT_ERROR -> lvt[L_ERROR];
            case LVT_CMCI -> lvt[L_CMCI];
            case TIMER_INITIAL -> timerInitial;
            case TIMER_CURRENT -> currentCount();
            case TIMER_DIVIDE -> timerDivide;
            default -> {
                if (reg >= ISR && reg < ISR + 0x80) {
                    yield isr[(reg - ISR) >> 4];
                } else if (reg >= TMR && reg < TMR + 0x80) {
                    yield tmr[(reg - TMR) >> 4];
                } else if (reg >= IRR && reg < IRR + 0x80) {
                    yield irr[(reg - IRR) >> 4];
                }
                yield 0;
            }
        };
        return v & 0xffffffffL;
    }

    public void write(int offset, int size, long value) {
        if ((offset & 0xf) != 0 || size != 4) {
            // The registers take aligned 32-bit writes; others are ignored (SDM §11.4.1).
            return;
        }
        int v = (int) value;
        boolean notify = false;
        synchronized (lock) {
            switch (offset & 0xff0) {
                case TPR -> {
                    tpr = v & 0xff;
                    notify = true;
                }
                case EOI -> {
                    eoi();
                    notify = true;
                }
                case LDR -> ldr = v & 0xff000000;
                case DFR -> dfr = v | 0x0fffffff;
                case SVR -> {
                    svr = v & 0x3ff;
                    if (!softwareEnabled()) {
                        // Software disable masks every LVT entry (SDM §11.4.7.2).
                        for (int k = 0; k < lvt.length; k++) {
                            lvt[k] |= LVT_MASKED;
                        }
                    }
                    notify = true;
                }
                case ESR -> {
                    // A write latches the errors seen since the last one (SDM §11.5.3).
                    esr = pendingEsr;
                    pendingEsr = 0;
                }
                case ICR_LOW -> {
                    icrLow = v & 0xfff3fff;
                    sendIpi();
                }
                case ICR_HIGH -> icrHigh = v & 0xff000000;
                case LVT_TIMER -> {
                    lvt[L_TIMER] = lvtValue(v & 0x700ff);
                    rearmTimer();
                }
                case LVT_THERMAL -> lvt[L_THERMAL] = lvtValue(v & 0x107ff);
                case LVT_PERF -> lvt[L_PERF] = lvtValue(v & 0x107ff);
                case LVT_LINT0 -> {
                    lvt[L_LINT0] = lvtValue(v & 0x1a7ff);
                    notify = true;
                }
                case LVT_LINT1 -> lvt[L_LINT1] = lvtValue(v & 0x1a7ff);
                case LVT_ERROR -> lvt[L_ERROR] = lvtValue(v & 0x100ff);
                case LVT_CMCI -> lvt[L_CMCI] = lvtValue(v & 0x107ff);
                case TIMER_INITIAL -> {
                    timerInitial = v;
                    timerStart = clock.nanos();
                    rearmTimer();
                }
                case TIMER_DIVIDE -> {
                    long current = currentCount();
                    timerDivide = v & 0xb;
                    // Keep the count where it is; it goes on at the new rate.
                    if (timerInitial != 0 && current != 0) {
                        timerStart = clock.nanos() - (timerInitial - current) * tickNanos();
                    }
                    rearmTimer();
                }
                default -> {
                    // Read-only and reserved registers ignore writes.
                }
            }
        }
        if (notify) {
            notifyCpu();
        }
    }

    /** While software-disabled, LVT entries stay masked. */
    private int lvtValue(int v) {
        return softwareEnabled() ? v : v | LVT_MASKED;
    }

    private void eoi() {
        int v = highest(isr);
        if (v < 0) {
            return;
        }
        clear(isr, v);
        if (test(tmr, v)) {
            // A level-triggered interrupt: tell the IOAPIC(s) so they look at the line again.
            controller.broadcastEoi(v);
        }
    }

    private void sendIpi() {
        int vector = icrLow & 0xff;
        int mode = (icrLow >>> 8) & 7;
        boolean logical = (icrLow & (1 << 11)) != 0;
        int shorthand = (icrLow >>> 18) & 3;
        int destination = icrHigh >>> 24;
        if ((mode == DELIVERY_FIXED || mode == DELIVERY_LOWEST) && vector < 16) {
            esr |= ESR_SEND_ILLEGAL_VECTOR;
            pendingEsr |= ESR_SEND_ILLEGAL_VECTOR;
            raiseError();
            return;
        }
        controller.deliverIpi(this, shorthand, destination, logical, mode, vector,
                (icrLow & (1 << 15)) != 0, (icrLow & (1 << 14)) != 0);
    }

    /** An IPI arrives: fixed/lowest go to IRR, NMI, INIT and STARTUP to the CPU. */
    void receiveIpi(int mode, int vector, boolean level) {
        switch (mode) {
            case DELIVERY_FIXED, DELIVERY_LOWEST -> accept(vector, false);
            case DELIVERY_NMI -> acceptNmi();
            case DELIVERY_INIT, DELIVERY_STARTUP -> startupListener.startup(apicId, mode, vector);
            default -> { } // SMI and reserved modes: nothing to do
        }
    }

    private void raiseError() {
        int entry = lvt[L_ERROR];
        if ((entry & LVT_MASKED) == 0 && (entry & 0xff) >= 16) {
            set(irr, entry & 0xff);
            clear(tmr, entry & 0xff);
        }
    }

    private int ppr() {
        int isrv = highest(isr);
        int isrClass = isrv < 0 ? 0 : isrv & 0xf0;
        return (tpr & 0xf0) >= isrClass ? tpr : isrClass;
    }

    // ---- timer (SDM §11.5.4) ----

    private long tickNanos() {
        int d = (timerDivide & 3) | ((timerDivide >>> 1) & 4);
        long divisor = d == 7 ? 1 : 2L << d;
        return NANOS_PER_TICK * divisor;
    }

    private long currentCount() {
        if (timerInitial == 0) {
            return 0;
        }
        long initial = timerInitial & 0xffffffffL;
        long elapsed = (clock.nanos() - timerStart) / tickNanos();
        if ((lvt[L_TIMER] & LVT_TIMER_PERIODIC) != 0) {
            return initial - (elapsed % initial);
        }
        return elapsed >= initial ? 0 : initial - elapsed;
    }

    private void rearmTimer() {
        if (timerInitial == 0) {
            timer.cancel();
            return;
        }
        long period = (timerInitial & 0xffffffffL) * tickNanos();
        long elapsed = clock.nanos() - timerStart;
        if ((lvt[L_TIMER] & LVT_TIMER_PERIODIC) != 0) {
            long periods = elapsed / period;
            timer.arm(timerStart + (periods + 1) * period);
        } else if (elapsed < period) {
            timer.arm(timerStart + period);
        } else {
            timer.cancel();
        }
    }

    private void timerExpired() {
        boolean fire;
        synchronized (lock) {
            if (timerInitial == 0) {
                return;
            }
            int entry = lvt[L_TIMER];
            fire = (entry & LVT_MASKED) == 0;
            if (fire) {
                int vector = entry & 0xff;
                if (vector < 16) {
                    esr |= ESR_RECEIVE_ILLEGAL_VECTOR;
                    pendingEsr |= ESR_RECEIVE_ILLEGAL_VECTOR;
                    fire = false;
                } else {
                    set(irr, vector);
                    clear(tmr, vector);
                }
            }
            if ((entry & LVT_TIMER_PERIODIC) != 0) {
                rearmTimer();
            }
        }
        if (fire) {
            notifyCpu();
        }
    }

    // ---- 256-bit vector sets ----

    private static void set(int[] bits, int v) {
        bits[v >>> 5] |= 1 << (v & 31);
    }

    private static void clear(int[] bits, int v) {
        bits[v >>> 5] &= ~(1 << (v & 31));
    }

    private static boolean test(int[] bits, int v) {
        return (bits[v >>> 5] & (1 << (v & 31))) != 0;
    }

    private static int highest(int[] bits) {
        for (int w = 7; w >= 0; w--) {
            if (bits[w] != 0) {
                return (w << 5) + 31 - Integer.numberOfLeadingZeros(bits[w]);
            }
        }
        return -1;
    }

    // ---- save and restore ----

    private static final int STATE_VERSION = 1;

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            StateWriter s = out.section(id(), STATE_VERSION);
            s.putLongs("irr", widen(irr));
            s.putLongs("isr", widen(isr));
            s.putLongs("tmr", widen(tmr));
            s.putLongs("lvt", widen(lvt));
            s.putLong("baseMsr", baseMsr);
            s.putLongs("regs", new long[] {tpr, ldr, dfr, svr, esr, pendingEsr, icrLow, icrHigh, timerInitial,
                timerDivide});
            // The timer as "guest time elapsed since it was loaded", valid against any clock.
            s.putLong("timerElapsed", clock.nanos() - timerStart);
            s.putBoolean("nmiPending", nmiPending);
        }
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        StateReader s = in.section(id()).expect(id(), 1, STATE_VERSION);
        long[] regs = s.getLongs("regs");
        if (regs.length != 10) {
            throw new StateException("state of '" + id() + "': field 'regs' has " + regs.length + " values, expected 10");
        }
        synchronized (lock) {
            narrow(s.getLongs("irr"), irr, "irr");
            narrow(s.getLongs("isr"), isr, "isr");
            narrow(s.getLongs("tmr"), tmr, "tmr");
            narrow(s.getLongs("lvt"), lvt, "lvt");
            baseMsr = s.getLong("baseMsr");
            tpr = (int) regs[0];
            ldr = (int) regs[1];
            dfr = (int) regs[2];
            svr = (int) regs[3];
            esr = (int) regs[4];
            pendingEsr = (int) regs[5];
            icrLow = (int) regs[6];
            icrHigh = (int) regs[7];
            timerInitial = (int) regs[8];
            timerDivide = (int) regs[9];
            timerStart = clock.nanos() - s.getLong("timerElapsed");
            nmiPending = s.getBoolean("nmiPending");
            rearmTimer();
        }
        notifyCpu();
    }

    private static long[] widen(int[] v) {
        long[] r = new long[v.length];
        for (int k = 0; k < v.length; k++) {
            r[k] = v[k];
        }
        return r;
    }

    private void narrow(long[] from, int[] to, String key) throws StateException {
        if (from.length != to.length) {
            throw new StateException("state of '" + id() + "': field '" + key + "' has " + from.length
                    + " values, expected " + to.length);
        }
        for (int k = 0; k < to.length; k++) {
            to[k] = (int) from[k];
        }
    }
}
