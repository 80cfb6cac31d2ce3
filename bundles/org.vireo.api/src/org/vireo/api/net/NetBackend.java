package org.vireo.api.net;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The host side of one virtual network card: where the guest's Ethernet frames go and where
 * frames for the guest come from (an in-process switch, a TAP device).
 */
public interface NetBackend extends AutoCloseable {

    /** Sends one Ethernet frame from the guest (its remaining bytes). */
    void send(ByteBuffer frame) throws IOException;

    @Override
    void close() throws IOException;

    /** Takes frames for the guest; called on the backend's thread. */
    interface Receiver {
        void receive(ByteBuffer frame);
    }
}
