package org.vireo.api.state;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Reads back a section written by {@link StateWriter}. Getters fail with a
 * {@link StateException} that names the section and the field when a field is missing or has
 * another type, so a bad snapshot is refused with a message rather than restored half-way.
 */
public final class StateReader {

    /** Upper bound on one field's length: a corrupt length must not make the host allocate. */
    private static final int MAX_FIELD_BYTES = 1 << 30;

    private final String name;
    private final int version;
    private final Map<String, Object> fields;

    private StateReader(String name, int version, Map<String, Object> fields) {
        this.name = name;
        this.version = version;
        this.fields = fields;
    }

    /** Decodes a section produced by {@link StateWriter#toBytes()}. */
    public static StateReader parse(byte[] encoded) throws StateException {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(encoded))) {
            StateReader reader = read(in, encoded.length);
            if (in.available() != 0) {
                throw new StateException("state section '" + reader.name + "' has "
                        + in.available() + " trailing bytes");
            }
            return reader;
        } catch (EOFException e) {
            throw new StateException("state section is truncated", e);
        } catch (IOException e) {
            throw new StateException("state section is malformed: " + e.getMessage(), e);
        }
    }

    private static StateReader read(DataInputStream in, int limit) throws IOException, StateException {
        String name = in.readUTF();
        int version = in.readInt();
        int count = in.readInt();
        if (count < 0 || count > limit) {
            throw new StateException("state section '" + name + "': bad field count " + count);
        }
        Map<String, Object> fields = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            String key = in.readUTF();
            byte type = in.readByte();
            Object value = switch (type) {
                case StateWriter.BOOLEAN -> in.readBoolean();
                case StateWriter.INT -> in.readInt();
                case StateWriter.LONG -> in.readLong();
                case StateWriter.BYTES -> {
                    byte[] b = new byte[length(in, name, key, limit, 1)];
                    in.readFully(b);
                    yield b;
                }
                case StateWriter.LONGS -> {
                    long[] ls = new long[length(in, name, key, limit, 8)];
                    for (int j = 0; j < ls.length; j++) {
                        ls[j] = in.readLong();
                    }
                    yield ls;
                }
                case StateWriter.STRING -> {
                    byte[] b = new byte[length(in, name, key, limit, 1)];
                    in.readFully(b);
                    yield new String(b, StandardCharsets.UTF_8);
                }
                case StateWriter.SECTION -> read(in, limit);
                default -> throw new StateException("state section '" + name + "' field '" + key
                        + "': unknown type " + type);
            };
            fields.put(key, value);
        }
        return new StateReader(name, version, fields);
    }

    private static int length(DataInputStream in, String name, String key, int limit, int unit)
            throws IOException, StateException {
        int n = in.readInt();
        if (n < 0 || (long) n * unit > Math.min(limit, MAX_FIELD_BYTES)) {
            throw new StateException("state section '" + name + "' field '" + key + "': bad length " + n);
        }
        return n;
    }

    public String name() {
        return name;
    }

    public int version() {
        return version;
    }

    /**
     * Checks that this section is {@code expectedName} at a version this code can read.
     *
     * @throws StateException naming the section and the versions otherwise
     */
    public StateReader expect(String expectedName, int minVersion, int maxVersion) throws StateException {
        if (!name.equals(expectedName)) {
            throw new StateException("expected state of '" + expectedName + "', found '" + name + "'");
        }
        if (version < minVersion || version > maxVersion) {
            throw new StateException("state of '" + name + "' has version " + version
                    + "; this Vireo reads versions " + minVersion + " to " + maxVersion);
        }
        return this;
    }

    public Set<String> keys() {
        return Collections.unmodifiableSet(fields.keySet());
    }

    public boolean has(String key) {
        return fields.containsKey(key);
    }

    public boolean getBoolean(String key) throws StateException {
        return get(key, Boolean.class);
    }

    public int getInt(String key) throws StateException {
        return get(key, Integer.class);
    }

    public long getLong(String key) throws StateException {
        return get(key, Long.class);
    }

    public byte[] getBytes(String key) throws StateException {
        return get(key, byte[].class).clone();
    }

    /** A byte array field that must be exactly {@code length} bytes long. */
    public byte[] getBytes(String key, int length) throws StateException {
        byte[] b = getBytes(key);
        if (b.length != length) {
            throw new StateException("state of '" + name + "': field '" + key + "' has " + b.length
                    + " bytes, expected " + length);
        }
        return b;
    }

    public long[] getLongs(String key) throws StateException {
        return get(key, long[].class).clone();
    }

    public String getString(String key) throws StateException {
        return get(key, String.class);
    }

    public StateReader section(String key) throws StateException {
        return get(key, StateReader.class);
    }

    private <T> T get(String key, Class<T> type) throws StateException {
        Object value = fields.get(key);
        if (value == null) {
            throw new StateException("state of '" + name + "' has no field '" + key + "'");
        }
        if (!type.isInstance(value)) {
            throw new StateException("state of '" + name + "': field '" + key + "' is "
                    + value.getClass().getSimpleName() + ", expected " + type.getSimpleName());
        }
        return type.cast(value);
    }
}
