package org.vireo.virtio;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import org.vireo.api.VireoException;
import org.vireo.api.device.Device;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.device.DeviceFactory;
import org.vireo.api.vm.ConfigException;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.DeviceConfig;

/**
 * The common part of every virtio device type's factory: the PCI placement option
 * {@code slot} (a device number 1-31; default the next free one), unknown-option checks, and
 * wrapping the {@link VirtioDevice} in its PCI transport.
 */
public abstract class VirtioDeviceFactory implements DeviceFactory {

    /** The options this type takes besides {@code slot}. */
    protected Set<String> options() {
        return Set.of();
    }

    /** Problems with the type's own options (paths relative to the entry). */
    protected void validateOptions(DeviceConfig config, List<ConfigProblem> problems) {
    }

    /** Creates the device-type half. */
    protected abstract VirtioDevice createDevice(DeviceContext context, DeviceConfig config) throws VireoException;

    @Override
    public final List<ConfigProblem> validate(DeviceConfig config) {
        List<ConfigProblem> problems = new ArrayList<>();
        Set<String> known = new TreeSet<>(options());
        known.add("slot");
        for (String key : new TreeSet<>(config.options().keySet())) {
            if (!known.contains(key)) {
                problems.add(new ConfigProblem(key, String.valueOf(config.options().get(key)),
                        "no such option; " + type() + " takes " + known));
            }
        }
        Object slot = config.options().get("slot");
        if (slot != null && !(slot instanceof Number n && n.longValue() >= 1 && n.longValue() <= 31)) {
            problems.add(new ConfigProblem("slot", String.valueOf(slot), "a PCI device number from 1 to 31"));
        }
        validateOptions(config, problems);
        return problems;
    }

    @Override
    public final Device create(DeviceContext context, DeviceConfig config) throws VireoException {
        List<ConfigProblem> problems = validate(config);
        if (!problems.isEmpty()) {
            throw new ConfigException("device " + config.id(), problems);
        }
        int slot = config.number("slot").map(Long::intValue).orElse(-1);
        VirtioDevice device = createDevice(context, config);
        try {
            return new VirtioPciFunction(config.id(), device, context, slot);
        } catch (RuntimeException e) {
            device.close();
            throw new VireoException(context.machine().name() + ": device " + config.id() + " (" + type() + "): "
                    + e.getMessage(), e);
        }
    }
}
