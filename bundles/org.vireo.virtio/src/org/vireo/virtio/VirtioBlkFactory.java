package org.vireo.virtio;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.vireo.api.VireoException;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.device.DeviceFactory;
import org.vireo.api.storage.BlockFormat;
import org.vireo.api.storage.BlockImage;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.DeviceConfig;

/**
 * Device type "virtio-blk". Options: {@code path} (the image, relative to the VM's
 * directory; required), {@code format} (an installed BlockFormat's type, or "auto" to probe
 * the file; default auto), {@code readonly} (default false), {@code cache} (writeback,
 * writethrough or unsafe; default writeback), {@code serial} (up to 20 ASCII characters;
 * default the device id) and {@code slot}.
 */
@Component(service = DeviceFactory.class)
public final class VirtioBlkFactory extends VirtioDeviceFactory {

    private static final Set<String> OPTIONS = Set.of("path", "format", "readonly", "cache", "serial");
    private final Map<String, BlockFormat> formats = new ConcurrentHashMap<>();

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    public void addFormat(BlockFormat format) {
        formats.put(format.type(), format);
    }

    public void removeFormat(BlockFormat format) {
        formats.remove(format.type(), format);
    }

    @Override
    public String type() {
        return VirtioBlk.TYPE;
    }

    @Override
    public String description() {
        return "virtio block device over a disk image (options: path, format, readonly, cache, serial, slot)";
    }

    @Override
    protected Set<String> options() {
        return OPTIONS;
    }

    @Override
    protected void validateOptions(DeviceConfig config, List<ConfigProblem> problems) {
        if (config.string("path").filter(p -> !p.isBlank()).isEmpty()) {
            problems.add(new ConfigProblem("path", String.valueOf(config.options().get("path")),
                    "the disk image's file name (required)"));
        }
        String format = config.string("format").orElse("auto");
        if (!format.equals("auto") && !formats.containsKey(format)) {
            problems.add(new ConfigProblem("format", "\"" + format + "\"", "\"auto\" or an installed format: "
                    + new TreeSet<>(formats.keySet())));
        }
        Object ro = config.options().get("readonly");
        if (ro != null && !(ro instanceof Boolean) && !"true".equals(ro) && !"false".equals(ro)) {
            problems.add(new ConfigProblem("readonly", String.valueOf(ro), "true or false"));
        }
        String cache = config.string("cache").orElse("writeback");
        try {
            VirtioBlk.Cache.valueOf(cache.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            problems.add(new ConfigProblem("cache", "\"" + cache + "\"", "writeback, writethrough or unsafe"));
        }
        String serial = config.string("serial").orElse("");
        if (serial.length() > VirtioBlk.ID_BYTES || !serial.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
            problems.add(new ConfigProblem("serial", "\"" + serial + "\"", "at most 20 printable ASCII characters"));
        }
    }

    @Override
    protected VirtioDevice createDevice(DeviceContext context, DeviceConfig config) throws VireoException {
        Path path = context.resolve(config.string("path").orElseThrow());
        boolean readOnly = Boolean.TRUE.equals(config.options().get("readonly"))
                || "true".equals(config.options().get("readonly"));
        String where = context.machine().name() + ": device " + config.id() + " (" + VirtioBlk.TYPE + ")";
        BlockFormat format = pickFormat(path, config.string("format").orElse("auto"), where);
        BlockImage image;
        try {
            image = format.open(path, readOnly);
        } catch (IOException e) {
            throw new VireoException(where + ": cannot open " + path + ": " + e.getMessage(), e);
        }
        if (image.size() % VirtioBlk.SECTOR != 0) {
            try {
                image.close();
            } catch (IOException e) {
                // reported below
            }
            throw new VireoException(where + ": " + path + " holds " + image.size() + " bytes, not a whole number of "
                    + VirtioBlk.SECTOR + "-byte sectors");
        }
        VirtioBlk.Cache cache = VirtioBlk.Cache.valueOf(config.string("cache").orElse("writeback")
                .toUpperCase(Locale.ROOT));
        return new VirtioBlk(config.id(), image, cache, config.string("serial").orElse(config.id()));
    }

    /** The named format, or for "auto" the first non-raw format that recognizes the file's header, else raw. */
    private BlockFormat pickFormat(Path path, String name, String where) throws VireoException {
        if (!name.equals("auto")) {
            BlockFormat f = formats.get(name);
            if (f == null) {
                throw new VireoException(where + ": format '" + name + "' is not installed; installed: "
                        + new TreeSet<>(formats.keySet()));
            }
            return f;
        }
        byte[] header = new byte[512];
        int n;
        try (InputStream in = Files.newInputStream(path)) {
            n = in.readNBytes(header, 0, header.length);
        } catch (IOException e) {
            throw new VireoException(where + ": cannot read " + path + ": " + e, e);
        }
        byte[] head = java.util.Arrays.copyOf(header, n);
        for (BlockFormat f : formats.values()) {
            if (!f.type().equals("raw") && f.probe(head)) {
                return f;
            }
        }
        BlockFormat raw = formats.get("raw");
        if (raw == null) {
            throw new VireoException(where + ": no installed format recognizes " + path + "; installed: "
                    + new TreeSet<>(formats.keySet()));
        }
        return raw;
    }
}
