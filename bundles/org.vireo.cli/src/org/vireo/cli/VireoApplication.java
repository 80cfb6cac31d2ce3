package org.vireo.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.TimeUnit;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.eclipse.equinox.app.IApplication;
import org.eclipse.equinox.app.IApplicationContext;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.FrameworkUtil;
import org.osgi.util.tracker.ServiceTracker;
import org.vireo.api.vm.VmManager;

/**
 * The Equinox application behind the {@code vireo} command: waits for the VmManager service
 * and hands the command line to {@link VireoCommand}. The return value is the process's
 * exit code.
 */
public final class VireoApplication implements IApplication {

    /** How long to wait for Declarative Services to bring the VmManager up. */
    private static final long SERVICE_WAIT_SECONDS = 20;

    @Override
    public Object start(IApplicationContext context) throws Exception {
        String[] args = (String[]) context.getArguments().getOrDefault(IApplicationContext.APPLICATION_ARGS,
                new String[0]);
        context.applicationRunning();
        useTerminalLogFormat();
        Bundle bundle = FrameworkUtil.getBundle(VireoApplication.class);
        BundleContext bundleContext = bundle.getBundleContext();
        ServiceTracker<VmManager, VmManager> tracker = new ServiceTracker<>(bundleContext, VmManager.class, null);
        tracker.open();
        try {
            return VireoCommand.execute(args, () -> {
                try {
                    VmManager manager = tracker.waitForService(TimeUnit.SECONDS.toMillis(SERVICE_WAIT_SECONDS));
                    if (manager == null) {
                        throw new IllegalStateException("the VM manager service did not start within "
                                + SERVICE_WAIT_SECONDS + " s; is org.vireo.core installed and Declarative "
                                + "Services (org.apache.felix.scr) started?");
                    }
                    return manager;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for the VM manager", e);
                }
            });
        } finally {
            tracker.close();
        }
    }

    /**
     * Log records reach the terminal as one line each, "vireo: WARNING: ...", instead of
     * java.util.logging's two-line default with a timestamp and the source method.
     */
    private static void useTerminalLogFormat() {
        Formatter oneLine = new Formatter() {
            @Override
            public String format(LogRecord r) {
                String text = "vireo: " + r.getLevel().getName() + ": " + formatMessage(r) + System.lineSeparator();
                if (r.getThrown() != null && r.getLevel().intValue() >= Level.SEVERE.intValue()) {
                    StringWriter trace = new StringWriter();
                    r.getThrown().printStackTrace(new PrintWriter(trace));
                    text += trace;
                }
                return text;
            }
        };
        for (Handler h : Logger.getLogger("").getHandlers()) {
            h.setFormatter(oneLine);
        }
    }

    @Override
    public void stop() {
        // The command returns on its own; nothing to interrupt.
    }
}
