package org.vireo.api.cpu;

/**
 * A segment register as the CPU holds it after loading: the visible selector and the hidden
 * descriptor cache. {@code attributes} uses the VMX access-rights layout (Intel SDM vol. 3
 * §24.4.1): bits 0-3 type, 4 S, 5-6 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable.
 */
public record Segment(int selector, long base, int limit, int attributes) {

    public static final int TYPE_MASK = 0xf;
    public static final int S = 1 << 4;
    public static final int DPL_SHIFT = 5;
    public static final int PRESENT = 1 << 7;
    public static final int AVL = 1 << 12;
    public static final int LONG = 1 << 13;
    public static final int DB = 1 << 14;
    public static final int GRANULARITY = 1 << 15;
    public static final int UNUSABLE = 1 << 16;

    /** A null selector marked unusable, as after reset of DS/ES/FS/GS in 64-bit mode. */
    public static final Segment NULL = new Segment(0, 0, 0, UNUSABLE);

    public int type() {
        return attributes & TYPE_MASK;
    }

    public int dpl() {
        return (attributes >>> DPL_SHIFT) & 3;
    }

    public boolean present() {
        return (attributes & PRESENT) != 0;
    }

    public boolean longMode() {
        return (attributes & LONG) != 0;
    }

    public boolean unusable() {
        return (attributes & UNUSABLE) != 0;
    }

    @Override
    public String toString() {
        return String.format("sel=%04x base=%016x limit=%08x attr=%05x", selector, base, limit, attributes);
    }
}
