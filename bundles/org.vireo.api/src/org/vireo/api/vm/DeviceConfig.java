package org.vireo.api.vm;

import java.util.Map;
import java.util.Optional;

/**
 * One entry of a VM config's {@code devices} list: its type, its id in the VM, and the
 * type's own options as parsed from JSON (String, Boolean, Long, Double, List, Map).
 */
public record DeviceConfig(String type, String id, Map<String, Object> options) {

    public DeviceConfig {
        options = Map.copyOf(options);
    }

    public Optional<String> string(String key) {
        return options.get(key) instanceof String s ? Optional.of(s) : Optional.empty();
    }

    public Optional<Long> number(String key) {
        return options.get(key) instanceof Number n ? Optional.of(n.longValue()) : Optional.empty();
    }

    public Optional<Boolean> flag(String key) {
        return options.get(key) instanceof Boolean b ? Optional.of(b) : Optional.empty();
    }
}
