package org.vireo.api.device;

import java.util.List;

import org.vireo.api.VireoException;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.DeviceConfig;

/**
 * Makes one type of device. Registered as an OSGi service; a VM config's device entry names
 * it by {@link #type()}. A third-party bundle adds a device type by registering one of these,
 * with no change to Vireo.
 */
public interface DeviceFactory {

    /** The type id VM configs use: "uart16550", "virtio-blk". */
    String type();

    /** One line for users: what the device is. */
    String description();

    /**
     * Checks a device entry before any VM starts. Problems carry paths relative to the entry
     * ("path", "queues"); the runtime prefixes the entry's own path.
     */
    default List<ConfigProblem> validate(DeviceConfig config) {
        return List.of();
    }

    /** Creates the device and attaches it to the machine through {@code context}. */
    Device create(DeviceContext context, DeviceConfig config) throws VireoException;
}
