package org.vireo.virtio;

import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import org.osgi.service.component.annotations.Component;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.device.DeviceFactory;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.VmConsole;

/**
 * Device type "virtio-console": the guest's /dev/hvc0 on a console channel of the VM. Options:
 * {@code channel} (the channel's name, default "hvc0"; "serial0" belongs to the serial port)
 * and {@code slot}. Users reach the channel with {@code vireo run --console hvc0} or
 * {@code VmManager.console(vm, "hvc0")}.
 */
@Component(service = DeviceFactory.class)
public final class VirtioConsoleFactory extends VirtioDeviceFactory {

    public static final String DEFAULT_CHANNEL = "hvc0";
    private static final Pattern CHANNEL = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,31}");

    @Override
    public String type() {
        return VirtioConsole.TYPE;
    }

    @Override
    public String description() {
        return "virtio console (the guest's /dev/hvc0 on a console channel; options: channel, default hvc0; slot)";
    }

    @Override
    protected Set<String> options() {
        return Set.of("channel");
    }

    @Override
    protected void validateOptions(DeviceConfig config, List<ConfigProblem> problems) {
        Object channel = config.options().get("channel");
        if (channel == null) {
            return;
        }
        if (!(channel instanceof String s) || !CHANNEL.matcher(s).matches()) {
            problems.add(new ConfigProblem("channel", String.valueOf(channel),
                    "a channel name of 1-32 letters, digits, '.', '_' or '-', such as \"hvc0\""));
        } else if (s.equals(VmConsole.SERIAL0)) {
            problems.add(new ConfigProblem("channel", "\"" + s + "\"",
                    "another name than serial0, the serial port's channel, such as \"hvc0\""));
        }
    }

    @Override
    protected VirtioDevice createDevice(DeviceContext context, DeviceConfig config) {
        String channel = config.string("channel").orElse(DEFAULT_CHANNEL);
        return new VirtioConsole(config.id(), context.console(channel));
    }
}
