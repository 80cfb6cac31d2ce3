package org.vireo.core.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.vireo.api.memory.GuestMemoryException;
import org.vireo.api.memory.RamRange;

class MappedGuestMemoryTest {

    private static final long MIB = 1 << 20;

    @Test
    void readsBackWhatWasWrittenLittleEndian() {
        try (MappedGuestMemory m = MappedGuestMemory.flat(2 * MIB)) {
            m.writeLong(0x1000, 0x1122334455667788L);
            assertEquals((byte) 0x88, m.readByte(0x1000));
            assertEquals((short) 0x7788, m.readShort(0x1000));
            assertEquals(0x55667788, m.readInt(0x1000));
            assertEquals(0x1122334455667788L, m.readLong(0x1000));
            m.writeShort(0x1fff, (short) 0xabcd); // unaligned
            assertEquals((short) 0xabcd, m.readShort(0x1fff));
            byte[] data = "hello guest".getBytes();
            m.write(0x5000, data, 0, data.length);
            byte[] back = new byte[data.length];
            m.read(0x5000, back, 0, back.length);
            assertArrayEquals(data, back);
        }
    }

    @Test
    void freshMemoryIsZero() {
        try (MappedGuestMemory m = MappedGuestMemory.flat(4 * MIB)) {
            assertEquals(0L, m.readLong(0));
            assertEquals(0L, m.readLong(4 * MIB - 8));
        }
    }

    @Test
    void accessesOutsideRamAreGuestErrorsNamingTheRange() {
        try (MappedGuestMemory m = MappedGuestMemory.flat(MIB)) {
            m.writeByte(MIB - 1, (byte) 1);
            GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> m.readInt(MIB - 2));
            assertEquals(MIB - 2, e.address());
            assertEquals(4, e.length());
            assertTrue(e.getMessage().contains("0xffffe+0x4"), e.getMessage());
            assertThrows(GuestMemoryException.class, () -> m.writeLong(-8, 0));
            assertThrows(GuestMemoryException.class, () -> m.read(MIB - 10, new byte[20], 0, 20));
            assertThrows(GuestMemoryException.class, () -> m.buffer(MIB, 1));
            assertThrows(GuestMemoryException.class, () -> m.fill(0, MIB + 1, (byte) 0));
            assertThrows(GuestMemoryException.class, () -> m.readLong(Long.MAX_VALUE - 3));
            assertThrows(IndexOutOfBoundsException.class, () -> m.read(0, new byte[4], 2, 4),
                    "a host-side bad array range is the caller's bug, not a guest error");
        }
    }

    @Test
    void rangesWithAHoleMapAboveFourGigabytes() {
        long low = 2 * MIB;
        long high = 0x1_0000_0000L;
        try (MappedGuestMemory m = new MappedGuestMemory(List.of(new RamRange(0, low), new RamRange(high, MIB)))) {
            assertEquals(3 * MIB, m.size());
            assertTrue(m.contains(high, MIB));
            assertFalse(m.contains(low, 1), "the hole is not RAM");
            assertFalse(m.contains(low - 4, 8), "an access may not straddle into the hole");
            m.writeInt(high + 16, 0xcafe);
            assertEquals(0xcafe, m.readInt(high + 16));
            assertEquals(0, m.readInt(16), "the high range is not an alias of the low one");
            assertThrows(GuestMemoryException.class, () -> m.readByte(low));
            assertEquals(m.hostAddress(0) + low + 16, m.hostAddress(high + 16),
                    "the high range follows the low one in the host mapping");
        }
    }

    @Test
    void buffersAreViewsOfGuestMemory() {
        try (MappedGuestMemory m = MappedGuestMemory.flat(MIB)) {
            ByteBuffer b = m.buffer(0x3000, 16);
            b.putInt(0, 0x01020304);
            assertEquals(0x01020304, m.readInt(0x3000));
            m.fill(0x3000, 16, (byte) 0x5a);
            assertEquals((byte) 0x5a, b.get(15));
        }
    }

    @Test
    void overlappingRangesAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> new MappedGuestMemory(List.of(new RamRange(0, 2 * MIB), new RamRange(MIB, MIB))));
    }

    @Test
    void accessAfterCloseFailsCleanly() {
        MappedGuestMemory m = MappedGuestMemory.flat(MIB);
        m.close();
        m.close(); // twice is harmless
        assertThrows(IllegalStateException.class, () -> m.readByte(0));
    }
}
