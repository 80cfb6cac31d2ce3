package org.vireo.api.state;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Collects one component's saved state: a named, versioned section of typed fields, possibly
 * with nested sections. Every device writes its whole state through one of these, and
 * {@link StateReader} gives it back on restore.
 *
 * <p>The encoding is self-describing (each field carries its key and type), so a reader of a
 * newer version can see which fields an older writer left out and choose defaults.
 *
 * <pre>
 * section := utf(name) int(version) int(count) field*count
 * field   := utf(key) byte(type) value
 * </pre>
 */
public final class StateWriter {

    static final byte BOOLEAN = 1;
    static final byte INT = 2;
    static final byte LONG = 3;
    static final byte BYTES = 4;
    static final byte STRING = 5;
    static final byte SECTION = 6;
    static final byte LONGS = 7;

    private final String name;
    private final int version;
    private final Map<String, Object> fields = new LinkedHashMap<>();

    public StateWriter(String name, int version) {
        this.name = name;
        this.version = version;
    }

    public String name() {
        return name;
    }

    public int version() {
        return version;
    }

    public StateWriter putBoolean(String key, boolean value) {
        return put(key, value);
    }

    public StateWriter putInt(String key, int value) {
        return put(key, value);
    }

    public StateWriter putLong(String key, long value) {
        return put(key, value);
    }

    public StateWriter putBytes(String key, byte[] value) {
        return put(key, value.clone());
    }

    public StateWriter putLongs(String key, long[] value) {
        return put(key, value.clone());
    }

    public StateWriter putString(String key, String value) {
        return put(key, value);
    }

    /** Starts a nested section under {@code key} and returns its writer. */
    public StateWriter section(String key, int sectionVersion) {
        StateWriter child = new StateWriter(key, sectionVersion);
        put(key, child);
        return child;
    }

    private StateWriter put(String key, Object value) {
        if (fields.putIfAbsent(key, value) != null) {
            throw new IllegalArgumentException(name + ": state field '" + key + "' written twice");
        }
        return this;
    }

    /** The encoded section. */
    public byte[] toBytes() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            writeTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    void writeTo(DataOutputStream out) throws IOException {
        out.writeUTF(name);
        out.writeInt(version);
        out.writeInt(fields.size());
        for (Map.Entry<String, Object> field : fields.entrySet()) {
            out.writeUTF(field.getKey());
            Object value = field.getValue();
            if (value instanceof Boolean b) {
                out.writeByte(BOOLEAN);
                out.writeBoolean(b);
            } else if (value instanceof Integer i) {
                out.writeByte(INT);
                out.writeInt(i);
            } else if (value instanceof Long l) {
                out.writeByte(LONG);
                out.writeLong(l);
            } else if (value instanceof byte[] b) {
                out.writeByte(BYTES);
                out.writeInt(b.length);
                out.write(b);
            } else if (value instanceof long[] ls) {
                out.writeByte(LONGS);
                out.writeInt(ls.length);
                for (long l : ls) {
                    out.writeLong(l);
                }
            } else if (value instanceof String s) {
                out.writeByte(STRING);
                byte[] utf8 = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                out.writeInt(utf8.length);
                out.write(utf8);
            } else {
                out.writeByte(SECTION);
                ((StateWriter) value).writeTo(out);
            }
        }
    }
}
