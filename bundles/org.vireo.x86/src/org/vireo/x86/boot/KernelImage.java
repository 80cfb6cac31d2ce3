package org.vireo.x86.boot;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;

import org.vireo.api.VireoException;

/**
 * A kernel file read for direct boot: either a bzImage, whose payload is decompressed to the
 * ELF vmlinux it carries, or an ELF vmlinux given as is. Both end as an {@link ElfKernel};
 * a bzImage also keeps its setup header for the zero page.
 *
 * @param file the kernel file
 * @param elf the kernel's segments and entry
 * @param setupHeader the bzImage's setup header; empty for an ELF vmlinux
 * @param compression how the bzImage's payload was stored; empty for an ELF vmlinux
 * @param extractionTime how long decompressing the payload took (zero for an ELF vmlinux)
 */
public record KernelImage(Path file, ElfKernel elf, Optional<SetupHeader> setupHeader,
        Optional<PayloadCompression> compression, Duration extractionTime) {

    /** No bzImage is this large; its whole file is read into memory. */
    static final long MAX_BZIMAGE = 256L << 20;

    /**
     * Reads {@code file}, telling a bzImage from an ELF vmlinux by their magic numbers.
     *
     * @throws VireoException if the file cannot be read, is neither format, or is malformed;
     *         the message names the file and the field at fault
     */
    public static KernelImage load(Path file) throws VireoException {
        String source = "kernel " + file;
        byte[] head = readHead(source, file, 0x210);
        if (ElfKernel.looksLikeElf(head)) {
            return new KernelImage(file, ElfKernel.parse(source, map(source, file)), Optional.empty(),
                    Optional.empty(), Duration.ZERO);
        }
        if (SetupHeader.looksLikeBzImage(head)) {
            byte[] image = readAll(source, file);
            SetupHeader header = SetupHeader.parse(source, image);
            KernelPayload payload = KernelPayload.extract(source, image, header);
            ElfKernel elf = ElfKernel.parse(source + " (decompressed " + payload.compression().displayName()
                    + " payload)", ByteBuffer.wrap(payload.data()));
            return new KernelImage(file, elf, Optional.of(header), Optional.of(payload.compression()),
                    payload.decompressionTime());
        }
        if (head.length < 0x206) {
            throw new VireoException(source + ": file is only " + head.length
                    + " bytes: neither a bzImage (boot_flag 0xaa55 at 0x1fe, \"HdrS\" at 0x202) nor an ELF vmlinux");
        }
        throw new VireoException(source + ": neither a bzImage (boot_flag 0xaa55 at 0x1fe, \"HdrS\" at 0x202)"
                + " nor an ELF vmlinux (\\x7fELF at 0)");
    }

    /** The entry point of the 64-bit kernel (physical). */
    public long entry() {
        return elf.entry();
    }

    private static byte[] readHead(String source, Path file, int n) throws VireoException {
        try (InputStream in = Files.newInputStream(file)) {
            return in.readNBytes(n);
        } catch (NoSuchFileException e) {
            throw new VireoException(source + ": no such file", e);
        } catch (IOException e) {
            throw new VireoException(source + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static byte[] readAll(String source, Path file) throws VireoException {
        try {
            long size = Files.size(file);
            if (size > MAX_BZIMAGE) {
                throw new VireoException(String.format("%s: file is %d MiB, larger than any bzImage (%d MiB);"
                        + " is it the right file?", source, size >> 20, MAX_BZIMAGE >> 20));
            }
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new VireoException(source + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** An ELF vmlinux can be hundreds of MiB with symbols: map it rather than read it. */
    private static ByteBuffer map(String source, Path file) throws VireoException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) {
                throw new VireoException(String.format("%s: ELF file is %d MiB; Vireo reads kernels up to 2 GiB",
                        source, size >> 20));
            }
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
        } catch (IOException e) {
            throw new VireoException(source + ": cannot read: " + e.getMessage(), e);
        }
    }
}
