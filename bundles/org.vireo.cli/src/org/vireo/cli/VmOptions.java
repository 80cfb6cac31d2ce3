package org.vireo.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.vireo.api.VireoException;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.VmConfig;

import picocli.CommandLine.Option;

/** The options that describe a VM on the command line, shared by run, create and demo. */
final class VmOptions {

    @Option(names = "--kernel", paramLabel = "FILE", description = "bzImage or ELF vmlinux to boot")
    Path kernel;

    @Option(names = "--initrd", paramLabel = "FILE", description = "initramfs to load")
    Path initrd;

    @Option(names = "--append", paramLabel = "CMDLINE", description = "kernel command line (default: ${DEFAULT-VALUE})",
            defaultValue = "console=ttyS0 reboot=k panic=-1")
    String append;

    @Option(names = {"-m", "--memory"}, paramLabel = "SIZE", description = "guest RAM, e.g. 256M or 2G (default: ${DEFAULT-VALUE})",
            defaultValue = "256M")
    String memory;

    @Option(names = {"-c", "--cpus"}, paramLabel = "N", description = "number of vCPUs (default: ${DEFAULT-VALUE})",
            defaultValue = "1")
    int cpus;

    @Option(names = {"-b", "--backend"}, paramLabel = "TYPE",
            description = "CPU backend: kvm, emu or auto (KVM where usable, else the emulator; default: ${DEFAULT-VALUE})",
            defaultValue = "auto")
    String backend;

    @Option(names = {"-d", "--device"}, paramLabel = "TYPE[,KEY=VALUE...]",
            description = "add a device, e.g. virtio-blk,path=disk.img (repeatable)")
    List<String> devices = new ArrayList<>();

    /** Builds a config; file paths become absolute so the VM does not depend on the current directory. */
    VmConfig toConfig(String name) throws VireoException {
        if (kernel == null) {
            throw new VireoException("--kernel is required: the bzImage or ELF vmlinux to boot");
        }
        Long bytes = parseSize(memory);
        if (bytes == null) {
            throw new VireoException("--memory " + memory + ": expected a size like 256M or 2G");
        }
        List<DeviceConfig> list = new ArrayList<>();
        for (int i = 0; i < devices.size(); i++) {
            list.add(parseDevice(devices.get(i), i));
        }
        BootConfig boot = new BootConfig(kernel.toAbsolutePath().toString(),
                initrd == null ? null : initrd.toAbsolutePath().toString(), append);
        return new VmConfig(name, backend, cpus, bytes, boot, list);
    }

    static DeviceConfig parseDevice(String spec, int index) throws VireoException {
        String[] parts = spec.split(",");
        String type = parts[0].trim();
        if (type.isEmpty()) {
            throw new VireoException("--device " + spec + ": expected TYPE[,KEY=VALUE...]");
        }
        String id = null;
        Map<String, Object> options = new LinkedHashMap<>();
        for (int i = 1; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            if (eq <= 0) {
                throw new VireoException("--device " + spec + ": '" + parts[i] + "' is not KEY=VALUE");
            }
            String key = parts[i].substring(0, eq).trim();
            String value = parts[i].substring(eq + 1).trim();
            if (key.equals("id")) {
                id = value;
            } else {
                options.put(key, typed(value));
            }
        }
        return new DeviceConfig(type, id == null ? type.replaceAll("[^A-Za-z0-9]", "") + index : id, options);
    }

    private static Object typed(String value) {
        if (value.equals("true") || value.equals("false")) {
            return Boolean.valueOf(value);
        }
        if (value.matches("-?\\d{1,18}")) {
            return Long.valueOf(value);
        }
        return value;
    }

    static Long parseSize(String text) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,12})([KMGT]?)", java.util.regex.Pattern.CASE_INSENSITIVE)
                .matcher(text.trim());
        if (!m.matches()) {
            return null;
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2).toUpperCase(java.util.Locale.ROOT)) {
            case "K" -> n << 10;
            case "M" -> n << 20;
            case "G" -> n << 30;
            case "T" -> n << 40;
            default -> n;
        };
    }
}
