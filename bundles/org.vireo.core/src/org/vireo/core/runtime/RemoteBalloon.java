package org.vireo.core.runtime;

import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import org.vireo.api.VireoException;
import org.vireo.api.vm.BalloonControl;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * The balloon of a VM that another process runs, reached through that process's control
 * socket: each call is one request, so the figures are as fresh as the other process's. A
 * process that stops answering makes the calls fail with {@link IllegalStateException}
 * carrying the reason.
 */
public final class RemoteBalloon implements BalloonControl {

    private final Path directory;

    private RemoteBalloon(Path directory) {
        this.directory = directory;
    }

    /** The balloon of the VM served from {@code directory}, or empty if the VM has none. */
    public static Optional<BalloonControl> connect(Path directory) throws VireoException {
        try {
            JsonParser.parseString(ControlSocket.ask(directory, "balloon")).getAsJsonObject();
        } catch (VireoException e) {
            if (e.getCause() != null) {
                throw e; // not reached at all
            }
            return Optional.empty(); // it answered: no balloon device
        } catch (RuntimeException e) {
            throw new VireoException("the process running the VM in " + directory
                    + " answered 'balloon' with something else than its state: " + e.getMessage(), e);
        }
        return Optional.of(new RemoteBalloon(directory));
    }

    @Override
    public int targetPages() {
        return state().get("targetPages").getAsInt();
    }

    @Override
    public void setTargetPages(int pages) {
        try {
            ControlSocket.command(directory, "balloon pages " + pages);
        } catch (VireoException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    @Override
    public int actualPages() {
        return state().get("actualPages").getAsInt();
    }

    @Override
    public Optional<Stats> latestStats() {
        JsonObject state = state();
        JsonElement received = state.get("statsReceived");
        if (received == null || received.isJsonNull()) {
            return Optional.empty();
        }
        Map<String, Long> values = new LinkedHashMap<>();
        state.getAsJsonObject("stats").entrySet().forEach(e -> values.put(e.getKey(), e.getValue().getAsLong()));
        return Optional.of(new Stats(Instant.parse(received.getAsString()), values));
    }

    @Override
    public void requestStats() {
        ask("balloon stats");
    }

    private JsonObject state() {
        try {
            return JsonParser.parseString(ask("balloon")).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IllegalStateException("balloon of the VM in " + directory + ": " + e.getMessage(), e);
        }
    }

    private String ask(String request) {
        try {
            return ControlSocket.ask(directory, request);
        } catch (VireoException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }
}
