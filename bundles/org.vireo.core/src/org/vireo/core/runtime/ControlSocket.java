package org.vireo.core.runtime;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.vireo.api.VireoException;
import org.vireo.api.vm.VmManager;
import org.vireo.api.vm.VmState;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * The control socket of a library VM: a Unix domain socket in the VM's directory, served by
 * the process that runs the VM, so that other {@code vireo} processes can ask its state and
 * stop, pause or resume it. One request line, one reply line:
 *
 * <pre>
 * status   -> {"state":"RUNNING","since":"...","backend":"emu","pid":123,"message":null}
 * stop | poweroff | pause | resume -> ok | error: message
 * </pre>
 */
public final class ControlSocket implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ControlSocket.class.getName());
    static final String FILE = "control.sock";
    private static final int MAX_LINE = 256;

    private final Path path;
    private final ServerSocketChannel server;
    private final Thread thread;

    private ControlSocket(Path path, ServerSocketChannel server, VirtualMachine vm, VmManager manager) {
        this.path = path;
        this.server = server;
        this.thread = new Thread(() -> serve(vm, manager), "vireo-" + vm.name() + "-control");
        thread.setDaemon(true);
        thread.start();
    }

    /** Starts answering for {@code vm} on {@code directory}/control.sock. */
    public static ControlSocket serve(Path directory, VirtualMachine vm, VmManager manager) throws IOException {
        Path path = directory.resolve(FILE);
        // A socket file left by a process that died is stale: nobody answers on it.
        if (Files.exists(path) && query(directory).isEmpty()) {
            Files.delete(path);
        }
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        return new ControlSocket(path, server, vm, manager);
    }

    private void serve(VirtualMachine vm, VmManager manager) {
        while (server.isOpen()) {
            try (SocketChannel client = server.accept()) {
                String request = readLine(client);
                String reply;
                try {
                    reply = handle(request, vm, manager);
                } catch (VireoException e) {
                    reply = "error: " + e.getMessage().replace('\n', ' ');
                }
                OutputStream out = Channels.newOutputStream(client);
                out.write((reply + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException e) {
                if (server.isOpen()) {
                    LOG.log(Level.FINE, "control socket of " + vm.name(), e);
                }
            }
        }
    }

    private static String handle(String request, VirtualMachine vm, VmManager manager) throws VireoException {
        switch (request) {
            case "status" -> {
                JsonObject o = new JsonObject();
                o.addProperty("state", vm.state().name());
                o.addProperty("since", vm.since().toString());
                o.addProperty("backend", vm.backend().type());
                o.addProperty("pid", ProcessHandle.current().pid());
                o.addProperty("message", vm.message());
                return o.toString();
            }
            case "stop" -> manager.stop(vm.name(), false);
            case "poweroff" -> manager.stop(vm.name(), true);
            case "pause" -> manager.pause(vm.name());
            case "resume" -> manager.resume(vm.name());
            default -> throw new VireoException("unknown command '" + request
                    + "'; known: status, stop, poweroff, pause, resume");
        }
        return "ok";
    }

    private static String readLine(SocketChannel channel) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel),
                StandardCharsets.UTF_8), MAX_LINE);
        String line = in.readLine();
        return line == null ? "" : line.length() > MAX_LINE ? line.substring(0, MAX_LINE) : line.trim();
    }

    @Override
    public void close() {
        try {
            server.close();
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.log(Level.FINE, "closing " + path, e);
        }
    }

    /** What {@code status} answers. */
    public record Status(VmState state, Instant since, String backend, long pid, String message) {
    }

    /** Asks the process running the VM in {@code directory}; empty if none answers. */
    public static Optional<Status> query(Path directory) {
        Path path = directory.resolve(FILE);
        if (!Files.exists(path)) {
            return Optional.empty();
        }
        try {
            JsonObject o = JsonParser.parseString(exchange(path, "status")).getAsJsonObject();
            return Optional.of(new Status(VmState.valueOf(o.get("state").getAsString()),
                    Instant.parse(o.get("since").getAsString()), o.get("backend").getAsString(),
                    o.get("pid").getAsLong(), o.get("message").isJsonNull() ? null : o.get("message").getAsString()));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Sends a lifecycle command; fails with the serving process's error message. */
    public static void command(Path directory, String command) throws VireoException {
        String reply;
        try {
            reply = exchange(directory.resolve(FILE), command);
        } catch (IOException e) {
            throw new VireoException("cannot reach the process running the VM in " + directory + ": "
                    + e.getMessage(), e);
        }
        if (!reply.equals("ok")) {
            throw new VireoException(reply.startsWith("error: ") ? reply.substring(7) : reply);
        }
    }

    private static String exchange(Path path, String request) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            OutputStream out = Channels.newOutputStream(channel);
            out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            String line = readLine(channel);
            if (line.isEmpty()) {
                throw new IOException("no answer on " + path);
            }
            return line;
        }
    }
}
