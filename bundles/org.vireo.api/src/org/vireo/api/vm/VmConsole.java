package org.vireo.api.vm;

import java.util.function.Consumer;

/**
 * One console channel of a running VM as a user sees it: output to watch (with the recent
 * history, so a late viewer sees what scrolled by) and input to type. A VM has the channel
 * {@value #SERIAL0}, its first serial port and main console, and one more per device that
 * asks for one (a virtio-console's "hvc0"); {@link VmManager#console(String, String)} finds
 * them by name.
 */
public interface VmConsole {

    /** The channel of the first serial port: the VM's main console. */
    String SERIAL0 = "serial0";

    /** The most recent output, up to the console's scrollback size. */
    byte[] history();

    /** Calls {@code sink} with every chunk of output from now on; close the result to stop. */
    AutoCloseable subscribe(Consumer<byte[]> sink);

    /** Types {@code data} into the guest's console. */
    void input(byte[] data);
}
