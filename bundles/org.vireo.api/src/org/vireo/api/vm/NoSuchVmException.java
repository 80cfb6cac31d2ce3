package org.vireo.api.vm;

import org.vireo.api.VireoException;

/** No VM of that name is in the library or running. */
public class NoSuchVmException extends VireoException {
    private static final long serialVersionUID = 1L;

    public NoSuchVmException(String message) {
        super(message);
    }
}
