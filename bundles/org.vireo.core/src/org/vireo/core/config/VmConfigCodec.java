package org.vireo.core.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.ConfigException;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.api.vm.VmConfig;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;

/**
 * Reads and writes {@code vm.json}. Reading checks the shape of the document (fields, types,
 * ranges) and collects every problem with its path; whether a named backend or device type
 * is installed is checked later, by the manager that knows what is installed.
 */
public final class VmConfigCodec {

    /** VM names become directory names: keep them portable. */
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    public static final int MAX_VCPUS = 255;
    public static final long MIN_MEMORY = 16L << 20;
    public static final long MAX_MEMORY = 1L << 40;

    private static final Set<String> TOP_LEVEL = Set.of("name", "cpu", "vcpus", "memory", "boot", "devices");
    private static final Set<String> BOOT_FIELDS = Set.of("kernel", "initrd", "cmdline");
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([KMGT]?)(i?B)?", Pattern.CASE_INSENSITIVE);

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    private VmConfigCodec() {
    }

    /**
     * Parses a config document.
     *
     * @param source what to call the document in messages (a file name)
     * @throws ConfigException listing every problem found
     */
    public static VmConfig parse(String json, String source) throws ConfigException {
        JsonElement root;
        try {
            JsonReader reader = new JsonReader(new java.io.StringReader(json));
            reader.setStrictness(Strictness.STRICT);
            root = JsonParser.parseReader(reader);
        } catch (JsonParseException | IllegalStateException e) {
            throw new ConfigException(source, List.of(new ConfigProblem("", "malformed JSON ("
                    + e.getMessage() + ")", "a JSON object")));
        }
        List<ConfigProblem> problems = new ArrayList<>();
        if (root == null || !root.isJsonObject()) {
            throw new ConfigException(source, List.of(new ConfigProblem("", describe(root), "a JSON object")));
        }
        JsonObject o = root.getAsJsonObject();
        unknownFields(o, TOP_LEVEL, "", problems);

        String name = string(o, "name", "name", true, problems);
        if (name != null && !NAME.matcher(name).matches()) {
            problems.add(new ConfigProblem("name", quote(name),
                    "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"));
        }
        String cpu = string(o, "cpu", "cpu", false, problems);
        if (cpu == null) {
            cpu = VmConfig.CPU_AUTO;
        }
        int vcpus = 1;
        if (o.has("vcpus")) {
            Long n = integer(o.get("vcpus"), "vcpus", problems);
            if (n != null) {
                if (n < 1 || n > MAX_VCPUS) {
                    problems.add(new ConfigProblem("vcpus", n.toString(), "a whole number from 1 to " + MAX_VCPUS));
                } else {
                    vcpus = n.intValue();
                }
            }
        }
        long memory = 256L << 20;
        if (o.has("memory")) {
            Long m = memory(o.get("memory"), problems);
            if (m != null) {
                memory = m;
            }
        }
        BootConfig boot = null;
        if (!o.has("boot")) {
            problems.add(new ConfigProblem("boot", null, "an object with at least \"kernel\""));
        } else if (!o.get("boot").isJsonObject()) {
            problems.add(new ConfigProblem("boot", describe(o.get("boot")), "an object with at least \"kernel\""));
        } else {
            JsonObject b = o.getAsJsonObject("boot");
            unknownFields(b, BOOT_FIELDS, "boot", problems);
            String kernel = string(b, "kernel", "boot.kernel", true, problems);
            String initrd = string(b, "initrd", "boot.initrd", false, problems);
            String cmdline = string(b, "cmdline", "boot.cmdline", false, problems);
            if (kernel != null && kernel.isBlank()) {
                problems.add(new ConfigProblem("boot.kernel", "\"\"", "the path of a bzImage or ELF vmlinux"));
            }
            boot = new BootConfig(kernel, initrd, cmdline == null ? "" : cmdline);
        }
        List<DeviceConfig> devices = devices(o, problems);
        if (!problems.isEmpty()) {
            throw new ConfigException(source, problems);
        }
        return new VmConfig(name, cpu, vcpus, memory, boot, devices);
    }

    private static List<DeviceConfig> devices(JsonObject o, List<ConfigProblem> problems) {
        List<DeviceConfig> devices = new ArrayList<>();
        if (!o.has("devices")) {
            return devices;
        }
        if (!o.get("devices").isJsonArray()) {
            problems.add(new ConfigProblem("devices", describe(o.get("devices")), "a list of device objects"));
            return devices;
        }
        JsonArray list = o.getAsJsonArray("devices");
        Set<String> ids = new java.util.HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String path = "devices[" + i + "]";
            JsonElement e = list.get(i);
            if (!e.isJsonObject()) {
                problems.add(new ConfigProblem(path, describe(e), "a device object with a \"type\""));
                continue;
            }
            JsonObject d = e.getAsJsonObject();
            String type = string(d, "type", path + ".type", true, problems);
            String id = string(d, "id", path + ".id", false, problems);
            if (type == null) {
                continue;
            }
            if (id == null) {
                id = type.replaceAll("[^A-Za-z0-9]", "") + i;
            } else if (!NAME.matcher(id).matches()) {
                problems.add(new ConfigProblem(path + ".id", quote(id), "letters, digits, '.', '_' or '-'"));
            }
            if (!ids.add(id)) {
                problems.add(new ConfigProblem(path + ".id", quote(id), "an id no other device of this VM has"));
            }
            Map<String, Object> options = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> field : d.entrySet()) {
                if (!field.getKey().equals("type") && !field.getKey().equals("id")) {
                    options.put(field.getKey(), toJava(field.getValue()));
                }
            }
            devices.add(new DeviceConfig(type, id, options));
        }
        return devices;
    }

    /** Parses "256M", "1G", "1048576" (bytes) or a number of MiB. */
    public static Long parseSize(String text) {
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            return null;
        }
        try {
            long n = Long.parseLong(m.group(1));
            int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
                case "K" -> 10;
                case "M" -> 20;
                case "G" -> 30;
                case "T" -> 40;
                default -> 0;
            };
            if (n > (Long.MAX_VALUE >> shift)) {
                return null;
            }
            return n << shift;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static Long memory(JsonElement e, List<ConfigProblem> problems) {
        String expected = "a size from 16M to 1T, in MiB as a number or as a string like \"512M\" or \"2G\", "
                + "a multiple of 4K";
        Long bytes = null;
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            Long mib = integer(e, "memory", problems);
            if (mib == null) {
                return null;
            }
            bytes = mib > (MAX_MEMORY >> 20) || mib < 0 ? -1 : mib << 20;
        } else if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            bytes = parseSize(e.getAsString());
        }
        if (bytes == null || bytes < MIN_MEMORY || bytes > MAX_MEMORY || (bytes & 0xfff) != 0) {
            problems.add(new ConfigProblem("memory", describe(e), expected));
            return null;
        }
        return bytes;
    }

    private static Long integer(JsonElement e, String path, List<ConfigProblem> problems) {
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            java.math.BigDecimal d = e.getAsBigDecimal();
            try {
                return d.longValueExact();
            } catch (ArithmeticException notWhole) {
                // fall through to the problem below
            }
        }
        problems.add(new ConfigProblem(path, describe(e), "a whole number"));
        return null;
    }

    private static String string(JsonObject o, String key, String path, boolean required, List<ConfigProblem> problems) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            if (required) {
                problems.add(new ConfigProblem(path, null, "a string"));
            }
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            problems.add(new ConfigProblem(path, describe(e), "a string"));
            return null;
        }
        return e.getAsString();
    }

    private static void unknownFields(JsonObject o, Set<String> allowed, String path, List<ConfigProblem> problems) {
        for (String key : o.keySet()) {
            if (!allowed.contains(key)) {
                problems.add(new ConfigProblem(path.isEmpty() ? key : path + "." + key, "an unknown field",
                        "one of " + new java.util.TreeSet<>(allowed)));
            }
        }
    }

    private static String describe(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return "null";
        }
        if (e.isJsonObject()) {
            return "an object";
        }
        if (e.isJsonArray()) {
            return "a list";
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        return p.isString() ? quote(p.getAsString()) : p.toString();
    }

    private static String quote(String s) {
        return GSON.toJson(s);
    }

    private static Object toJava(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (e.isJsonObject()) {
            Map<String, Object> m = new LinkedHashMap<>();
            e.getAsJsonObject().entrySet().forEach(f -> m.put(f.getKey(), toJava(f.getValue())));
            return m;
        }
        if (e.isJsonArray()) {
            List<Object> l = new ArrayList<>();
            e.getAsJsonArray().forEach(x -> l.add(toJava(x)));
            return l;
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        if (p.isBoolean()) {
            return p.getAsBoolean();
        }
        if (p.isString()) {
            return p.getAsString();
        }
        java.math.BigDecimal d = p.getAsBigDecimal();
        try {
            return d.longValueExact();
        } catch (ArithmeticException notWhole) {
            return d.doubleValue();
        }
    }

    private static JsonElement toJson(Object value) {
        return GSON.toJsonTree(value);
    }

    /** The config as a pretty-printed {@code vm.json} document. */
    public static String format(VmConfig config) {
        JsonObject o = new JsonObject();
        o.addProperty("name", config.name());
        o.addProperty("cpu", config.cpu());
        o.addProperty("vcpus", config.vcpus());
        o.addProperty("memory", formatSize(config.memoryBytes()));
        JsonObject boot = new JsonObject();
        boot.addProperty("kernel", config.boot().kernel());
        if (config.boot().initrd() != null) {
            boot.addProperty("initrd", config.boot().initrd());
        }
        boot.addProperty("cmdline", config.boot().cmdline());
        o.add("boot", boot);
        JsonArray devices = new JsonArray();
        for (DeviceConfig d : config.devices()) {
            JsonObject dev = new JsonObject();
            dev.addProperty("type", d.type());
            dev.addProperty("id", d.id());
            d.options().forEach((k, v) -> dev.add(k, toJson(v)));
            devices.add(dev);
        }
        o.add("devices", devices);
        return GSON.toJson(o) + "\n";
    }

    /** "256M", "1G", or bytes with the largest exact unit. */
    public static String formatSize(long bytes) {
        String[] units = {"T", "G", "M", "K"};
        int[] shifts = {40, 30, 20, 10};
        for (int i = 0; i < units.length; i++) {
            if (bytes != 0 && (bytes & ((1L << shifts[i]) - 1)) == 0) {
                return (bytes >> shifts[i]) + units[i];
            }
        }
        return Long.toString(bytes);
    }
}
