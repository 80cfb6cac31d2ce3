package org.vireo.core.runtime;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
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
import java.util.TreeMap;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.vireo.api.VireoException;
import org.vireo.api.vm.BalloonControl;
import org.vireo.api.vm.SavedState;
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
 * balloon  -> {"targetPages":0,"actualPages":0,"targetMiB":0,"actualMiB":0,"stats":{"free-memory":...}}
 *             (a VM with a virtio-balloon device)
 * balloon MIB | balloon pages N -> ok: the balloon's new target, what the guest should give up (0: none)
 * balloon stats -> ok: asks the guest's driver for fresh memory statistics
 * save FILE -> {"file":"/abs/FILE","bytes":...,"memoryPages":...,"millis":...}: the VM saved (it goes on)
 * </pre>
 *
 * For example {@code echo 'balloon 512' | socat - UNIX-CONNECT:~/.vireo/vms/web/control.sock}.
 */
public final class ControlSocket implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ControlSocket.class.getName());
    private static final int PAGES_PER_MIB = (1 << 20) / BalloonControl.PAGE_SIZE;
    static final String FILE = "control.sock";
    /** Bytes of a request line and of an answer line, at most. */
    private static final int MAX_REQUEST = 8 << 10, MAX_REPLY = 64 << 10;

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
                String request = readLine(client, MAX_REQUEST);
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
        if (request.equals("balloon") || request.startsWith("balloon ")) {
            return balloon(request.substring(7).trim(), vm);
        }
        if (request.startsWith("save ")) {
            SavedState saved = manager.save(vm.name(), Path.of(request.substring(5).trim()));
            JsonObject o = new JsonObject();
            o.addProperty("file", saved.file().toString());
            o.addProperty("bytes", saved.bytes());
            o.addProperty("memoryPages", saved.memoryPages());
            o.addProperty("millis", saved.millis());
            return o.toString();
        }
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
                    + "'; known: status, stop, poweroff, pause, resume, save FILE, balloon [MIB | pages N | stats]");
        }
        return "ok";
    }

    /**
     * {@code balloon} answers the balloon's state as JSON; {@code balloon MIB} and
     * {@code balloon pages N} set its target; {@code balloon stats} asks the guest for fresh
     * statistics.
     */
    private static String balloon(String argument, VirtualMachine vm) throws VireoException {
        BalloonControl balloon = vm.control(BalloonControl.class).orElseThrow(() -> new VireoException(
                vm.name() + " has no balloon (a virtio-balloon device)"));
        if (argument.equals("stats")) {
            balloon.requestStats();
            return "ok";
        }
        if (!argument.isEmpty()) {
            boolean pages = argument.startsWith("pages ");
            String number = pages ? argument.substring(6).trim() : argument;
            try {
                int n = Integer.parseInt(number);
                balloon.setTargetPages(pages ? n : Math.multiplyExact(n, PAGES_PER_MIB));
            } catch (IllegalArgumentException | ArithmeticException e) {
                throw new VireoException("balloon " + argument + ": expected " + (pages ? "pages" : "MiB")
                        + " from 0 to the guest's RAM" + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")"));
            }
            return "ok";
        }
        JsonObject o = new JsonObject();
        o.addProperty("targetPages", balloon.targetPages());
        o.addProperty("actualPages", balloon.actualPages());
        o.addProperty("targetMiB", balloon.targetPages() / PAGES_PER_MIB);
        o.addProperty("actualMiB", balloon.actualPages() / PAGES_PER_MIB);
        JsonObject stats = new JsonObject();
        balloon.latestStats().ifPresent(s -> {
            o.addProperty("statsReceived", s.received().toString());
            new TreeMap<>(s.values()).forEach(stats::addProperty);
        });
        o.add("stats", stats);
        return o.toString();
    }

    /**
     * One line of at most {@code max} bytes (what follows is not read: a peer cannot make this
     * side buffer without bound), without its line end.
     */
    private static String readLine(SocketChannel channel, int max) throws IOException {
        InputStream in = new BufferedInputStream(Channels.newInputStream(channel));
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while (line.size() < max && (b = in.read()) >= 0 && b != '\n') {
            line.write(b);
        }
        return line.toString(StandardCharsets.UTF_8).trim();
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
        String reply = ask(directory, command);
        if (!reply.equals("ok")) {
            throw new VireoException(reply);
        }
    }

    /** Has the process running the VM in {@code directory} save it into {@code file} (an absolute path). */
    public static SavedState save(Path directory, Path file) throws VireoException {
        String reply = ask(directory, "save " + file);
        try {
            JsonObject o = JsonParser.parseString(reply).getAsJsonObject();
            return new SavedState(Path.of(o.get("file").getAsString()), o.get("bytes").getAsLong(),
                    o.get("memoryPages").getAsLong(), o.get("millis").getAsLong());
        } catch (RuntimeException e) {
            throw new VireoException("the process running the VM in " + directory + " answered 'save' with '" + reply
                    + "'");
        }
    }

    /** Sends a request and returns the answer; fails with the serving process's error message. */
    public static String ask(Path directory, String request) throws VireoException {
        String reply;
        try {
            reply = exchange(directory.resolve(FILE), request);
        } catch (IOException e) {
            throw new VireoException("cannot reach the process running the VM in " + directory + ": "
                    + e.getMessage(), e);
        }
        if (reply.startsWith("error: ")) {
            throw new VireoException(reply.substring(7));
        }
        return reply;
    }

    private static String exchange(Path path, String request) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            OutputStream out = Channels.newOutputStream(channel);
            out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            String line = readLine(channel, MAX_REPLY);
            if (line.isEmpty()) {
                throw new IOException("no answer on " + path);
            }
            return line;
        }
    }
}
