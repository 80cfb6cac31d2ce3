package org.vireo.core;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.vireo.api.vm.VmState;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * How a library VM's last run ended ({@code last-run.json} in its directory), so that a VM
 * that failed still shows FAILED and why after the process that ran it has gone.
 */
record LastRun(VmState state, String message, Instant time) {

    private static final Logger LOG = Logger.getLogger(LastRun.class.getName());
    static final String FILE = "last-run.json";

    static void write(Path directory, VmState state, String message) {
        JsonObject o = new JsonObject();
        o.addProperty("state", state.name());
        o.addProperty("message", message);
        o.addProperty("time", Instant.now().toString());
        try {
            AtomicFiles.write(directory.resolve(FILE), o + "\n");
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot record the end of the run in " + directory.resolve(FILE), e);
        }
    }

    static Optional<LastRun> read(Path directory) {
        Path file = directory.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            JsonObject o = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
            VmState state = VmState.valueOf(o.get("state").getAsString());
            if (state.isActive()) {
                // The process that ran the VM died without recording the end.
                return Optional.empty();
            }
            String message = o.has("message") && !o.get("message").isJsonNull() ? o.get("message").getAsString() : null;
            return Optional.of(new LastRun(state, message, Instant.parse(o.get("time").getAsString())));
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.FINE, "ignoring unreadable " + file, e);
            return Optional.empty();
        }
    }
}
