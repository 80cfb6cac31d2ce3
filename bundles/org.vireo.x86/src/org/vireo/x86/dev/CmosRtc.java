package org.vireo.x86.dev;

import java.time.Clock;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;
import org.vireo.api.device.Device;
import org.vireo.api.irq.IrqLine;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/**
 * The PC's real-time clock and CMOS RAM, a Motorola MC146818A: port 0x70 selects a byte
 * (bit 7 masks NMI and is kept aside), port 0x71 reads or writes it; IRQ 8.
 *
 * <p>The clock is not a counter ticking in the device: the time registers are computed on
 * each read from the host's wall time plus the guest's offset, in BCD or binary and 12- or
 * 24-hour form as register B asks. While the guest holds SET in register B (or holds the
 * divider in reset through register A) the clock is frozen and the guest's writes edit the
 * frozen time; when it lets go, the new time becomes an offset from the host clock. That
 * offset is what a snapshot keeps, so a restored guest's clock goes on from the host's time.
 *
 * <p>UIP in register A is set during the last 244 us before each second's update. Register C
 * flags (periodic, alarm, update-ended) are computed from the time elapsed since they were
 * last looked at, when the guest reads C; while an interrupt is enabled a timer on the given
 * executor wakes at the next period or second so IRQF and the IRQ line rise on time. The IRQ
 * line follows IRQF: high until the guest reads C.
 *
 * <p>Time comes from a {@link Clock} read once for the wall time and a nanosecond counter for
 * its progress, both injected so tests can drive time. Daylight-saving (DSE) and the square
 * wave output are stored but have no effect.
 */
public final class CmosRtc implements Device {

    public static final int INDEX_PORT = 0x70;
    public static final int DATA_PORT = 0x71;
    public static final int IRQ = 8;
    /** Bytes of CMOS RAM, clock registers included. */
    public static final int CMOS_SIZE = 128;

    // Register map, MC146818A datasheet figure "Address map"; 0x32 is the PC's century byte.
    public static final int SECONDS = 0x00;
    public static final int SECONDS_ALARM = 0x01;
    public static final int MINUTES = 0x02;
    public static final int MINUTES_ALARM = 0x03;
    public static final int HOURS = 0x04;
    public static final int HOURS_ALARM = 0x05;
    public static final int DAY_OF_WEEK = 0x06;
    public static final int DAY_OF_MONTH = 0x07;
    public static final int MONTH = 0x08;
    public static final int YEAR = 0x09;
    public static final int REGISTER_A = 0x0A;
    public static final int REGISTER_B = 0x0B;
    public static final int REGISTER_C = 0x0C;
    public static final int REGISTER_D = 0x0D;
    public static final int CENTURY = 0x32;

    public static final int A_UPDATE_IN_PROGRESS = 0x80;
    /** DV2-DV0 = 11x holds the divider chain in reset. */
    private static final int A_DIVIDER_RESET = 0x60;
    private static final int A_RATE = 0x0F;
    /** 32.768 kHz time base, 1024 Hz periodic rate: the PC's power-on value. */
    private static final int A_POWER_ON = 0x26;

    public static final int B_SET = 0x80;
    public static final int B_PERIODIC_INTERRUPT = 0x40;
    public static final int B_ALARM_INTERRUPT = 0x20;
    public static final int B_UPDATE_INTERRUPT = 0x10;
    public static final int B_SQUARE_WAVE = 0x08;
    public static final int B_BINARY = 0x04;
    public static final int B_24_HOUR = 0x02;

    public static final int C_IRQ = 0x80;
    public static final int C_PERIODIC = 0x40;
    public static final int C_ALARM = 0x20;
    public static final int C_UPDATE = 0x10;

    private static final int D_VALID_RAM_AND_TIME = 0x80;
    private static final int NMI_DISABLE = 0x80;
    private static final int HOUR_PM = 0x80;
    private static final int ALARM_DONT_CARE = 0xC0;

    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    /** UIP is set this long before each update (MC146818A: tBUC = 244 us). */
    private static final long UPDATE_IN_PROGRESS_NANOS = 244_000L;
    /** After the divider leaves reset the first update comes half a second later. */
    private static final long DIVIDER_RESTART_NANOS = NANOS_PER_SECOND / 2;
    private static final long TIME_BASE_HZ = 32_768L;
    /** Beyond one day of missed seconds, an alarm on valid h:m:s has certainly matched. */
    private static final long ALARM_SCAN_LIMIT = 86_400L;

    private static final String STATE_SECTION = "cmos-rtc";
    private static final int STATE_VERSION = 1;

    // Indices into the frozen time fields.
    private static final int F_SECOND = 0;
    private static final int F_MINUTE = 1;
    private static final int F_HOUR = 2;
    private static final int F_DAY_OF_WEEK = 3;
    private static final int F_DAY = 4;
    private static final int F_MONTH = 5;
    private static final int F_YEAR = 6;
    private static final int F_CENTURY = 7;
    private static final int FIELDS = 8;

    private final IrqLine irq;
    private final LongSupplier nanoTime;
    private final ScheduledExecutorService executor;
    private final IoBus.Registration registration;
    /** The host's wall time at {@link #baseNanoTime}, in nanoseconds since the epoch. */
    private final long baseEpochNanos;
    private final long baseNanoTime;

    private final byte[] cmos = new byte[CMOS_SIZE];
    private int index;
    private boolean nmiDisabled;
    private int registerA = A_POWER_ON;
    private int registerB = B_24_HOUR;
    private int registerC;
    /** Guest time minus host time, in nanoseconds. */
    private long offsetNanos;
    /** The time fields while the clock is frozen, else null. */
    private int[] frozen;
    /** Host time up to which register C's flags are accounted for. */
    private long flagsCheckedAt;
    private boolean irqLevel;
    private ScheduledFuture<?> timer;
    private boolean closed;

    /**
     * Creates the RTC on ports 0x70-0x71.
     *
     * @param irq ISA IRQ 8
     * @param wallClock the host's wall time (read once); the RTC keeps UTC
     * @param nanoTime a monotonic nanosecond counter such as {@code System::nanoTime}
     * @param executor where interrupt timers run; not shut down by this device
     */
    public CmosRtc(IoBus portIo, IrqLine irq, Clock wallClock, LongSupplier nanoTime, ScheduledExecutorService executor) {
        this.irq = irq;
        this.nanoTime = nanoTime;
        this.executor = executor;
        Instant now = wallClock.instant();
        this.baseEpochNanos = Math.addExact(Math.multiplyExact(now.getEpochSecond(), NANOS_PER_SECOND), now.getNano());
        this.baseNanoTime = nanoTime.getAsLong();
        this.flagsCheckedAt = hostNanos();
        this.registration = portIo.register(INDEX_PORT, 2, "rtc", new Ports());
    }

    @Override
    public String id() {
        return "rtc";
    }

    /** Presets a CMOS RAM byte, as firmware would (memory size bytes 0x34/0x35, 0x5B-0x5D). */
    public synchronized void setCmosByte(int at, int value) {
        checkCmosIndex(at);
        cmos[at] = (byte) value;
    }

    /** The stored CMOS RAM byte at {@code at} (not the clock's view of registers 0-0xD). */
    public synchronized int cmosByte(int at) {
        checkCmosIndex(at);
        return cmos[at] & 0xFF;
    }

    /** Whether the guest masked NMI through bit 7 of port 0x70. */
    public synchronized boolean nmiDisabled() {
        return nmiDisabled;
    }

    /** The RESET pin (MC146818A "RESET"): interrupt enables, square wave and flags clear; the time runs on. */
    @Override
    public synchronized void reset() {
        registerB &= ~(B_PERIODIC_INTERRUPT | B_ALARM_INTERRUPT | B_UPDATE_INTERRUPT | B_SQUARE_WAVE);
        registerC = 0;
        flagsCheckedAt = hostNanos();
        driveIrq();
        reschedule();
    }

    @Override
    public synchronized void close() {
        closed = true;
        cancelTimer();
        registration.close();
    }

    // ---------------------------------------------------------------- registers

    private int read(int reg) {
        switch (reg) {
            case SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY -> {
                int[] f = currentFields();
                return switch (reg) {
                    case SECONDS -> encode(f[F_SECOND]);
                    case MINUTES -> encode(f[F_MINUTE]);
                    case HOURS -> encodeHour(f[F_HOUR]);
                    case DAY_OF_WEEK -> encode(f[F_DAY_OF_WEEK]);
                    case DAY_OF_MONTH -> encode(f[F_DAY]);
                    case MONTH -> encode(f[F_MONTH]);
                    case YEAR -> encode(f[F_YEAR]);
                    default -> encode(f[F_CENTURY]);
                };
            }
            case REGISTER_A -> {
                return registerA | (updateInProgress() ? A_UPDATE_IN_PROGRESS : 0);
            }
            case REGISTER_B -> {
                return registerB;
            }
            case REGISTER_C -> {
                updateFlags();
                int value = registerC;
                registerC = 0;
                driveIrq();
                reschedule();
                return value;
            }
            case REGISTER_D -> {
                return D_VALID_RAM_AND_TIME;
            }
            default -> {
                return cmos[reg] & 0xFF;
            }
        }
    }

    private void write(int reg, int value) {
        switch (reg) {
            case SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY -> writeTime(reg, value);
            case REGISTER_A -> {
                updateFlags();
                boolean wasFrozen = clockStopped();
                boolean wasDividerInReset = dividerInReset();
                registerA = value & ~A_UPDATE_IN_PROGRESS;
                clockTransition(wasFrozen, wasDividerInReset);
                reschedule();
            }
            case REGISTER_B -> {
                updateFlags();
                boolean wasFrozen = clockStopped();
                // Setting SET ends update cycles and clears UIE (MC146818A register B, bit 7).
                registerB = (value & B_SET) != 0 ? value & ~B_UPDATE_INTERRUPT : value;
                clockTransition(wasFrozen, dividerInReset());
                updateIrqFlag();
                reschedule();
            }
            case REGISTER_C, REGISTER_D -> {
                // Read-only.
            }
            default -> cmos[reg] = (byte) value;
        }
    }

    private void writeTime(int reg, int value) {
        int field = switch (reg) {
            case SECONDS -> F_SECOND;
            case MINUTES -> F_MINUTE;
            case HOURS -> F_HOUR;
            case DAY_OF_WEEK -> F_DAY_OF_WEEK;
            case DAY_OF_MONTH -> F_DAY;
            case MONTH -> F_MONTH;
            case YEAR -> F_YEAR;
            default -> F_CENTURY;
        };
        int decoded = reg == HOURS ? decodeHour(value) : decode(value);
        if (frozen != null) {
            frozen[field] = decoded;
            return;
        }
        // A write to a running clock loads that field and the clock runs on from there.
        updateFlags();
        long guest = guestNanos(hostNanos());
        int[] f = fieldsAt(Math.floorDiv(guest, NANOS_PER_SECOND));
        f[field] = decoded;
        long fraction = Math.floorMod(guest, NANOS_PER_SECOND);
        setGuestTime(epochSecondOf(f) * NANOS_PER_SECOND + fraction);
        reschedule();
    }

    private void checkCmosIndex(int at) {
        if (at < 0 || at >= CMOS_SIZE) {
            throw new IllegalArgumentException("CMOS byte " + at + " is outside 0-" + (CMOS_SIZE - 1));
        }
    }

    // ---------------------------------------------------------------- the clock

    private long hostNanos() {
        return baseEpochNanos + (nanoTime.getAsLong() - baseNanoTime);
    }

    private long guestNanos(long host) {
        return host + offsetNanos;
    }

    /** SET held, or the divider chain in reset: no update cycles. */
    private boolean clockStopped() {
        return (registerB & B_SET) != 0 || dividerInReset();
    }

    private boolean dividerInReset() {
        return (registerA & A_DIVIDER_RESET) == A_DIVIDER_RESET;
    }

    /** Freezes or restarts the clock after a write to A or B changed whether it runs. */
    private void clockTransition(boolean wasFrozen, boolean wasDividerInReset) {
        boolean nowFrozen = clockStopped();
        if (!wasFrozen && nowFrozen) {
            frozen = fieldsAt(Math.floorDiv(guestNanos(hostNanos()), NANOS_PER_SECOND));
        } else if (wasFrozen && !nowFrozen) {
            int[] f = frozen;
            frozen = null;
            // Leaving SET, the next update comes a second on; leaving divider reset, half a second.
            long phase = wasDividerInReset ? DIVIDER_RESTART_NANOS : 0;
            setGuestTime(epochSecondOf(f) * NANOS_PER_SECOND + phase);
        }
    }

    private void setGuestTime(long guestNanos) {
        long host = hostNanos();
        offsetNanos = guestNanos - host;
        flagsCheckedAt = host;
    }

    private int[] currentFields() {
        return frozen != null ? frozen.clone() : fieldsAt(Math.floorDiv(guestNanos(hostNanos()), NANOS_PER_SECOND));
    }

    private boolean updateInProgress() {
        if (frozen != null) {
            return false;
        }
        long fraction = Math.floorMod(guestNanos(hostNanos()), NANOS_PER_SECOND);
        return fraction >= NANOS_PER_SECOND - UPDATE_IN_PROGRESS_NANOS;
    }

    private static int[] fieldsAt(long epochSecond) {
        LocalDateTime t = LocalDateTime.ofEpochSecond(epochSecond, 0, ZoneOffset.UTC);
        int[] f = new int[FIELDS];
        f[F_SECOND] = t.getSecond();
        f[F_MINUTE] = t.getMinute();
        f[F_HOUR] = t.getHour();
        f[F_DAY_OF_WEEK] = t.getDayOfWeek().getValue() % 7 + 1; // 1 = Sunday
        f[F_DAY] = t.getDayOfMonth();
        f[F_MONTH] = t.getMonthValue();
        f[F_YEAR] = Math.floorMod(t.getYear(), 100);
        f[F_CENTURY] = Math.floorDiv(t.getYear(), 100);
        return f;
    }

    /** The epoch second of time fields as a guest wrote them; out-of-range values are clamped, never thrown. */
    private static long epochSecondOf(int[] f) {
        int year = clamp(f[F_CENTURY], 0, 99) * 100 + clamp(f[F_YEAR], 0, 99);
        int month = clamp(f[F_MONTH], 1, 12);
        int day = clamp(f[F_DAY], 1, YearMonth.of(year, month).lengthOfMonth());
        LocalDateTime t = LocalDateTime.of(year, month, day,
                clamp(f[F_HOUR], 0, 23), clamp(f[F_MINUTE], 0, 59), clamp(f[F_SECOND], 0, 59));
        return t.toEpochSecond(ZoneOffset.UTC);
    }

    private static int clamp(int v, int min, int max) {
        return Math.max(min, Math.min(max, v));
    }

    private int encode(int v) {
        return (registerB & B_BINARY) != 0 ? v & 0xFF : ((v / 10) << 4 | v % 10) & 0xFF;
    }

    private int decode(int v) {
        return (registerB & B_BINARY) != 0 ? v : (v >> 4) * 10 + (v & 0x0F);
    }

    private int encodeHour(int hour) {
        if ((registerB & B_24_HOUR) != 0) {
            return encode(hour);
        }
        int h12 = hour % 12 == 0 ? 12 : hour % 12;
        return encode(h12) | (hour >= 12 ? HOUR_PM : 0);
    }

    private int decodeHour(int value) {
        if ((registerB & B_24_HOUR) != 0) {
            return decode(value);
        }
        return decode(value & ~HOUR_PM) % 12 + ((value & HOUR_PM) != 0 ? 12 : 0);
    }

    // ---------------------------------------------------------------- register C and the IRQ

    /** Accounts for the periods, updates and alarms between the last check and now. */
    private void updateFlags() {
        long now = hostNanos();
        long then = flagsCheckedAt;
        if (now <= then) {
            return;
        }
        flagsCheckedAt = now;
        if (!dividerInReset() && periodicRate() != 0
                && periodIndex(guestNanos(now)) != periodIndex(guestNanos(then))) {
            registerC |= C_PERIODIC;
        }
        if (frozen == null) {
            long fromSecond = Math.floorDiv(guestNanos(then), NANOS_PER_SECOND);
            long toSecond = Math.floorDiv(guestNanos(now), NANOS_PER_SECOND);
            if (toSecond > fromSecond) {
                registerC |= C_UPDATE;
                for (long s = Math.max(fromSecond + 1, toSecond - ALARM_SCAN_LIMIT + 1); s <= toSecond; s++) {
                    if (alarmMatches(s)) {
                        registerC |= C_ALARM;
                        break;
                    }
                }
            }
        }
        updateIrqFlag();
    }

    private boolean alarmMatches(long epochSecond) {
        long secondOfDay = Math.floorMod(epochSecond, 86_400L);
        return alarmField(SECONDS_ALARM, (int) (secondOfDay % 60))
                && alarmField(MINUTES_ALARM, (int) (secondOfDay / 60 % 60))
                && alarmField(HOURS_ALARM, (int) (secondOfDay / 3600));
    }

    private boolean alarmField(int reg, int value) {
        int alarm = cmos[reg] & 0xFF;
        if ((alarm & ALARM_DONT_CARE) == ALARM_DONT_CARE) {
            return true;
        }
        return (reg == HOURS_ALARM ? decodeHour(alarm) : decode(alarm)) == value;
    }

    private int periodicRate() {
        return registerA & A_RATE;
    }

    /** log2 of the periodic interval in 32.768 kHz ticks: rates 1 and 2 alias 8 and 9. */
    private int periodShift() {
        int rate = periodicRate();
        return rate <= 2 ? rate + 6 : rate - 1;
    }

    private long periodIndex(long guestNanos) {
        int shift = periodShift();
        long second = Math.floorDiv(guestNanos, NANOS_PER_SECOND);
        long ticks = Math.floorMod(guestNanos, NANOS_PER_SECOND) * TIME_BASE_HZ / NANOS_PER_SECOND;
        return second * (TIME_BASE_HZ >> shift) + (ticks >> shift);
    }

    /** Guest time at which period {@code periodIndex} begins. */
    private long periodStart(long periodIndex) {
        int shift = periodShift();
        long perSecond = TIME_BASE_HZ >> shift;
        long second = Math.floorDiv(periodIndex, perSecond);
        long ticks = Math.floorMod(periodIndex, perSecond) << shift;
        return second * NANOS_PER_SECOND + (ticks * NANOS_PER_SECOND + TIME_BASE_HZ - 1) / TIME_BASE_HZ;
    }

    private void updateIrqFlag() {
        int enabled = registerB & (B_PERIODIC_INTERRUPT | B_ALARM_INTERRUPT | B_UPDATE_INTERRUPT);
        // PF, AF and UF sit at the same bit positions in C as PIE, AIE and UIE in B.
        boolean irqf = (registerC & enabled) != 0;
        registerC = irqf ? registerC | C_IRQ : registerC & ~C_IRQ;
        driveIrq();
    }

    private void driveIrq() {
        boolean level = (registerC & C_IRQ) != 0;
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    /** Arms the timer for the next event an enabled interrupt waits for; none while IRQF is already up. */
    private void reschedule() {
        cancelTimer();
        if (closed || (registerC & C_IRQ) != 0) {
            return;
        }
        long now = hostNanos();
        long guest = guestNanos(now);
        long next = Long.MAX_VALUE;
        if ((registerB & B_PERIODIC_INTERRUPT) != 0 && periodicRate() != 0 && !dividerInReset()) {
            next = periodStart(periodIndex(guest) + 1) - guest;
        }
        if ((registerB & (B_ALARM_INTERRUPT | B_UPDATE_INTERRUPT)) != 0 && frozen == null) {
            long toNextSecond = NANOS_PER_SECOND - Math.floorMod(guest, NANOS_PER_SECOND);
            next = Math.min(next, toNextSecond);
        }
        if (next != Long.MAX_VALUE) {
            try {
                timer = executor.schedule(this::timerExpired, Math.max(1, next), TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException shuttingDown) {
                // The VM is being torn down; register C still reports events when read.
                timer = null;
            }
        }
    }

    private synchronized void timerExpired() {
        if (closed) {
            return;
        }
        timer = null;
        updateFlags();
        reschedule();
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    // ---------------------------------------------------------------- save / restore

    @Override
    public synchronized void saveState(StateWriter out) {
        updateFlags();
        StateWriter s = out.section(STATE_SECTION, STATE_VERSION);
        s.putBytes("cmos", cmos);
        s.putInt("index", index);
        s.putBoolean("nmiDisabled", nmiDisabled);
        s.putInt("registerA", registerA);
        s.putInt("registerB", registerB);
        s.putInt("registerC", registerC);
        s.putLong("offsetNanos", offsetNanos);
        s.putBoolean("frozen", frozen != null);
        long[] f = new long[FIELDS];
        if (frozen != null) {
            for (int i = 0; i < FIELDS; i++) {
                f[i] = frozen[i];
            }
        }
        s.putLongs("frozenTime", f);
    }

    @Override
    public synchronized void restoreState(StateReader in) throws StateException {
        StateReader s = in.section(STATE_SECTION).expect(STATE_SECTION, 1, STATE_VERSION);
        byte[] savedCmos = s.getBytes("cmos", CMOS_SIZE);
        int savedIndex = s.getInt("index");
        boolean savedNmi = s.getBoolean("nmiDisabled");
        int savedA = s.getInt("registerA");
        int savedB = s.getInt("registerB");
        int savedC = s.getInt("registerC");
        long savedOffset = s.getLong("offsetNanos");
        boolean savedFrozen = s.getBoolean("frozen");
        long[] savedFields = s.getLongs("frozenTime");
        boolean registersSayFrozen = (savedB & B_SET) != 0 || (savedA & A_DIVIDER_RESET) == A_DIVIDER_RESET;
        if (registersSayFrozen != savedFrozen) {
            throw new StateException("state of rtc is inconsistent: registers A/B say the clock is "
                    + (registersSayFrozen ? "stopped" : "running") + " but no frozen time matches");
        }
        if (savedFields.length != FIELDS) {
            throw new StateException("state of rtc has " + savedFields.length + " frozen time fields, expected " + FIELDS);
        }
        System.arraycopy(savedCmos, 0, cmos, 0, CMOS_SIZE);
        index = savedIndex & 0x7F;
        nmiDisabled = savedNmi;
        registerA = savedA & ~A_UPDATE_IN_PROGRESS & 0xFF;
        registerB = savedB & 0xFF;
        registerC = savedC & 0xF0;
        offsetNanos = savedOffset;
        if (savedFrozen) {
            frozen = new int[FIELDS];
            for (int i = 0; i < FIELDS; i++) {
                frozen[i] = (int) savedFields[i];
            }
        } else {
            frozen = null;
        }
        flagsCheckedAt = hostNanos();
        driveIrq();
        reschedule();
    }

    /** Port 0x70 (index, write-only) and 0x71 (data); a word access reaches both, as on the ISA bus. */
    private final class Ports implements IoHandler {

        @Override
        public long read(long offset, int size) {
            synchronized (CmosRtc.this) {
                long value = 0;
                for (int i = 0; i < size; i++) {
                    long port = offset + i;
                    int b = port == 1 ? CmosRtc.this.read(index) : 0xFF;
                    value |= (long) b << (8 * i);
                }
                return value;
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (CmosRtc.this) {
                for (int i = 0; i < size; i++) {
                    long port = offset + i;
                    int b = (int) (value >>> (8 * i)) & 0xFF;
                    if (port == 0) {
                        index = b & 0x7F;
                        nmiDisabled = (b & NMI_DISABLE) != 0;
                    } else if (port == 1) {
                        CmosRtc.this.write(index, b);
                    }
                }
            }
        }
    }
}
