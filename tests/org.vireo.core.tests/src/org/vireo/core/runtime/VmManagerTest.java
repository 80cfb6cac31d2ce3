package org.vireo.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.FrameworkUtil;
import org.osgi.util.tracker.ServiceTracker;
import org.vireo.api.cpu.NoCpuBackendException;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.ConfigException;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.NoSuchVmException;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmInfo;
import org.vireo.api.vm.VmManager;
import org.vireo.api.vm.VmState;
import org.vireo.core.VmManagerImpl;
import org.vireo.core.config.VmConfigCodec;

class VmManagerTest {

    @TempDir
    Path tmp;

    private VmConfig config(String name, Path kernel) {
        return new VmConfig(name, "auto", 1, 64L << 20, new BootConfig(kernel.toString(), null, "console=ttyS0"),
                List.of());
    }

    private Path kernel() throws Exception {
        Path k = tmp.resolve("vmlinuz");
        Files.write(k, new byte[] {1});
        return k;
    }

    @Test
    void theManagerIsADeclarativeServicesComponent() throws Exception {
        BundleContext context = FrameworkUtil.getBundle(VmManagerImpl.class).getBundleContext();
        assertNotNull(context, "org.vireo.core must be started (Bundle-ActivationPolicy: lazy)");
        ServiceTracker<VmManager, VmManager> tracker = new ServiceTracker<>(context, VmManager.class, null);
        tracker.open();
        try {
            VmManager manager = tracker.waitForService(10_000);
            assertNotNull(manager, "DS did not register the VmManager service");
            assertTrue(manager.library().isAbsolute());
        } finally {
            tracker.close();
        }
    }

    @Test
    void createListShowDelete() throws Exception {
        VmManagerImpl m = new VmManagerImpl(tmp.resolve("lib"));
        assertEquals(List.of(), m.list());
        VmInfo created = m.create(config("alpha", kernel()));
        assertEquals(VmState.STOPPED, created.state());
        Path file = tmp.resolve("lib/vms/alpha/vm.json");
        assertTrue(Files.isRegularFile(file));
        assertEquals(config("alpha", kernel()), VmConfigCodec.parse(Files.readString(file), "vm.json"));
        try (var files = Files.list(file.getParent())) {
            assertEquals(List.of(file), files.toList(), "no temporary file is left beside vm.json");
        }
        m.create(config("beta", kernel()));
        assertEquals(List.of("alpha", "beta"), m.list().stream().map(VmInfo::name).toList());
        assertEquals("alpha", m.find("alpha").orElseThrow().name());

        // A second manager (another vireo process) sees the same library.
        assertEquals(2, new VmManagerImpl(tmp.resolve("lib")).list().size());

        m.delete("alpha");
        assertFalse(Files.exists(tmp.resolve("lib/vms/alpha")));
        assertTrue(Files.exists(kernel()), "the kernel the VM used is not the VM's to delete");
        assertThrows(NoSuchVmException.class, () -> m.delete("alpha"));
    }

    @Test
    void duplicatesAndBadNamesAreRefused() throws Exception {
        VmManagerImpl m = new VmManagerImpl(tmp.resolve("lib"));
        m.create(config("alpha", kernel()));
        var e = assertThrows(org.vireo.api.VireoException.class, () -> m.create(config("alpha", kernel())));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        ConfigException bad = assertThrows(ConfigException.class, () -> m.create(config("../escape", kernel())));
        assertEquals("name", bad.problems().get(0).path());
    }

    @Test
    void unknownTypesNameWhatIsInstalled() throws Exception {
        VmManagerImpl m = new VmManagerImpl(tmp.resolve("lib"));
        m.addDeviceFactory(new org.vireo.api.device.DeviceFactory() {
            @Override
            public String type() {
                return "uart16550";
            }

            @Override
            public String description() {
                return "a serial port";
            }

            @Override
            public org.vireo.api.device.Device create(org.vireo.api.device.DeviceContext c, DeviceConfig d) {
                throw new UnsupportedOperationException();
            }
        });
        VmConfig c = new VmConfig("x", "kvm", 1, 64L << 20, new BootConfig(kernel().toString(), "missing.img", ""),
                List.of(new DeviceConfig("virtio-gpu", "gpu0", Map.of())));
        ConfigException e = assertThrows(ConfigException.class, () -> m.create(c));
        String msg = e.getMessage();
        assertTrue(msg.contains("cpu: \"kvm\"; expected \"auto\" or an installed CPU backend: none is installed"), msg);
        assertTrue(msg.contains("devices[0].type: \"virtio-gpu\"; expected an installed device type: [uart16550]"), msg);
        assertTrue(msg.contains("boot.initrd: \"missing.img\" (no such file"), msg);
    }

    @Test
    void startingWithoutACpuBackendSaysSo() throws Exception {
        VmManagerImpl m = new VmManagerImpl(tmp.resolve("lib"));
        m.create(config("alpha", kernel()));
        NoCpuBackendException e = assertThrows(NoCpuBackendException.class, () -> m.start("alpha"));
        assertTrue(e.getMessage().startsWith("no CPU backend is installed"), e.getMessage());
        assertEquals(VmState.STOPPED, m.find("alpha").orElseThrow().state());
    }

    @Test
    void aBrokenConfigFileShowsAsFailedWithTheReason() throws Exception {
        VmManagerImpl m = new VmManagerImpl(tmp.resolve("lib"));
        Path dir = Files.createDirectories(tmp.resolve("lib/vms/broken"));
        Files.writeString(dir.resolve("vm.json"), "{ \"name\": \"broken\", \"memory\": \"lots\" }");
        VmInfo info = m.find("broken").orElseThrow();
        assertEquals(VmState.FAILED, info.state());
        assertTrue(info.message().contains("memory"), info.message());
        assertThrows(org.vireo.api.VireoException.class, () -> m.start("broken"));
    }
}
