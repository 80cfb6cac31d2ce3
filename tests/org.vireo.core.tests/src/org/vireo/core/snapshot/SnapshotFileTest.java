package org.vireo.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.memory.RamRange;
import org.vireo.api.state.StateException;
import org.vireo.core.memory.MappedGuestMemory;

/**
 * The snapshot file: what is written reads back exactly (config, state, memory with the zero
 * pages left out and zeroed on load), and every kind of damage is refused with a message that
 * names the file and the fault, before any memory is touched.
 */
class SnapshotFileTest {

    private static final List<RamRange> RAM = List.of(new RamRange(0, 1 << 20), new RamRange(4L << 20, 2 << 20));

    @TempDir
    Path tmp;

    private MappedGuestMemory memoryWithData(long seed) {
        MappedGuestMemory m = new MappedGuestMemory(RAM);
        Random random = new Random(seed);
        byte[] page = new byte[4096];
        for (long address : new long[] {0, 0x1000, 0x5000, 0x9f000, 4L << 20, (6L << 20) - 4096}) {
            random.nextBytes(page);
            m.write(address, page, 0, page.length);
        }
        m.writeLong(0x42000, 0xdeadbeefL); // a page that is all zeros but for 8 bytes
        return m;
    }

    private static byte[] dump(MappedGuestMemory m) {
        byte[] all = new byte[(int) m.size()];
        int at = 0;
        for (RamRange r : m.ranges()) {
            m.read(r.start(), all, at, (int) r.size());
            at += (int) r.size();
        }
        return all;
    }

    private Path written(MappedGuestMemory m) throws Exception {
        Path file = tmp.resolve("vm.snap");
        long pages = SnapshotFile.write(file, "{\"name\":\"t\"}", "machine-state".getBytes(StandardCharsets.UTF_8), m);
        assertEquals(7, pages, "only the pages with data are written");
        return file;
    }

    @Test
    void whatIsWrittenReadsBackAndZeroPagesAreZeroedOnLoad() throws Exception {
        try (MappedGuestMemory source = memoryWithData(1); MappedGuestMemory target = memoryWithData(2)) {
            Path file = written(source);
            assertTrue(Files.size(file) < 8 * 4096 + 1024, "zero pages take no room: " + Files.size(file));
            SnapshotFile.Contents c = SnapshotFile.read(file);
            assertEquals("{\"name\":\"t\"}", c.configJson());
            assertArrayEquals("machine-state".getBytes(StandardCharsets.UTF_8), c.state());
            assertEquals(7, c.savedPages());
            assertEquals(3L << 20, c.memoryBytes());
            SnapshotFile.loadMemory(c, target);
            assertArrayEquals(dump(source), dump(target), "the target's other data is gone, the saved data is there");
        }
    }

    @Test
    void anotherMemoryLayoutIsRefused() throws Exception {
        try (MappedGuestMemory source = memoryWithData(1); MappedGuestMemory other = MappedGuestMemory.flat(8 << 20)) {
            SnapshotFile.Contents c = SnapshotFile.read(written(source));
            StateException e = assertThrows(StateException.class, () -> SnapshotFile.loadMemory(c, other));
            assertTrue(e.getMessage().contains("RAM ranges") && e.getMessage().contains("different memory size"),
                    e.getMessage());
        }
    }

    @Test
    void damageAnywhereIsRefusedWithTheFileAndTheFaultNamed() throws Exception {
        Path file;
        try (MappedGuestMemory source = memoryWithData(1)) {
            file = written(source);
        }
        byte[] good = Files.readAllBytes(file);
        Path bad = tmp.resolve("bad.snap");

        Files.write(bad, java.util.Arrays.copyOf(good, good.length / 2));
        assertRefused(bad, "truncated");
        Files.write(bad, java.util.Arrays.copyOf(good, 5));
        assertRefused(bad, "truncated");
        Files.write(bad, new byte[0]);
        assertRefused(bad, "truncated");

        byte[] b = good.clone();
        b[0] = 'X';
        Files.write(bad, b);
        assertRefused(bad, "not a Vireo snapshot");

        b = good.clone();
        b[11] = 9; // format version 9
        Files.write(bad, b);
        assertRefused(bad, "format version 9; this Vireo reads version 1");

        b = good.clone();
        b[good.length - 4 - 8 - 100] ^= 1; // one bit of guest memory
        Files.write(bad, b);
        assertRefused(bad, "checksum mismatch");

        b = java.util.Arrays.copyOf(good, good.length + 1);
        Files.write(bad, b);
        assertRefused(bad, "bytes after the checksum");

        // A config length far beyond the file: refused without allocating it.
        b = good.clone();
        b[20 + 4] = 0x7f;
        Files.write(bad, b);
        assertRefused(bad, "CONF (the VM config): length");

        assertRefused(tmp.resolve("missing.snap"), "no such file");

        // Random damage: never anything but a StateException.
        Random random = new Random(7);
        int cases = 2000;
        for (int i = 0; i < cases; i++) {
            b = good.clone();
            for (int k = 1 + random.nextInt(4); k > 0; k--) {
                b[random.nextInt(b.length)] = (byte) random.nextInt(256);
            }
            if (java.util.Arrays.equals(b, good)) {
                continue;
            }
            Files.write(bad, b);
            assertThrows(StateException.class, () -> SnapshotFile.read(bad), "case " + i);
        }
    }

    private static void assertRefused(Path file, String why) {
        StateException e = assertThrows(StateException.class, () -> SnapshotFile.read(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void aFailedWriteLeavesTheOldFileAsItWas() throws Exception {
        Path file;
        try (MappedGuestMemory source = memoryWithData(1)) {
            file = written(source);
        }
        byte[] before = Files.readAllBytes(file);
        try (MappedGuestMemory real = memoryWithData(3)) {
            // Memory whose copy fails half-way through the write, as a host I/O error would.
            GuestMemory failing = (GuestMemory) Proxy.newProxyInstance(GuestMemory.class.getClassLoader(),
                    new Class<?>[] {GuestMemory.class}, (proxy, method, args) -> {
                        if (method.getName().equals("read") && (long) args[0] >= (4L << 20)) {
                            throw new java.io.UncheckedIOException(new java.io.IOException("disk full"));
                        }
                        try {
                            return method.invoke(real, args);
                        } catch (java.lang.reflect.InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            assertThrows(java.io.UncheckedIOException.class, () -> SnapshotFile.write(file, "{}", new byte[0], failing));
        }
        assertArrayEquals(before, Files.readAllBytes(file));
        try (var files = Files.list(tmp)) {
            assertEquals(List.of(file), files.toList(), "no temporary file is left behind");
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            assertEquals(before.length, f.length());
        }
    }
}
