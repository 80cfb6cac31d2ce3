package org.vireo.api.vm;

import java.util.function.Consumer;

/**
 * A running VM's serial console as a user sees it: output to watch (with the recent history,
 * so a late viewer sees what scrolled by) and input to type.
 */
public interface VmConsole {

    /** The most recent output, up to the console's scrollback size. */
    byte[] history();

    /** Calls {@code sink} with every chunk of output from now on; close the result to stop. */
    AutoCloseable subscribe(Consumer<byte[]> sink);

    /** Types {@code data} into the guest's console. */
    void input(byte[] data);
}
