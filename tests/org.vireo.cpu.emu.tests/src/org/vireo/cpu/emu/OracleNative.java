package org.vireo.cpu.emu;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The host CPU as an oracle: compiles native/oracle.c with the system gcc and runs batches
 * of {@link OracleCase}s through one process each.
 */
final class OracleNative {

    /** System property naming oracle.c, for builds that run tests away from the source tree. */
    static final String SOURCE_PROPERTY = "vireo.emu.oracle.source";

    private final Path executable;
    private final Path workDirectory;

    private OracleNative(Path executable, Path workDirectory) {
        this.executable = executable;
        this.workDirectory = workDirectory;
    }

    /**
     * Compiles the oracle into a temporary directory.
     *
     * @throws IllegalStateException naming what is missing: an x86-64 Linux host, gcc, or oracle.c
     */
    static OracleNative build() throws IOException, InterruptedException {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new IllegalStateException("the native oracle needs an x86-64 Linux host; this is " + os + "/" + arch);
        }
        Path gcc = findOnPath("gcc");
        if (gcc == null) {
            throw new IllegalStateException("the native oracle needs gcc on PATH to compile oracle.c; PATH="
                    + System.getenv("PATH") + " (install gcc)");
        }
        Path source = findSource();
        Path dir = Files.createTempDirectory("vireo-oracle");
        Path exe = dir.resolve("oracle");
        Process p = new ProcessBuilder(gcc.toString(), "-O1", "-o", exe.toString(), source.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("gcc failed to compile " + source + ":\n" + log);
        }
        return new OracleNative(exe, dir);
    }

    private static Path findOnPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(File.pathSeparator)) {
            Path candidate = Paths.get(dir, name);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    /** oracle.c: from the system property, else found by walking up from the working directory. */
    static Path findSource() {
        String configured = System.getProperty(SOURCE_PROPERTY);
        if (configured != null) {
            Path p = Paths.get(configured);
            if (!Files.isRegularFile(p)) {
                throw new IllegalStateException(SOURCE_PROPERTY + " names " + p + ", which is not a file");
            }
            return p;
        }
        Path start = Paths.get("").toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            for (String relative : new String[] {"tests/org.vireo.cpu.emu.tests/native/oracle.c", "native/oracle.c"}) {
                Path candidate = dir.resolve(relative);
                if (Files.isRegularFile(candidate)) {
                    return candidate;
                }
            }
        }
        throw new IllegalStateException("cannot find native/oracle.c above " + start + "; set -D" + SOURCE_PROPERTY);
    }

    /** Runs the cases through one oracle process and returns its outcomes in order. */
    List<OracleCase.Outcome> run(List<OracleCase> cases) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(executable.toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        // Feed stdin from another thread: the oracle answers while it reads, and both pipes are bounded.
        CompletableFuture<Void> feeder = CompletableFuture.runAsync(() -> {
            try (BufferedWriter w = new BufferedWriter(new OutputStreamWriter(p.getOutputStream(),
                    StandardCharsets.US_ASCII), 1 << 16)) {
                for (OracleCase c : cases) {
                    w.write(c.line());
                    w.write('\n');
                }
            } catch (IOException e) {
                throw new IllegalStateException("writing to the oracle failed", e);
            }
        });
        List<OracleCase.Outcome> outcomes = new ArrayList<>(cases.size());
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII),
                1 << 16)) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.startsWith("ERROR")) {
                    throw new IllegalStateException("oracle rejected case " + outcomes.size() + ": " + line);
                }
                outcomes.add(OracleCase.Outcome.parse(line));
            }
        }
        feeder.join();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("the oracle did not exit");
        }
        if (outcomes.size() != cases.size()) {
            throw new IllegalStateException("the oracle answered " + outcomes.size() + " of " + cases.size()
                    + " cases (exit status " + p.exitValue() + "): it died on case " + outcomes.size());
        }
        return outcomes;
    }

    /** The host objdump's disassembly of {@code code}, or a note that there is none. */
    String disassemble(byte[] code) {
        Path objdump = findOnPath("objdump");
        if (objdump == null) {
            return "(no objdump on PATH)";
        }
        try {
            Path bin = Files.createTempFile(workDirectory, "insn", ".bin");
            Files.write(bin, code);
            Process p = new ProcessBuilder(objdump.toString(), "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel",
                    bin.toString()).redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            Files.deleteIfExists(bin);
            StringBuilder s = new StringBuilder();
            for (String line : text.split("\n")) {
                // Instruction lines look like "   0:\t48 01 c8 \tadd    rax,rcx".
                int tab = line.lastIndexOf('\t');
                if (line.matches("\\s+[0-9a-f]+:\t.*") && tab > 0) {
                    s.append(s.length() == 0 ? "" : "; ").append(line.substring(tab + 1).trim().replaceAll("\\s+", " "));
                }
            }
            return s.toString();
        } catch (IOException e) {
            return "(objdump failed: " + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted)";
        }
    }

    /** Removes the compiled oracle. */
    void delete() throws IOException {
        try (var files = Files.list(workDirectory)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
        }
        Files.deleteIfExists(workDirectory);
    }
}
