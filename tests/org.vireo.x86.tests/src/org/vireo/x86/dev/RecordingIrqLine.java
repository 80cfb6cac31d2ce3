package org.vireo.x86.dev;

import java.util.concurrent.atomic.AtomicInteger;

import org.vireo.api.irq.IrqLine;

/** A test double of an interrupt line: its level now and how many rising edges it saw. */
public final class RecordingIrqLine implements IrqLine {

    private final int gsi;
    private volatile boolean level;
    private final AtomicInteger risingEdges = new AtomicInteger();

    public RecordingIrqLine(int gsi) {
        this.gsi = gsi;
    }

    @Override
    public int gsi() {
        return gsi;
    }

    @Override
    public synchronized void set(boolean newLevel) {
        if (newLevel && !level) {
            risingEdges.incrementAndGet();
        }
        level = newLevel;
        notifyAll();
    }

    public boolean level() {
        return level;
    }

    public int risingEdges() {
        return risingEdges.get();
    }

    /** Waits up to {@code millis} for the line to go high. */
    public synchronized boolean awaitHigh(long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (!level) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return true;
    }
}
