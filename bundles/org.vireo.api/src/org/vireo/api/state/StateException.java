package org.vireo.api.state;

import org.vireo.api.VireoException;

/** A saved state that cannot be restored: truncated, of an unknown version, or missing a field. */
public class StateException extends VireoException {
    private static final long serialVersionUID = 1L;

    public StateException(String message) {
        super(message);
    }

    public StateException(String message, Throwable cause) {
        super(message, cause);
    }
}
