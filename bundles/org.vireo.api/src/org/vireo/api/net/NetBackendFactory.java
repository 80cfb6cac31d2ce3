package org.vireo.api.net;

import org.vireo.api.VireoException;

/** Makes network backends of one type ("switch", "tap"), registered as an OSGi service. */
public interface NetBackendFactory {

    /** The type id: a config's {@code "switch:lab"} names type "switch", argument "lab". */
    String type();

    String description();

    /** Connects a card with MAC address {@code mac} to {@code argument} (a switch name, a TAP device). */
    NetBackend open(String argument, byte[] mac, NetBackend.Receiver receiver) throws VireoException;
}
