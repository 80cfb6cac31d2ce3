package org.vireo.api;

/**
 * A failure on the host side that a user can act on: a missing file, a config that does not
 * validate, a CPU backend that is not usable here. The message is written for the user and
 * names what was wrong and where.
 */
public class VireoException extends Exception {
    private static final long serialVersionUID = 1L;

    public VireoException(String message) {
        super(message);
    }

    public VireoException(String message, Throwable cause) {
        super(message, cause);
    }
}
