package org.vireo.cli;

/** What the {@code vireo} command's exit status means (documented in {@code vireo --help}). */
final class ExitCodes {
    /** Done; for run/start: the guest shut down or reset. */
    static final int OK = 0;
    /** The operation failed, or the VM stopped with an error. */
    static final int FAILED = 1;
    /** The command line was wrong. */
    static final int USAGE = 2;
    /** A VM config did not validate. */
    static final int BAD_CONFIG = 3;
    /** No VM has that name. */
    static final int NO_SUCH_VM = 4;
    /** No CPU backend can run VMs here (none installed, or none usable on this host). */
    static final int NO_BACKEND = 69;
    /** An internal error (a bug: please report it with the message). */
    static final int INTERNAL = 70;

    static final String HELP = """
            Exit status: 0 done (for run and start: the guest shut down), 1 failed or the VM \
            stopped with an error, 2 bad command line, 3 invalid VM config, 4 no such VM, \
            69 no usable CPU backend, 70 internal error.""";

    private ExitCodes() {
    }
}
