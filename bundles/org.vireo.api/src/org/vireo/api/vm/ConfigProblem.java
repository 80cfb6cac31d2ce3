package org.vireo.api.vm;

/**
 * One thing wrong with a VM config: where ({@code path}, e.g. {@code devices[1].type}), what
 * was found there, and what is allowed.
 */
public record ConfigProblem(String path, String found, String expected) {

    /** This problem with {@code prefix} put before its path ("devices[2]" + "." + "path"). */
    public ConfigProblem under(String prefix) {
        return new ConfigProblem(path.isEmpty() ? prefix : prefix + "." + path, found, expected);
    }

    @Override
    public String toString() {
        return (path.isEmpty() ? "config" : path) + ": " + (found == null ? "missing" : found)
                + "; expected " + expected;
    }
}
