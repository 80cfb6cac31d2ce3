package org.vireo.virtio;

import org.osgi.service.component.annotations.Component;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.device.DeviceFactory;
import org.vireo.api.vm.DeviceConfig;

/** Device type "virtio-rng": host entropy for the guest's /dev/hwrng. Option: {@code slot}. */
@Component(service = DeviceFactory.class)
public final class VirtioRngFactory extends VirtioDeviceFactory {

    @Override
    public String type() {
        return VirtioRng.TYPE;
    }

    @Override
    public String description() {
        return "virtio entropy device (host random bytes for the guest's /dev/hwrng)";
    }

    @Override
    protected VirtioDevice createDevice(DeviceContext context, DeviceConfig config) {
        return new VirtioRng(config.id());
    }
}
