package org.vireo.virtio;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * A device's own thread: queue work a vCPU thread hands over (a notification) runs here, one
 * task at a time and in order, so device I/O never runs on a vCPU thread and never races with
 * itself.
 */
public final class DeviceThread implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(DeviceThread.class.getName());

    private final String name;
    private final ExecutorService executor;

    /** @param name the device id; the thread is called "vireo-NAME" */
    public DeviceThread(String name) {
        this.name = name;
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "vireo-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    /** Runs {@code task} on the device thread after what is already queued. */
    public void execute(Runnable task) {
        if (!executor.isShutdown()) {
            executor.execute(task);
        }
    }

    /**
     * Waits until everything queued so far has run (a device reset must not return while a
     * request still touches guest memory); gives up after {@code seconds} with a warning.
     */
    public void drain(int seconds) {
        if (executor.isShutdown()) {
            return;
        }
        try {
            executor.submit(() -> { }).get(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.warning(name + ": device work still running after " + seconds + " s: " + e);
        }
    }

    /** Lets queued work finish (up to {@code seconds}), then stops the thread. */
    public void close(int seconds) {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(seconds, TimeUnit.SECONDS)) {
                LOG.warning(name + ": device work did not finish in " + seconds + " s");
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            executor.shutdownNow();
        }
    }

    /** {@link #close(int)} with five seconds for queued work. */
    @Override
    public void close() {
        close(5);
    }
}
