package org.vireo.x86.irq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.Machine;
import org.vireo.api.bus.IoBus;
import org.vireo.api.device.Device;
import org.vireo.api.irq.MsiMessage;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;
import org.vireo.core.BasicMachine;
import org.vireo.core.bus.AddressSpace;
import org.vireo.core.memory.MappedGuestMemory;
import org.vireo.x86.boot.PcMemoryMap;

/**
 * The PC's interrupt controllers driven the way Linux drives them, through the real port and
 * MMIO buses, with a deterministic clock so timers fire exactly when the data sheets say.
 */
class InterruptControllerTest {

    private final AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "test");
    private final AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "test");
    private final GuestMemory memory = MappedGuestMemory.flat(1 << 20);
    private final VirtualClock clock = VirtualClock.deterministic();
    private final PcInterruptController irqs;
    private final LocalApic apic;
    private final AtomicInteger wakeups = new AtomicInteger();

    InterruptControllerTest() throws Exception {
        Machine machine = new BasicMachine("test", memory, pio, mmio, (reason, detail) -> { });
        irqs = new PcInterruptController(machine, clock, 1);
        apic = irqs.lapic(0);
        apic.setInterruptListener(wakeups::incrementAndGet);
    }

    @AfterEach
    void close() {
        irqs.close();
        memory.close();
    }

    // ---- helpers ----

    private void out(int port, int value) {
        pio.write(port, 1, value);
    }

    private int in(int port) {
        return (int) pio.read(port, 1);
    }

    private void ioapicWrite(int reg, int value) {
        mmio.write(PcMemoryMap.IOAPIC_BASE, 4, reg);
        mmio.write(PcMemoryMap.IOAPIC_BASE + 0x10, 4, value & 0xffffffffL);
    }

    private int ioapicRead(int reg) {
        mmio.write(PcMemoryMap.IOAPIC_BASE, 4, reg);
        return (int) mmio.read(PcMemoryMap.IOAPIC_BASE + 0x10, 4);
    }

    private void enableApic() {
        apic.write(LocalApic.SVR, 4, 0x1ff);
    }

    /** Linux's init_8259A: ICW1-4 for both chips, vectors 0x30 and 0x38, all masked but the cascade. */
    private void initPic(int masterBase, int slaveBase) {
        out(0x21, 0xff);
        out(0xa1, 0xff);
        out(0x20, 0x11);
        out(0x21, masterBase);
        out(0x21, 0x04);
        out(0x21, 0x01);
        out(0xa0, 0x11);
        out(0xa1, slaveBase);
        out(0xa1, 0x02);
        out(0xa1, 0x01);
        out(0x21, 0xfb);
        out(0xa1, 0xff);
    }

    private void advance(long nanos) {
        clock.advance(nanos);
        clock.runDue();
    }

    // ---- 8259 pair ----

    @Test
    void picDeliversThroughTheApicDisabledVirtualWire() {
        apic.setBaseMsr(apic.baseMsr() & ~LocalApic.BASE_ENABLE);
        initPic(0x30, 0x38);
        out(0x21, 0xfb & ~0x10); // unmask IRQ 4
        irqs.line(4).pulse();
        assertEquals(0x34, apic.pendingInterrupt());
        assertEquals(0x34, apic.acknowledgeInterrupt());
        assertEquals(-1, apic.pendingInterrupt(), "IRQ 4 is in service: nothing of equal or lower priority");
        out(0x20, 0x0b); // OCW3: read ISR
        assertEquals(0x10, in(0x20));
        out(0x20, 0x20); // non-specific EOI
        assertEquals(0, in(0x20));
    }

    @Test
    void picCascadeMasksAndLevelMode() {
        apic.setBaseMsr(apic.baseMsr() & ~LocalApic.BASE_ENABLE);
        initPic(0x20, 0x28);
        irqs.line(12).pulse();
        assertEquals(-1, apic.pendingInterrupt(), "IRQ 12 is masked on the slave");
        out(0xa1, 0xef);
        assertEquals(0x2c, apic.pendingInterrupt(), "edge latched in IRR while masked");
        assertEquals(0x2c, apic.acknowledgeInterrupt());
        out(0xa0, 0x20);
        out(0x20, 0x20);

        // ELCR makes IRQ 10 level-triggered: it stays requested while the line is high.
        out(0x4d1, 0x04);
        assertEquals(0x04, in(0x4d1));
        out(0xa1, 0xfb & 0xef);
        irqs.line(10).set(true);
        assertEquals(0x2a, apic.acknowledgeInterrupt());
        out(0xa0, 0x20);
        out(0x20, 0x20);
        assertEquals(0x2a, apic.pendingInterrupt(), "still asserted: requested again after EOI");
        irqs.line(10).set(false);
        // The master latched the cascade's edge; with the slave's request gone an INTA gets the
        // slave's spurious IRQ 15 (8259A data sheet: "default IR7"), and no slave ISR bit.
        assertEquals(0x2f, apic.acknowledgeInterrupt());
        out(0xa0, 0x0b);
        assertEquals(0, in(0xa0));
        out(0x4d0, 0xff);
        assertEquals(0xf8, in(0x4d0), "IRQ 0-2 cannot be level-triggered");
    }

    @Test
    void spuriousInterruptWhenTheRequestWentAway() {
        apic.setBaseMsr(apic.baseMsr() & ~LocalApic.BASE_ENABLE);
        initPic(0x30, 0x38);
        out(0x4d0, 0x08);
        out(0x21, 0xf3);
        irqs.line(3).set(true);
        assertEquals(0x33, apic.pendingInterrupt());
        irqs.line(3).set(false);
        assertEquals(0x37, apic.acknowledgeInterrupt(), "IRQ 7: the spurious vector");
        out(0x20, 0x0b);
        assertEquals(0, in(0x20), "a spurious IRQ 7 sets no ISR bit");
    }

    // ---- IOAPIC ----

    @Test
    void ioapicIdentifiesItselfAndRoutesEdgePins() {
        enableApic();
        assertEquals(0x00170011, ioapicRead(0x01));
        assertEquals(1 << 24, ioapicRead(0x00), "the IOAPIC's ID follows the CPUs' in the MP table");
        ioapicWrite(0x10 + 2 * 4, 0x41);   // pin 4: vector 0x41, fixed, physical, edge, unmasked
        ioapicWrite(0x11 + 2 * 4, 0);      // destination APIC 0
        irqs.line(4).pulse();
        assertEquals(0x41, apic.pendingInterrupt());
        assertEquals(0x41, apic.acknowledgeInterrupt());
        apic.write(LocalApic.EOI, 4, 0);
        ioapicWrite(0x10 + 2 * 5, 0x10042); // pin 5 masked
        irqs.line(5).pulse();
        assertEquals(-1, apic.pendingInterrupt(), "a masked edge is lost");
        assertTrue(wakeups.get() > 0, "the CPU was told about the interrupt");
    }

    @Test
    void levelPinRemoteIrrAndEoiRedelivery() {
        enableApic();
        ioapicWrite(0x10 + 2 * 16, 0xa051); // pin 16: vector 0x51, level, active low
        irqs.line(16).set(true);
        assertEquals(0x51, apic.acknowledgeInterrupt());
        assertTrue((ioapicRead(0x10 + 2 * 16) & (1 << 14)) != 0, "remote IRR set until the EOI");
        assertEquals(-1, apic.pendingInterrupt());
        apic.write(LocalApic.EOI, 4, 0);
        assertEquals(0x51, apic.pendingInterrupt(), "still asserted after EOI: delivered again");
        apic.acknowledgeInterrupt();
        irqs.line(16).set(false);
        apic.write(LocalApic.EOI, 4, 0);
        assertEquals(0, ioapicRead(0x10 + 2 * 16) & (1 << 14));
        assertEquals(-1, apic.pendingInterrupt());
    }

    // ---- local APIC ----

    @Test
    void taskPriorityAndNestedServiceGateDelivery() {
        enableApic();
        irqs.signalMsi(new MsiMessage(0xfee00000L, 0x45));
        irqs.signalMsi(new MsiMessage(0xfee00000L, 0x92));
        apic.setTpr(0x90);
        assertEquals(-1, apic.pendingInterrupt(), "class 9 is not above TPR 0x90");
        apic.setTpr(0x30);
        assertEquals(0x92, apic.acknowledgeInterrupt());
        assertEquals(0x90, apic.read(LocalApic.PPR, 4), "PPR follows the class in service");
        assertEquals(-1, apic.pendingInterrupt(), "0x45 waits for 0x92's EOI");
        apic.write(LocalApic.EOI, 4, 0);
        assertEquals(0x45, apic.acknowledgeInterrupt());
        assertEquals(0x40, apic.read(LocalApic.PPR, 4));
        apic.write(LocalApic.EOI, 4, 0);
        irqs.signalMsi(new MsiMessage(0xfee00000L, 0x35));
        assertEquals(-1, apic.pendingInterrupt(), "class 3 is not above TPR 0x30");
    }

    @Test
    void registersReadBackAndBadWritesAreHarmless() {
        enableApic();
        assertEquals(0x50014, apic.read(LocalApic.VERSION, 4));
        assertEquals(0, apic.read(LocalApic.ID, 4));
        apic.write(LocalApic.LDR, 4, 0x01000000L);
        assertEquals(0x01000000L, apic.read(LocalApic.LDR, 4));
        apic.write(LocalApic.LVT_LINT0, 4, 0x700);
        assertEquals(0x700, apic.read(LocalApic.LVT_LINT0, 4));
        apic.write(0x123, 4, 1);      // unaligned
        apic.write(LocalApic.ID, 2, 1); // not 32 bits
        apic.write(0xff0, 4, 1);      // reserved
        assertEquals(0, apic.read(0xff0, 4));
        // An LVT vector below 16 is illegal: the timer sets ESR instead of delivering.
        apic.write(LocalApic.LVT_TIMER, 4, 0x05);
        apic.write(LocalApic.TIMER_DIVIDE, 4, 0xb);
        apic.write(LocalApic.TIMER_INITIAL, 4, 10);
        advance(1000);
        apic.write(LocalApic.ESR, 4, 0);
        assertEquals(1 << 6, apic.read(LocalApic.ESR, 4));
        assertEquals(-1, apic.pendingInterrupt());
    }

    @Test
    void timerOneShotAndPeriodic() {
        enableApic();
        apic.write(LocalApic.TIMER_DIVIDE, 4, 0x3);   // divide by 16: 640 ns a tick
        apic.write(LocalApic.LVT_TIMER, 4, 0xec);     // one-shot, vector 0xec
        apic.write(LocalApic.TIMER_INITIAL, 4, 1000);
        advance(640 * 400);
        assertEquals(600, apic.read(LocalApic.TIMER_CURRENT, 4));
        assertEquals(-1, apic.pendingInterrupt());
        advance(640 * 600);
        assertEquals(0, apic.read(LocalApic.TIMER_CURRENT, 4));
        assertEquals(0xec, apic.acknowledgeInterrupt());
        apic.write(LocalApic.EOI, 4, 0);
        advance(640 * 5000);
        assertEquals(-1, apic.pendingInterrupt(), "one-shot fires once");

        apic.write(LocalApic.LVT_TIMER, 4, 0x200ef);  // periodic, vector 0xef
        apic.write(LocalApic.TIMER_INITIAL, 4, 100);
        int taken = 0;
        for (int period = 0; period < 5; period++) {
            advance(640 * 100);
            if (apic.pendingInterrupt() == 0xef) {
                apic.acknowledgeInterrupt();
                apic.write(LocalApic.EOI, 4, 0);
                taken++;
            }
        }
        assertEquals(5, taken);
        apic.write(LocalApic.TIMER_INITIAL, 4, 0);
        advance(640 * 1000);
        assertEquals(-1, apic.pendingInterrupt(), "an initial count of 0 stops the timer");
    }

    @Test
    void selfIpiAndMsiDestinations() {
        enableApic();
        apic.write(LocalApic.ICR_LOW, 4, (1 << 18) | 0x61); // shorthand self, fixed, vector 0x61
        assertEquals(0x61, apic.acknowledgeInterrupt());
        apic.write(LocalApic.EOI, 4, 0);
        irqs.signalMsi(new MsiMessage(0xfee05000L, 0x62)); // APIC 5 does not exist
        assertEquals(-1, apic.pendingInterrupt());
        apic.write(LocalApic.ICR_LOW, 4, (1 << 18) | 0x400); // self NMI
        assertTrue(apic.takeNmi());
        assertFalse(apic.takeNmi());
    }

    // ---- PIT ----

    @Test
    void pitRateGeneratorRaisesIrq0Periodically() {
        enableApic();
        ioapicWrite(0x10, 0x30); // pin 0: vector 0x30, edge
        out(0x43, 0x34);         // channel 0, lobyte/hibyte, mode 2
        out(0x40, 4773 & 0xff);  // HZ=250: 1193182 / 250
        out(0x40, 4773 >> 8);
        int ticks = 0;
        for (int ms = 0; ms < 41; ms++) {
            advance(1_000_000);
            while (apic.pendingInterrupt() == 0x30) {
                apic.acknowledgeInterrupt();
                apic.write(LocalApic.EOI, 4, 0);
                ticks++;
            }
        }
        assertEquals(10, ticks, "250 Hz (a period of 4.0002 ms) for 41 ms");
        out(0x43, 0x00); // latch channel 0
        int count = in(0x40) | in(0x40) << 8;
        assertTrue(count >= 1 && count <= 4773, "count " + count);
    }

    @Test
    void pitModeZeroCountsDownAndLatchesAndReadsBack() {
        out(0x43, 0x30);   // channel 0, lobyte/hibyte, mode 0
        out(0x40, 0x00);
        out(0x40, 0x10);   // 4096
        advance(Pit8254.nanosFor(1000));
        out(0x43, 0x00);
        int latched = in(0x40) | in(0x40) << 8;
        assertEquals(3096, latched);
        advance(Pit8254.nanosFor(100));
        int live = in(0x40) | in(0x40) << 8;
        assertEquals(2996, live, "once the latch is read, reads follow the counter again");
    }

    @Test
    void pitChannel2GatedThroughPort61() {
        out(0x61, 0x00);
        out(0x43, 0xb0);   // channel 2, lobyte/hibyte, mode 0
        out(0x42, 100);
        out(0x42, 0);
        advance(Pit8254.nanosFor(500));
        assertEquals(0, in(0x61) & 0x20, "gate low: channel 2 does not count");
        out(0x61, 0x01);
        advance(Pit8254.nanosFor(99));
        assertEquals(0, in(0x61) & 0x20);
        advance(Pit8254.nanosFor(2));
        assertEquals(0x20, in(0x61) & 0x20, "output high at terminal count");
        out(0x43, 0xe8); // read-back status of channel 2
        assertEquals(0x80 | 0x30, in(0x42), "status: output high, lobyte/hibyte, mode 0, binary");
    }

    // ---- clock, snapshots, errors ----

    @Test
    void hostClockStandsStillWhilePaused() throws Exception {
        VirtualClock c = VirtualClock.hostTime();
        c.pause();
        long t = c.nanos();
        Thread.sleep(20);
        assertEquals(t, c.nanos());
        c.resume();
        Thread.sleep(5);
        assertTrue(c.nanos() > t);
        assertThrows(IllegalStateException.class, () -> c.advance(1));
    }

    @Test
    void timersRunInDeadlineOrderAndWakeTheCpu() {
        StringBuilder order = new StringBuilder();
        AtomicInteger woken = new AtomicInteger();
        clock.setWakeup(woken::incrementAndGet);
        VirtualClock.Timer b = clock.timer("b", () -> order.append('b'));
        VirtualClock.Timer a = clock.timer("a", () -> order.append('a'));
        b.arm(200);
        a.arm(100);
        assertEquals(2, woken.get(), "each arm earlier than the next deadline wakes the CPU");
        assertEquals(100, clock.nextDeadline());
        advance(150);
        assertEquals("a", order.toString());
        advance(100);
        assertEquals("ab", order.toString());
        assertEquals(Long.MAX_VALUE, clock.nextDeadline());
    }

    @Test
    void snapshotRoundTripKeepsARunningTimer() throws Exception {
        enableApic();
        apic.write(LocalApic.TIMER_DIVIDE, 4, 0xb);   // divide by 1: 40 ns a tick
        apic.write(LocalApic.LVT_TIMER, 4, 0x200e0);
        apic.write(LocalApic.TIMER_INITIAL, 4, 1000);
        ioapicWrite(0x10 + 6, 0x48);
        advance(40 * 250);
        StateWriter w = new StateWriter("vm", 1);
        for (Device d : irqs.devices()) {
            d.saveState(w);
        }
        byte[] saved = w.toBytes();

        for (Device d : irqs.devices()) {
            d.reset();
        }
        assertEquals(0, apic.read(LocalApic.TIMER_INITIAL, 4));
        StateReader r = StateReader.parse(saved);
        for (Device d : irqs.devices()) {
            d.restoreState(r);
        }
        assertEquals(750, apic.read(LocalApic.TIMER_CURRENT, 4));
        assertEquals(0x48, ioapicRead(0x10 + 6));
        advance(40 * 750);
        assertEquals(0xe0, apic.pendingInterrupt(), "the restored timer fires on time");
    }

    @Test
    void badGsiIsAClearError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> irqs.line(24));
        assertTrue(e.getMessage().contains("GSI 24"), e.getMessage());
    }
}
