package org.vireo.core.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.vireo.api.cpu.Segment;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.state.StateException;
import org.vireo.api.state.StateReader;
import org.vireo.api.state.StateWriter;

/** The SPI's state encoding, as every device and backend uses it. */
class StateRoundTripTest {

    @Test
    void everyFieldTypeSurvivesARoundTrip() throws Exception {
        StateWriter w = new StateWriter("com1", 3);
        w.putBoolean("loop", true).putInt("ier", 0x0f).putLong("clock", -5L).putBytes("fifo", new byte[] {1, 2, 3})
                .putLongs("regs", new long[] {7, 8}).putString("label", "ttyS0 ü");
        w.section("inner", 2).putInt("x", 42);
        StateReader r = StateReader.parse(w.toBytes()).expect("com1", 1, 3);
        assertEquals(3, r.version());
        assertTrue(r.getBoolean("loop"));
        assertEquals(0x0f, r.getInt("ier"));
        assertEquals(-5L, r.getLong("clock"));
        assertArrayEquals(new byte[] {1, 2, 3}, r.getBytes("fifo"));
        assertArrayEquals(new long[] {7, 8}, r.getLongs("regs"));
        assertEquals("ttyS0 ü", r.getString("label"));
        assertEquals(42, r.section("inner").getInt("x"));
    }

    @Test
    void missingFieldsWrongTypesAndVersionsAreNamed() throws Exception {
        StateReader r = StateReader.parse(new StateWriter("rtc", 5).putInt("a", 1).toBytes());
        StateException missing = assertThrows(StateException.class, () -> r.getInt("b"));
        assertEquals("state of 'rtc' has no field 'b'", missing.getMessage());
        StateException type = assertThrows(StateException.class, () -> r.getLong("a"));
        assertTrue(type.getMessage().contains("field 'a' is Integer, expected Long"), type.getMessage());
        StateException version = assertThrows(StateException.class, () -> r.expect("rtc", 1, 4));
        assertTrue(version.getMessage().contains("version 5; this Vireo reads versions 1 to 4"), version.getMessage());
        assertThrows(StateException.class, () -> r.expect("i8042", 1, 5));
    }

    @Test
    void truncatedOrCorruptStateIsRefusedAtEveryCut() {
        StateWriter w = new StateWriter("dev", 1).putBytes("ram", new byte[100]).putString("s", "x");
        byte[] full = w.toBytes();
        for (int cut = 0; cut < full.length; cut++) {
            byte[] part = Arrays.copyOf(full, cut);
            assertThrows(StateException.class, () -> StateReader.parse(part), "cut at " + cut);
        }
        byte[] trailing = Arrays.copyOf(full, full.length + 1);
        assertThrows(StateException.class, () -> StateReader.parse(trailing));
        byte[] hugeLength = full.clone();
        // The bytes field's length sits after: name(2+3) version(4) count(4) key(2+3) type(1).
        hugeLength[19] = 0x7f;
        StateException e = assertThrows(StateException.class, () -> StateReader.parse(hugeLength));
        assertTrue(e.getMessage().contains("bad length"), e.getMessage());
    }

    @Test
    void cpuStateRoundTrips() throws Exception {
        X86CpuState s = new X86CpuState();
        for (int i = 0; i < 16; i++) {
            s.gpr[i] = 0x1111_0000_0000_0000L * (i + 1) + i;
        }
        s.rip = 0x1000000;
        s.rflags = 0x246;
        s.cs = new Segment(0x10, 0, 0xffffffff, 0xa09b);
        s.ss = new Segment(0x18, 0, 0xffffffff, 0xc093);
        s.tr = new Segment(0x20, 0x7000, 0x67, 0x8b);
        s.gdtBase = 0x500;
        s.gdtLimit = 0x27;
        s.cr0 = 0x80050033L;
        s.cr3 = 0x9000;
        s.cr4 = 0x6a0;
        s.efer = 0xd01;
        s.dr[7] = 0x400;
        s.msrs.put(X86CpuState.MSR_LSTAR, 0xffffffff81a00000L);
        s.msrs.put(X86CpuState.MSR_STAR, 0x23001000000000L);
        s.fxsave[200] = 7;
        s.lapic = new byte[1024];
        s.lapic[0x20] = 1;
        s.halted = true;
        s.pendingInterrupt = 0x30;
        StateWriter w = new StateWriter("vcpu0", 1);
        s.saveState(w);
        X86CpuState back = X86CpuState.restoreState(StateReader.parse(w.toBytes()));
        assertEquals(s, back);
        assertEquals(s, s.copy());
        assertTrue(back.in64BitMode() == s.in64BitMode());
    }
}
