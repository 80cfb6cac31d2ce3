package org.vireo.storage;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleContext;
import org.osgi.framework.FrameworkUtil;
import org.osgi.util.tracker.ServiceTracker;
import org.vireo.api.storage.BlockFormat;

/** The raw format reaches the runtime as a Declarative Services component. Needs OSGi (the Tycho run). */
class RawFormatComponentTest {

    @Test
    void rawIsRegisteredAsABlockFormatService() throws Exception {
        BundleContext context = FrameworkUtil.getBundle(RawFormat.class).getBundleContext();
        assertNotNull(context, "org.vireo.storage must be started (Bundle-ActivationPolicy: lazy)");
        ServiceTracker<BlockFormat, BlockFormat> tracker = new ServiceTracker<>(context, BlockFormat.class, null);
        tracker.open();
        try {
            assertNotNull(tracker.waitForService(10_000), "DS registered no BlockFormat service");
            boolean raw = false;
            for (BlockFormat format : tracker.getServices(new BlockFormat[0])) {
                raw |= format.type().equals(RawFormat.TYPE);
            }
            assertTrue(raw, "a BlockFormat of type raw is registered");
        } finally {
            tracker.close();
        }
    }
}
