package org.vireo.storage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The host's own tools, asked what they see: stat, chattr, id, qemu-img. */
final class HostTools {

    private HostTools() {
    }

    /** The output and exit status of a finished command. */
    record Result(int status, String output) {
    }

    static Result run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(List.of(command) + " did not finish in 60 s");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8).trim());
    }

    /** Bytes the host has allocated to {@code file} ({@code stat}'s %b blocks of %B bytes). */
    static long allocatedBytes(Path file) throws IOException, InterruptedException {
        Result r = run("stat", "--format=%b %B", file.toString());
        if (r.status() != 0) {
            throw new IOException("stat " + file + ": " + r.output());
        }
        String[] parts = r.output().split(" ");
        return Long.parseLong(parts[0]) * Long.parseLong(parts[1]);
    }

    static boolean runningAsRoot() throws IOException, InterruptedException {
        return run("id", "-u").output().equals("0");
    }

    /** Sets or clears the immutable attribute; false if the host does not let us. */
    static boolean immutable(Path file, boolean on) throws InterruptedException {
        try {
            return run("chattr", on ? "+i" : "-i", file.toString()).status() == 0;
        } catch (IOException e) {
            return false; // no chattr
        }
    }

    static boolean installed(String tool) throws InterruptedException {
        try {
            return run("sh", "-c", "command -v " + tool).status() == 0;
        } catch (IOException e) {
            return false;
        }
    }
}
