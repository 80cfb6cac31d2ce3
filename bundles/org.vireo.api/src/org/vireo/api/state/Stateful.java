package org.vireo.api.state;

/**
 * Something whose whole state is saved with a VM and restored into a fresh instance of the
 * same configuration: devices, interrupt controllers, clocks.
 */
public interface Stateful {

    /** Writes the whole state into {@code out}, a section created for this component. */
    void saveState(StateWriter out);

    /**
     * Replaces the state with the one in {@code in}. On failure the component keeps its
     * previous state.
     */
    void restoreState(StateReader in) throws StateException;
}
