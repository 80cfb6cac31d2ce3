package org.vireo.api.irq;

/**
 * A message-signalled interrupt as a PCI function writes it: on x86 the address selects the
 * destination LAPIC (0xFEExxxxx) and the data the vector and delivery mode (Intel SDM vol. 3
 * §11.11).
 */
public record MsiMessage(long address, int data) {

    /** The vector the message raises. */
    public int vector() {
        return data & 0xff;
    }

    /** The destination APIC id in the address. */
    public int destinationId() {
        return (int) ((address >>> 12) & 0xff);
    }
}
