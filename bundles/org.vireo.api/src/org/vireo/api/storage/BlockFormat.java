package org.vireo.api.storage;

import java.io.IOException;
import java.nio.file.Path;

import org.vireo.api.VireoException;

/** A disk image format ("raw", "qcow2"), registered as an OSGi service. */
public interface BlockFormat {

    /** The type id configs and the command line use. */
    String type();

    /** Whether {@code header} (the first bytes of a file) looks like this format. */
    boolean probe(byte[] header);

    /**
     * Opens an image.
     *
     * @throws VireoException if the file is not a valid image of this format, naming the
     *         file and the offending field
     */
    BlockImage open(Path file, boolean readOnly) throws VireoException, IOException;

    /** Creates an empty image of {@code size} virtual bytes. */
    void create(Path file, long size) throws VireoException, IOException;
}
