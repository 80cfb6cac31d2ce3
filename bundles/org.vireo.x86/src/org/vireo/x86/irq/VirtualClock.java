package org.vireo.x86.irq;

import java.util.PriorityQueue;

/**
 * Guest time for one VM. Every timer of the machine (PIT, local APIC timer, TSC) runs from this
 * one clock, so they always agree with each other.
 *
 * <p>In host-time mode guest nanoseconds follow the host's monotonic clock while the VM runs
 * and stand still while it is paused. In deterministic mode only {@link #advance} moves it:
 * the software CPU advances it by the instructions it retires, so a boot repeats exactly.
 *
 * <p>Timers do not run on threads of their own: their actions run on the thread that calls
 * {@link #runDue} (the vCPU thread between instruction slices), so device state needs no
 * more locking than the vCPU already has.
 */
public final class VirtualClock {

    private final boolean deterministic;
    private final PriorityQueue<Timer> armed = new PriorityQueue<>(
            (a, b) -> a.deadline != b.deadline ? Long.compare(a.deadline, b.deadline) : Long.compare(a.sequence, b.sequence));
    private long sequence;
    /** Deterministic: the time. Host time: guest time at the last pause or resume. */
    private long base;
    /** Host time: System.nanoTime() at the last resume, or -1 while paused. */
    private long resumedAt = -1;
    private volatile Runnable wakeup = () -> { };

    private VirtualClock(boolean deterministic) {
        this.deterministic = deterministic;
        if (!deterministic) {
            resumedAt = System.nanoTime();
        }
    }

    /** A clock that follows the host's monotonic time while running. */
    public static VirtualClock hostTime() {
        return new VirtualClock(false);
    }

    /** A clock that moves only by {@link #advance}. */
    public static VirtualClock deterministic() {
        return new VirtualClock(true);
    }

    public boolean isDeterministic() {
        return deterministic;
    }

    /** Guest nanoseconds since the clock was made. */
    public synchronized long nanos() {
        if (deterministic || resumedAt < 0) {
            return base;
        }
        return base + (System.nanoTime() - resumedAt);
    }

    /** Moves deterministic time forward by {@code ns}. */
    public synchronized void advance(long ns) {
        if (!deterministic) {
            throw new IllegalStateException("only a deterministic clock is advanced by hand");
        }
        if (ns < 0) {
            throw new IllegalArgumentException("time does not go back: " + ns);
        }
        base += ns;
    }

    /** Stops host time for the guest (the VM is paused). Deterministic clocks ignore it. */
    public synchronized void pause() {
        if (!deterministic && resumedAt >= 0) {
            base += System.nanoTime() - resumedAt;
            resumedAt = -1;
        }
    }

    public synchronized void resume() {
        if (!deterministic && resumedAt < 0) {
            resumedAt = System.nanoTime();
        }
    }

    /** Sets the clock to {@code nanos}, for a restored snapshot; armed timers keep their deadlines. */
    public synchronized void set(long nanos) {
        base = nanos;
        if (!deterministic && resumedAt >= 0) {
            resumedAt = System.nanoTime();
        }
    }

    /** A one-shot timer whose action runs on the thread calling {@link #runDue}. */
    public Timer timer(String name, Runnable action) {
        return new Timer(name, action);
    }

    /** The earliest armed deadline in guest nanoseconds, {@link Long#MAX_VALUE} if none. */
    public synchronized long nextDeadline() {
        Timer t = armed.peek();
        return t == null ? Long.MAX_VALUE : t.deadline;
    }

    /** Runs, in deadline order, the action of every armed timer that is due. An action may re-arm its timer. */
    public void runDue() {
        while (true) {
            Timer due;
            synchronized (this) {
                due = armed.peek();
                if (due == null || due.deadline > nanos()) {
                    return;
                }
                armed.poll();
                due.armed = false;
            }
            due.action.run();
        }
    }

    /** Called, from any thread, when a timer is armed earlier than the previous next deadline. */
    public void setWakeup(Runnable wakeup) {
        this.wakeup = wakeup == null ? () -> { } : wakeup;
    }

    /** A one-shot timer of this clock. */
    public final class Timer {
        private final String name;
        private final Runnable action;
        private long deadline;
        private long sequence;
        private boolean armed;

        private Timer(String name, Runnable action) {
            this.name = name;
            this.action = action;
        }

        /** Arms (or re-arms) the timer to fire at guest time {@code deadlineNanos}. */
        public void arm(long deadlineNanos) {
            boolean earlier;
            synchronized (VirtualClock.this) {
                if (armed) {
                    VirtualClock.this.armed.remove(this);
                }
                long before = nextDeadline();
                deadline = deadlineNanos;
                sequence = VirtualClock.this.sequence++;
                armed = true;
                VirtualClock.this.armed.add(this);
                earlier = deadlineNanos < before;
            }
            if (earlier) {
                wakeup.run();
            }
        }

        public void cancel() {
            synchronized (VirtualClock.this) {
                if (armed) {
                    VirtualClock.this.armed.remove(this);
                    armed = false;
                }
            }
        }

        public boolean armed() {
            synchronized (VirtualClock.this) {
                return armed;
            }
        }

        public long deadline() {
            synchronized (VirtualClock.this) {
                return deadline;
            }
        }

        @Override
        public String toString() {
            return name + (armed ? " at " + deadline : " (disarmed)");
        }
    }
}
