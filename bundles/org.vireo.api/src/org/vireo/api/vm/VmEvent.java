package org.vireo.api.vm;

import java.time.Instant;

/** A VM changed state. */
public record VmEvent(String vmName, VmState from, VmState to, String message, Instant time) {
}
