package org.vireo.api.cpu;

import org.vireo.api.VireoException;

/** No installed CPU backend can run the VM on this host; the message says what is installed and why each is unusable. */
public class NoCpuBackendException extends VireoException {
    private static final long serialVersionUID = 1L;

    public NoCpuBackendException(String message) {
        super(message);
    }
}
