package org.vireo.virtio;

import java.util.List;
import java.util.Set;

import org.osgi.service.component.annotations.Component;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.device.DeviceFactory;
import org.vireo.api.vm.BalloonControl;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.DeviceConfig;

/**
 * Device type "virtio-balloon": the guest gives memory back to the host on request. Options:
 * {@code stats-interval} (seconds between requests for the guest's memory statistics; default
 * 0, only on demand) and {@code slot}. The device publishes its {@link BalloonControl}, which
 * {@code VmManager.balloon(vm)} and the control socket's {@code balloon [MIB]} reach.
 */
@Component(service = DeviceFactory.class)
public final class VirtioBalloonFactory extends VirtioDeviceFactory {

    static final String STATS_INTERVAL = "stats-interval";
    private static final long MAX_STATS_INTERVAL = 86_400;

    @Override
    public String type() {
        return VirtioBalloon.TYPE;
    }

    @Override
    public String description() {
        return "virtio memory balloon (the host sets a target, the guest gives pages back; options: stats-interval,"
                + " slot)";
    }

    @Override
    protected Set<String> options() {
        return Set.of(STATS_INTERVAL);
    }

    @Override
    protected void validateOptions(DeviceConfig config, List<ConfigProblem> problems) {
        Object interval = config.options().get(STATS_INTERVAL);
        if (interval != null && !(interval instanceof Number n && n.doubleValue() == n.longValue()
                && n.longValue() >= 0 && n.longValue() <= MAX_STATS_INTERVAL)) {
            problems.add(new ConfigProblem(STATS_INTERVAL, String.valueOf(interval),
                    "whole seconds from 0 (only on request) to " + MAX_STATS_INTERVAL));
        }
    }

    @Override
    protected VirtioDevice createDevice(DeviceContext context, DeviceConfig config) {
        int interval = config.number(STATS_INTERVAL).map(Long::intValue).orElse(0);
        VirtioBalloon balloon = new VirtioBalloon(config.id(), context.machine().memory(), interval);
        context.publish(BalloonControl.class, balloon);
        return balloon;
    }
}
