package org.vireo.api.device;

/**
 * The host end of a character device such as a serial port: what the guest prints goes out,
 * what the user types comes in. Input is pulled by the device as its receive buffer has room,
 * so a fast typist cannot overrun a 16-byte UART FIFO.
 */
public interface ConsoleChannel {

    /** Bytes the guest sent. Called on a vCPU thread; must not block for long. */
    void output(byte[] data, int offset, int length);

    /** The next byte of user input, or -1 if there is none now. */
    int readInput();

    /** Registers the device's callback for "input became available"; called from any thread. */
    void onInput(Runnable listener);
}
