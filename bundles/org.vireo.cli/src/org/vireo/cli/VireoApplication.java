package org.vireo.cli;

import java.util.concurrent.TimeUnit;

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

    @Override
    public void stop() {
        // The command returns on its own; nothing to interrupt.
    }
}
