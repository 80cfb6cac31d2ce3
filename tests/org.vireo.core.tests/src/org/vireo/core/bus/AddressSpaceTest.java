package org.vireo.core.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.vireo.api.bus.BusConflictException;
import org.vireo.api.bus.IoBus;
import org.vireo.api.bus.IoHandler;

class AddressSpaceTest {

    /** Records accesses and answers reads with offset*16 + size. */
    static final class Recorder implements IoHandler {
        final List<String> log = new ArrayList<>();

        @Override
        public long read(long offset, int size) {
            log.add("r " + offset + "/" + size);
            return offset * 16 + size;
        }

        @Override
        public void write(long offset, int size, long value) {
            log.add("w " + offset + "/" + size + "=" + Long.toHexString(value));
        }
    }

    @Test
    void dispatchesToTheHandlerWithOffsetsRelativeToItsBase() {
        AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "vm");
        Recorder com1 = new Recorder();
        Recorder rtc = new Recorder();
        pio.register(0x3f8, 8, "com1", com1);
        pio.register(0x70, 2, "rtc", rtc);
        assertEquals(5 * 16 + 1, pio.read(0x3fd, 1));
        pio.write(0x3f8, 1, 0x41);
        pio.write(0x71, 1, 0x12);
        assertEquals(List.of("r 5/1", "w 0/1=41"), com1.log);
        assertEquals(List.of("w 1/1=12"), rtc.log);
        assertEquals("com1", pio.ownerOf(0x3ff));
        assertNull(pio.ownerOf(0x400));
    }

    @Test
    void unclaimedAddressesReadAllOnesAndDropWrites() {
        AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "vm");
        assertEquals(0xffL, mmio.read(0xfed00000L, 1));
        assertEquals(0xffffL, mmio.read(0xfed00000L, 2));
        assertEquals(0xffffffffL, mmio.read(0xfed00000L, 4));
        assertEquals(-1L, mmio.read(0xfed00000L, 8));
        mmio.write(0xfed00000L, 4, 1); // nobody there: nothing happens
    }

    @Test
    void overlappingRegistrationsAreRefusedNamingBothOwners() {
        AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "vm1");
        pio.register(0x3f8, 8, "com1", new Recorder());
        BusConflictException e = assertThrows(BusConflictException.class,
                () -> pio.register(0x3fc, 2, "intruder", new Recorder()));
        assertTrue(e.getMessage().contains("intruder") && e.getMessage().contains("com1")
                && e.getMessage().contains("0x3f8-0x3ff") && e.getMessage().contains("vm1"), e.getMessage());
        assertThrows(BusConflictException.class, () -> pio.register(0x3f0, 9, "below", new Recorder()));
        // Adjacent ranges are fine.
        pio.register(0x3f0, 8, "below", new Recorder());
        pio.register(0x400, 1, "above", new Recorder());
    }

    @Test
    void badRangesAreRefused() {
        AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "vm");
        assertThrows(IllegalArgumentException.class, () -> pio.register(0xffff, 2, "x", new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> pio.register(0, 0, "x", new Recorder()));
        AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "vm");
        assertThrows(IllegalArgumentException.class, () -> mmio.register(Long.MAX_VALUE, 2, "x", new Recorder()));
    }

    @Test
    void closingARegistrationFreesTheRangeForSomeoneElse() {
        AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "vm");
        Recorder bar = new Recorder();
        IoBus.Registration r = mmio.register(0xe0000000L, 0x1000, "bar0", bar);
        assertEquals(0x1000, r.length());
        r.close();
        assertNull(mmio.ownerOf(0xe0000000L));
        Recorder moved = new Recorder();
        mmio.register(0xe0000000L, 0x1000, "bar0-moved", moved);
        mmio.read(0xe0000010L, 4);
        assertEquals(List.of("r 16/4"), moved.log);
        assertEquals(List.of(), bar.log);
    }

    @Test
    void manyRangesStayFindable() {
        AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "vm");
        List<Recorder> handlers = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            Recorder h = new Recorder();
            handlers.add(h);
            pio.register(0x1000 + 16L * ((i * 37) % 200), 16, "dev" + i, h); // registered out of order
        }
        for (int i = 0; i < 200; i++) {
            assertEquals("dev" + i, pio.ownerOf(0x1000 + 16L * ((i * 37) % 200) + 15));
        }
    }
}
