package org.vireo.storage;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.osgi.service.component.annotations.Component;
import org.vireo.api.VireoException;
import org.vireo.api.storage.BlockFormat;
import org.vireo.api.storage.BlockImage;

/**
 * The raw format: the virtual disk is the file, byte for byte, a whole number of 512-byte
 * sectors (the virtio-blk sector). See {@link RawImage}.
 */
@Component(service = BlockFormat.class)
public final class RawFormat implements BlockFormat {

    public static final String TYPE = "raw";

    @Override
    public String type() {
        return TYPE;
    }

    /**
     * Always true: any bytes are a raw disk. Raw is therefore the fallback, not a format to
     * probe among the others: whoever picks a format for a file probes every other format
     * first and takes raw only when none recognizes the header. (A qcow2 file is also a valid
     * raw image of its own bytes, and a guest handed those bytes could rewrite the header to
     * point at any host file as its backing file.)
     */
    @Override
    public boolean probe(byte[] header) {
        return true;
    }

    /**
     * Opens {@code file}; for writing with an exclusive lock, read-only with a shared one.
     *
     * @throws VireoException naming the file if it does not exist, is a directory or not a
     *         regular file, may not be opened (permissions, read-only file system), is empty,
     *         is not a whole number of 512-byte sectors, or is in use by another VM or program
     */
    @Override
    public BlockImage open(Path file, boolean readOnly) throws VireoException, IOException {
        return RawImage.open(file, readOnly, true);
    }

    /**
     * Creates a sparse file of {@code size} bytes (no block written: the host allocates on
     * first write), synced together with its directory entry.
     *
     * @throws VireoException naming the file if the size is not a positive multiple of 512, the
     *         file exists already (it is never overwritten), its directory is missing or not
     *         writable, or the file system cannot hold a file that large
     */
    @Override
    public void create(Path file, long size) throws VireoException, IOException {
        if (size <= 0 || size % RawImage.SECTOR != 0) {
            throw new VireoException("cannot create raw image " + file + " of " + size + " bytes: the size must be "
                    + "a positive multiple of " + RawImage.SECTOR + " (the virtio-blk sector)");
        }
        Path directory = file.toAbsolutePath().getParent();
        if (Files.isDirectory(file)) {
            throw new VireoException("cannot create raw image " + file + ": it is an existing directory");
        }
        try {
            Files.createFile(file);
        } catch (FileAlreadyExistsException e) {
            throw new VireoException("cannot create raw image " + file + ": the file exists already, and creating "
                    + "an image never overwrites one (delete it first, or pick another name)");
        } catch (NoSuchFileException e) {
            throw new VireoException("cannot create raw image " + file + ": directory " + directory
                    + " does not exist");
        } catch (AccessDeniedException e) {
            throw new VireoException("cannot create raw image " + file + ": permission denied in directory "
                    + directory, e);
        } catch (FileSystemException e) {
            String reason = String.valueOf(e.getReason());
            if (reason.contains("Read-only file system")) {
                throw new VireoException("cannot create raw image " + file + ": directory " + directory
                        + " is on a read-only file system", e);
            }
            if (reason.contains("Operation not permitted")) { // EPERM: an immutable directory, say
                throw new VireoException("cannot create raw image " + file + ": permission denied in directory "
                        + directory + " (" + reason + ")", e);
            }
            throw e;
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size); // ftruncate: a hole the whole length
            raf.getFD().sync();
        } catch (IOException e) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // the failure to report is the one above
            }
            throw new VireoException("cannot create raw image " + file + " of " + size + " bytes: " + e.getMessage(),
                    e);
        }
        // The new name must survive a crash too, not only the file's contents.
        try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
            dir.force(true);
        }
    }
}
