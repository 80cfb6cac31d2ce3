package org.vireo.core.snapshot;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;

import org.vireo.api.memory.GuestMemory;
import org.vireo.api.memory.RamRange;
import org.vireo.api.state.StateException;
import org.vireo.core.AtomicFiles;

/**
 * A saved VM in one file: its config, the state of its CPUs, interrupt controllers, clocks
 * and devices, and its guest memory with all-zero pages left out. Big-endian throughout:
 *
 * <pre>
 * header   "VIREOSNP"  u32 format version (1)  u64 creation time (ms since the epoch)
 * "CONF"   u32 length, the VM config as JSON (UTF-8)
 * "STAT"   u32 length, the machine state (a StateWriter section)
 * "MEMR"   u32 range count, per range u64 guest address and u64 size; then runs of
 *          non-zero pages: u64 guest address, u32 page count, the pages; a run of 0 pages ends it
 * trailer  "VIREOEND"  u32 CRC-32C of every byte before it
 * </pre>
 *
 * {@link #write} writes a temporary file beside the target, forces it to disk and renames it
 * over the target, so a crash leaves the old file or the new one. {@link #read} checks the
 * whole file (structure, bounds, checksum) before anything is handed out, so a bad file is
 * refused before it touches a VM; every error names the file and what is wrong with it.
 */
public final class SnapshotFile {

    static final byte[] MAGIC = "VIREOSNP".getBytes(StandardCharsets.US_ASCII);
    static final byte[] END = "VIREOEND".getBytes(StandardCharsets.US_ASCII);
    public static final int FORMAT_VERSION = 1;
    static final int PAGE = 4096;
    private static final int CONF = tag("CONF"), STAT = tag("STAT"), MEMR = tag("MEMR");
    private static final int MAX_CONFIG_BYTES = 1 << 20;
    private static final int MAX_STATE_BYTES = 256 << 20;
    private static final int MAX_RANGES = 64;
    /** Pages copied through the host buffer at a time. */
    private static final int CHUNK_PAGES = 256;

    /** What {@link #read} found: everything but the memory, which {@link #loadMemory} copies. */
    public record Contents(Path file, Instant created, String configJson, byte[] state, long memoryBytes,
            long savedPages) {
    }

    private SnapshotFile() {
    }

    private static int tag(String name) {
        byte[] b = name.getBytes(StandardCharsets.US_ASCII);
        return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
    }

    /**
     * Writes a snapshot atomically; returns the pages written (the non-zero ones). The guest
     * memory must not change meanwhile (the VM is paused).
     */
    public static long write(Path target, String configJson, byte[] state, GuestMemory memory) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
        long pages;
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                CRC32C crc = new CRC32C();
                DataOutputStream out = new DataOutputStream(new CheckedOutputStream(
                        new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 20), crc));
                out.write(MAGIC);
                out.writeInt(FORMAT_VERSION);
                out.writeLong(System.currentTimeMillis());
                byte[] config = configJson.getBytes(StandardCharsets.UTF_8);
                out.writeInt(CONF);
                out.writeInt(config.length);
                out.write(config);
                out.writeInt(STAT);
                out.writeInt(state.length);
                out.write(state);
                pages = writeMemory(out, memory);
                out.write(END);
                out.flush();
                // The checksum covers everything above; it is not part of what it sums.
                DataOutputStream tail = new DataOutputStream(Channels.newOutputStream(channel));
                tail.writeInt((int) crc.getValue());
                tail.flush();
                channel.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            AtomicFiles.syncDirectory(dir);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return pages;
    }

    private static long writeMemory(DataOutputStream out, GuestMemory memory) throws IOException {
        out.writeInt(MEMR);
        out.writeInt(memory.ranges().size());
        for (RamRange r : memory.ranges()) {
            out.writeLong(r.start());
            out.writeLong(r.size());
        }
        byte[] chunk = new byte[CHUNK_PAGES * PAGE];
        long pages = 0;
        for (RamRange r : memory.ranges()) {
            long end = r.start() + r.size();
            long page = r.start();
            while (page < end) {
                if (isZero(memory, page)) {
                    page += PAGE;
                    continue;
                }
                long runStart = page; // known not to be zero
                int count = 0;
                do {
                    page += PAGE;
                    count++;
                } while (page < end && count < CHUNK_PAGES && !isZero(memory, page));
                memory.read(runStart, chunk, 0, count * PAGE);
                out.writeLong(runStart);
                out.writeInt(count);
                out.write(chunk, 0, count * PAGE);
                pages += count;
            }
        }
        out.writeLong(0);
        out.writeInt(0);
        return pages;
    }

    private static boolean isZero(GuestMemory memory, long page) {
        ByteBuffer b = memory.buffer(page, PAGE);
        for (int i = 0; i < PAGE; i += 8) {
            if (b.getLong(i) != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Reads and checks a whole snapshot file: magic, version, section bounds, the memory runs
     * against the saved RAM ranges, and the checksum.
     *
     * @throws StateException naming the file and what is wrong with it
     */
    public static Contents read(Path file) throws StateException {
        CRC32C crc = new CRC32C();
        try (InputStream raw = Files.newInputStream(file)) {
            long size = Files.size(file);
            BufferedInputStream buffered = new BufferedInputStream(raw, 1 << 20);
            DataInputStream in = new DataInputStream(new CheckedInputStream(buffered, crc));
            Header h = readHeader(file, in, size);
            long[] totals = skipMemory(file, in, h.ranges, size);
            byte[] end = new byte[END.length];
            in.readFully(end);
            if (!Arrays.equals(end, END)) {
                throw bad(file, "no end marker after the memory (the file is damaged)");
            }
            int expected = (int) crc.getValue();
            int stored = new DataInputStream(buffered).readInt(); // past the checksummed bytes
            if (buffered.read() >= 0) {
                throw bad(file, "bytes after the checksum (the file is damaged)");
            }
            if (stored != expected) {
                throw bad(file, String.format("checksum mismatch: stored %08x, computed %08x (the file is damaged)",
                        stored, expected));
            }
            return new Contents(file, h.created, h.config, h.state, totals[0], totals[1]);
        } catch (NoSuchFileException e) {
            throw new StateException("snapshot " + file + ": no such file", e);
        } catch (EOFException e) {
            throw bad(file, "truncated (the file ends too early)");
        } catch (IOException e) {
            throw new StateException("snapshot " + file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * Copies the saved memory into {@code memory}, which must have the saved RAM ranges. Pages
     * the file leaves out are zeroed. Call after {@link #read} accepted the file.
     */
    public static void loadMemory(Contents contents, GuestMemory memory) throws StateException {
        Path file = contents.file();
        try (InputStream raw = Files.newInputStream(file)) {
            long size = Files.size(file);
            DataInputStream in = new DataInputStream(new BufferedInputStream(raw, 1 << 20));
            Header h = readHeader(file, in, size);
            if (!h.ranges.equals(memory.ranges())) {
                throw bad(file, "its RAM ranges " + h.ranges + " differ from the VM's " + memory.ranges()
                        + " (a different memory size)");
            }
            for (RamRange r : memory.ranges()) {
                memory.fill(r.start(), r.size(), (byte) 0);
            }
            byte[] chunk = new byte[CHUNK_PAGES * PAGE];
            while (true) {
                long address = in.readLong();
                int count = in.readInt();
                if (count == 0) {
                    break;
                }
                checkRun(file, h.ranges, address, count);
                int length = count * PAGE;
                in.readFully(chunk, 0, length);
                memory.write(address, chunk, 0, length);
            }
        } catch (EOFException e) {
            throw bad(file, "truncated (the file ends too early)");
        } catch (IOException e) {
            throw new StateException("snapshot " + file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private record Header(Instant created, String config, byte[] state, List<RamRange> ranges) {
    }

    private static Header readHeader(Path file, DataInputStream in, long size) throws IOException, StateException {
        byte[] magic = new byte[MAGIC.length];
        in.readFully(magic);
        if (!Arrays.equals(magic, MAGIC)) {
            throw bad(file, "not a Vireo snapshot (no VIREOSNP magic at its start)");
        }
        int version = in.readInt();
        if (version != FORMAT_VERSION) {
            throw bad(file, "format version " + version + "; this Vireo reads version " + FORMAT_VERSION);
        }
        Instant created = Instant.ofEpochMilli(in.readLong());
        byte[] config = section(file, in, CONF, "CONF (the VM config)", MAX_CONFIG_BYTES, size);
        byte[] state = section(file, in, STAT, "STAT (the machine state)", MAX_STATE_BYTES, size);
        if (in.readInt() != MEMR) {
            throw bad(file, "no MEMR section (the guest memory) after the machine state");
        }
        int count = in.readInt();
        if (count < 1 || count > MAX_RANGES) {
            throw bad(file, "MEMR: " + count + " RAM ranges; expected 1 to " + MAX_RANGES);
        }
        List<RamRange> ranges = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long start = in.readLong();
            long length = in.readLong();
            if (start < 0 || length <= 0 || start % PAGE != 0 || length % PAGE != 0 || start + length < start
                    || (!ranges.isEmpty() && start < ranges.get(ranges.size() - 1).end())) {
                throw bad(file, String.format("MEMR: RAM range %d at 0x%x of 0x%x bytes is not page-aligned, "
                        + "ordered and disjoint", i, start, length));
            }
            ranges.add(new RamRange(start, length));
        }
        return new Header(created, new String(config, StandardCharsets.UTF_8), state, List.copyOf(ranges));
    }

    private static byte[] section(Path file, DataInputStream in, int tag, String what, int max, long fileSize)
            throws IOException, StateException {
        if (in.readInt() != tag) {
            throw bad(file, "no " + what + " section where it belongs");
        }
        int length = in.readInt();
        if (length < 0 || length > max || length > fileSize) {
            throw bad(file, what + ": length " + length + " is out of bounds (at most " + Math.min(max, fileSize) + ")");
        }
        byte[] b = new byte[length];
        in.readFully(b);
        return b;
    }

    /** Reads past the memory runs, checking each; returns {bytes of RAM, pages saved}. */
    private static long[] skipMemory(Path file, DataInputStream in, List<RamRange> ranges, long fileSize)
            throws IOException, StateException {
        long saved = 0;
        long ram = ranges.stream().mapToLong(RamRange::size).sum();
        long previous = -1;
        while (true) {
            long address = in.readLong();
            int count = in.readInt();
            if (count == 0) {
                return new long[] {ram, saved};
            }
            checkRun(file, ranges, address, count);
            if (address <= previous) {
                throw bad(file, String.format("MEMR: page run at 0x%x is out of order", address));
            }
            previous = address;
            long length = (long) count * PAGE;
            if (length > fileSize) {
                throw bad(file, "MEMR: a run of " + count + " pages is longer than the file");
            }
            in.skipNBytes(length);
            saved += count;
        }
    }

    private static void checkRun(Path file, List<RamRange> ranges, long address, int count)
            throws StateException {
        if (count < 0 || count > CHUNK_PAGES || address % PAGE != 0) {
            throw bad(file, String.format("MEMR: a run of %d pages at 0x%x (at most %d page-aligned pages a run)",
                    count, address, CHUNK_PAGES));
        }
        long length = (long) count * PAGE;
        for (RamRange r : ranges) {
            if (address >= r.start() && address + length <= r.end()) {
                return;
            }
        }
        throw bad(file, String.format("MEMR: pages 0x%x-0x%x are outside the saved RAM ranges", address,
                address + length - 1));
    }

    private static StateException bad(Path file, String what) {
        return new StateException("snapshot " + file + ": " + what);
    }
}
