package org.vireo.x86.dev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/** The MC146818 RTC and CMOS RAM with a fixed wall clock and a test-driven nanosecond counter. */
class CmosRtcTest {

    /** A Saturday afternoon, a quarter second past 13:45:56 UTC. */
    private static final Instant START = Instant.parse("2024-03-09T13:45:56.250Z");
    private static final long SECOND = 1_000_000_000L;

    private MapIoBus bus;
    private RecordingIrqLine irq;
    private AtomicLong nanos;
    private ManualScheduler scheduler;
    private CmosRtc rtc;

    @BeforeEach
    void createRtc() {
        bus = MapIoBus.ports();
        irq = new RecordingIrqLine(8);
        nanos = new AtomicLong(123_456_789L);
        scheduler = new ManualScheduler();
        rtc = new CmosRtc(bus, irq, Clock.fixed(START, ZoneOffset.UTC), nanos::get, scheduler);
    }

    private int cmos(int index) {
        bus.outb(CmosRtc.INDEX_PORT, index);
        return bus.inb(CmosRtc.DATA_PORT);
    }

    private void cmos(int index, int value) {
        bus.outb(CmosRtc.INDEX_PORT, index);
        bus.outb(CmosRtc.DATA_PORT, value);
    }

    private void advance(long nanoseconds) {
        nanos.addAndGet(nanoseconds);
    }

    @Test
    void readsTheTimeInBcdByDefault() {
        assertEquals(0x56, cmos(0x00));
        assertEquals(0x45, cmos(0x02));
        assertEquals(0x13, cmos(0x04));
        assertEquals(0x07, cmos(0x06), "Saturday; Sunday is 1");
        assertEquals(0x09, cmos(0x07));
        assertEquals(0x03, cmos(0x08));
        assertEquals(0x24, cmos(0x09));
        assertEquals(0x20, cmos(0x32), "century");
        assertEquals(0x26, cmos(0x0A) & 0x7F, "32.768 kHz base, 1024 Hz rate");
        assertEquals(0x02, cmos(0x0B), "24-hour BCD");
        assertEquals(0x80, cmos(0x0D), "valid RAM and time");
    }

    @Test
    void readsTheTimeInBinaryWhenDmIsSet() {
        cmos(0x0B, 0x06);
        assertEquals(56, cmos(0x00));
        assertEquals(45, cmos(0x02));
        assertEquals(13, cmos(0x04));
        assertEquals(9, cmos(0x07));
        assertEquals(3, cmos(0x08));
        assertEquals(24, cmos(0x09));
        assertEquals(20, cmos(0x32));
    }

    @Test
    void twelveHourModeMarksPm() {
        cmos(0x0B, 0x00);
        assertEquals(0x81, cmos(0x04), "1 PM in BCD");
        cmos(0x0B, 0x04);
        assertEquals(0x81, cmos(0x04), "1 PM in binary");
        advance(Duration.ofHours(10).plusMinutes(15).toNanos()); // 00:00:56 next day
        assertEquals(0x0C, cmos(0x04), "midnight is 12 AM");
        assertEquals(0x01, cmos(0x06), "Sunday");
    }

    @Test
    void twelveHourWritesAreDecoded() {
        cmos(0x0B, 0x80); // SET, 12-hour BCD
        cmos(0x04, 0x12);
        assertEquals(0x12, cmos(0x04), "12 AM");
        cmos(0x0B, 0x82);
        assertEquals(0x00, cmos(0x04), "is 00 in 24-hour form");
        cmos(0x0B, 0x80);
        cmos(0x04, 0x92);
        cmos(0x0B, 0x82);
        assertEquals(0x12, cmos(0x04), "12 PM is noon");
        cmos(0x0B, 0x80);
        cmos(0x04, 0x87);
        cmos(0x0B, 0x02);
        assertEquals(0x19, cmos(0x04), "7 PM runs on as 19:00");
    }

    @Test
    void garbageTimeWrittenByTheGuestIsClampedNotThrown() {
        cmos(0x0B, 0x82);
        cmos(0x08, 0x13); // month 13
        cmos(0x07, 0x45); // day 45
        cmos(0x00, 0xFF);
        cmos(0x0B, 0x02);
        assertEquals(0x12, cmos(0x08));
        assertEquals(0x31, cmos(0x07));
        assertEquals(0x59, cmos(0x00));
    }

    @Test
    void theClockRunsWithTheNanosecondCounter() {
        advance(3 * SECOND + 750_000_000L);
        assertEquals(0x00, cmos(0x00));
        assertEquals(0x46, cmos(0x02));
        advance(Duration.ofDays(366).toNanos());
        assertEquals(0x25, cmos(0x09));
        assertEquals(0x10, cmos(0x07), "2025-03-10 after a leap year's 366 days");
        assertEquals(0x03, cmos(0x08));
    }

    @Test
    void updateInProgressIsSetFor244MicrosecondsBeforeEachSecond() {
        assertEquals(0, cmos(0x0A) & 0x80);
        advance(749_700_000L); // 0.999700 s: 56 us before the window
        assertEquals(0, cmos(0x0A) & 0x80);
        advance(100_000L); // 0.999800 s: inside the last 244 us
        assertEquals(0x80, cmos(0x0A) & 0x80);
        assertEquals(0x56, cmos(0x00), "the update has not happened yet");
        advance(200_000L); // 1.000000 s: updated
        assertEquals(0, cmos(0x0A) & 0x80);
        assertEquals(0x57, cmos(0x00));
    }

    @Test
    void timeWrittenInSetModeBecomesAnOffsetFromTheHostClock() {
        cmos(0x0B, 0x82); // SET
        advance(5 * SECOND);
        assertEquals(0x56, cmos(0x00), "frozen while SET is held");
        assertEquals(0, cmos(0x0A) & 0x80, "no UIP while frozen");
        cmos(0x00, 0x05);
        cmos(0x02, 0x04);
        cmos(0x04, 0x03);
        cmos(0x07, 0x02);
        cmos(0x08, 0x01);
        cmos(0x09, 0x30);
        advance(7 * SECOND);
        assertEquals(0x05, cmos(0x00));
        cmos(0x0B, 0x02); // release SET
        assertEquals(0x05, cmos(0x00));
        assertEquals(0x04, cmos(0x02));
        assertEquals(0x03, cmos(0x04));
        assertEquals(0x30, cmos(0x09));
        assertEquals(0x04, cmos(0x06), "2030-01-02 is a Wednesday");
        advance(SECOND);
        assertEquals(0x06, cmos(0x00));
        advance(Duration.ofHours(1).toNanos());
        assertEquals(0x04, cmos(0x04));
    }

    @Test
    void linuxSetTimeSequenceWithDividerResetStartsHalfASecondLater() {
        // mc146818_set_time: SET, divider reset, write the time, clear SET, restore the divider.
        cmos(0x0B, 0x82);
        cmos(0x0A, 0x70 | 0x06);
        cmos(0x00, 0x30);
        cmos(0x0B, 0x02);
        advance(3 * SECOND);
        assertEquals(0x30, cmos(0x00), "still frozen: the divider is in reset");
        cmos(0x0A, 0x26);
        advance(499_000_000L);
        assertEquals(0x30, cmos(0x00));
        advance(1_000_000L);
        assertEquals(0x31, cmos(0x00), "first update half a second after the divider restarts");
    }

    @Test
    void writingAFieldOfTheRunningClockMovesIt() {
        cmos(0x02, 0x10);
        assertEquals(0x10, cmos(0x02));
        assertEquals(0x56, cmos(0x00));
        advance(SECOND);
        assertEquals(0x57, cmos(0x00));
        assertEquals(0x10, cmos(0x02));
    }

    @Test
    void registerCReportsElapsedEventsAndClearsOnRead() {
        assertEquals(0x00, cmos(0x0C));
        advance(SECOND);
        assertEquals(0x50, cmos(0x0C), "periodic and update-ended flags, no IRQF: nothing enabled");
        assertEquals(0x00, cmos(0x0C), "cleared by the read");
        advance(100_000L);
        assertEquals(0x00, cmos(0x0C) & 0x10, "no second passed");
        assertFalse(irq.level());
    }

    @Test
    void setClearsUpdateInterruptEnable() {
        cmos(0x0B, 0x92);
        assertEquals(0x82, cmos(0x0B));
    }

    @Test
    void periodicInterruptFiresAtTheProgrammedRate() {
        cmos(0x0B, 0x42); // PIE
        assertEquals(1, scheduler.pending().size());
        long delay = scheduler.pending().get(0).delayNanos();
        assertTrue(delay > 0 && delay <= 976_563L, "within one 1024 Hz period: " + delay);
        advance(delay);
        scheduler.runPending();
        assertTrue(irq.level());
        assertEquals(0, scheduler.pending().size(), "no timer while IRQF waits for the guest");
        assertEquals(0xC0, cmos(0x0C));
        assertFalse(irq.level());
        assertEquals(1, scheduler.pending().size(), "rearmed by the read of C");
        cmos(0x0A, 0x2F); // 2 Hz
        long slow = scheduler.pending().get(0).delayNanos();
        assertTrue(slow > 976_563L && slow <= 500_000_000L, "2 Hz period: " + slow);
    }

    @Test
    void updateInterruptFiresAtTheNextSecond() {
        cmos(0x0B, 0x12); // UIE
        assertEquals(750_000_000L, scheduler.pending().get(0).delayNanos());
        advance(750_000_000L);
        scheduler.runPending();
        assertTrue(irq.level());
        assertEquals(0xD0, cmos(0x0C), "IRQF and UF (and PF, which counts without PIE)");
    }

    @Test
    void alarmInterruptFiresWhenTheTimeMatches() {
        cmos(0x01, 0x00);
        cmos(0x03, 0x46);
        cmos(0x05, 0x13);
        cmos(0x0B, 0x22); // AIE
        advance(750_000_000L);
        scheduler.runPending();
        assertFalse(irq.level(), "13:45:57 is not the alarm");
        advance(3 * SECOND);
        scheduler.runPending();
        assertTrue(irq.level(), "13:46:00");
        assertEquals(0xA0, cmos(0x0C) & 0xA0);
    }

    @Test
    void dontCareAlarmMatchesEverySecond() {
        cmos(0x01, 0xFF);
        cmos(0x03, 0xC0);
        cmos(0x05, 0xC1);
        advance(SECOND);
        assertEquals(0x20, cmos(0x0C) & 0x20);
    }

    @Test
    void enablingAnInterruptWhoseFlagIsSetRaisesIrqAtOnce() {
        advance(SECOND);
        cmos(0x0B, 0x12);
        assertTrue(irq.level());
        assertEquals(0x90, cmos(0x0C) & 0x90);
    }

    @Test
    void disablingInterruptsCancelsTheTimer() {
        cmos(0x0B, 0x62);
        assertEquals(1, scheduler.pending().size());
        cmos(0x0B, 0x02);
        assertEquals(0, scheduler.pending().size());
        cmos(0x0B, 0x42);
        rtc.close();
        assertEquals(0, scheduler.pending().size());
        assertEquals(0, bus.size());
    }

    @Test
    void periodicInterruptArrivesOnARealExecutor() throws InterruptedException {
        ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor();
        try {
            MapIoBus realBus = MapIoBus.ports();
            RecordingIrqLine line = new RecordingIrqLine(8);
            CmosRtc real = new CmosRtc(realBus, line, Clock.systemUTC(), System::nanoTime, executor);
            realBus.outb(0x70, 0x0B);
            realBus.outb(0x71, 0x42);
            assertTrue(line.awaitHigh(2000), "a 1024 Hz interrupt within two seconds");
            realBus.outb(0x70, 0x0C);
            assertEquals(0xC0, realBus.inb(0x71) & 0xC0);
            real.close();
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void cmosRamIsPlainStorageAndIndexKeepsTheNmiMask() {
        cmos(0x10, 0x44);
        cmos(0x7F, 0x99);
        assertEquals(0x44, cmos(0x10));
        assertEquals(0x99, cmos(0x7F));
        rtc.setCmosByte(0x34, 0x12);
        assertEquals(0x12, cmos(0x34));
        assertEquals(0x44, rtc.cmosByte(0x10));
        assertFalse(rtc.nmiDisabled());
        bus.outb(0x70, 0x80 | 0x10);
        assertTrue(rtc.nmiDisabled());
        assertEquals(0x44, bus.inb(0x71), "bit 7 is not part of the index");
        assertEquals(0xFF, bus.inb(0x70), "the index port is write-only");
    }

    @Test
    void saveAndRestoreKeepRamRegistersAndTheGuestsOffset() throws StateException {
        cmos(0x0B, 0x82);
        cmos(0x04, 0x07); // guest sets 07:45:56
        cmos(0x0B, 0x06 | 0x40); // binary, PIE, clock running again
        cmos(0x0A, 0x2A);
        cmos(0x40, 0xAB);
        bus.outb(0x70, 0x80 | 0x04); // NMI masked, index at hours

        StateWriter out = new StateWriter("rtc", 1);
        rtc.saveState(out);

        // The restoring host is one hour later.
        MapIoBus bus2 = MapIoBus.ports();
        ManualScheduler scheduler2 = new ManualScheduler();
        CmosRtc restored = new CmosRtc(bus2, new RecordingIrqLine(8),
                Clock.fixed(START.plus(Duration.ofHours(1)), ZoneOffset.UTC), () -> 5L, scheduler2);
        restored.restoreState(StateReader.parse(out.toBytes()));

        assertTrue(restored.nmiDisabled());
        assertEquals(8, bus2.inb(0x71), "index kept; the guest's clock went on with the host: 08:45");
        bus2.outb(0x70, 0x0B);
        assertEquals(0x46, bus2.inb(0x71));
        bus2.outb(0x70, 0x0A);
        assertEquals(0x2A, bus2.inb(0x71));
        bus2.outb(0x70, 0x40);
        assertEquals(0xAB, bus2.inb(0x71));
        assertEquals(1, scheduler2.pending().size(), "the periodic timer is armed again");
    }

    @Test
    void saveAndRestoreWhileFrozenKeepsTheFrozenTime() throws StateException {
        cmos(0x0B, 0x82);
        cmos(0x00, 0x11);
        StateWriter out = new StateWriter("rtc", 1);
        rtc.saveState(out);
        MapIoBus bus2 = MapIoBus.ports();
        CmosRtc restored = new CmosRtc(bus2, new RecordingIrqLine(8),
                Clock.fixed(START.plusSeconds(100), ZoneOffset.UTC), nanos::get, new ManualScheduler());
        restored.restoreState(StateReader.parse(out.toBytes()));
        bus2.outb(0x70, 0x00);
        assertEquals(0x11, bus2.inb(0x71), "frozen time, whatever the new host's clock says");
        bus2.outb(0x70, 0x0B);
        bus2.outb(0x71, 0x02);
        nanos.addAndGet(SECOND);
        bus2.outb(0x70, 0x00);
        assertEquals(0x12, bus2.inb(0x71));
    }

    @Test
    void restoreRefusesACorruptState() {
        StateWriter out = new StateWriter("rtc", 1);
        out.section("cmos-rtc", 1).putBytes("cmos", new byte[5]);
        assertThrows(StateException.class, () -> rtc.restoreState(StateReader.parse(out.toBytes())));
        assertEquals(0x56, cmos(0x00), "still running as before");
    }
}
