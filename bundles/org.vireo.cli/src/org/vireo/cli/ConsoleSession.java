package org.vireo.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

import org.vireo.api.VireoException;
import org.vireo.api.vm.VmConsole;
import org.vireo.api.vm.VmInfo;
import org.vireo.api.vm.VmManager;
import org.vireo.api.vm.VmState;

/**
 * Connects the terminal to one console channel of a running VM (its serial console unless
 * told otherwise) until the VM stops: guest output to stdout, keystrokes to the guest. On a terminal, the keyboard goes to raw mode so that
 * Ctrl-C reaches the guest; Ctrl-A is the escape key, as in QEMU: Ctrl-A x powers the VM
 * off, Ctrl-A s asks it to shut down, Ctrl-A h lists these, Ctrl-A Ctrl-A sends Ctrl-A.
 */
final class ConsoleSession {

    private static final int CTRL_A = 0x01;

    private final VmManager manager;
    private final String name;
    private final String channel;
    private final PrintWriter err;

    ConsoleSession(VmManager manager, String name, PrintWriter err) {
        this(manager, name, VmConsole.SERIAL0, err);
    }

    /** @param channel the VM's console channel to attach: "serial0", or a virtio-console's "hvc0" */
    ConsoleSession(VmManager manager, String name, String channel, PrintWriter err) {
        this.manager = manager;
        this.name = name;
        this.channel = channel;
        this.err = err;
    }

    /** Runs until the VM stops; returns the command's exit code. */
    int run(boolean interactive) throws VireoException, InterruptedException {
        VmConsole console;
        try {
            console = manager.console(name, channel);
        } catch (VireoException e) {
            try {
                manager.stop(name, true); // started for this terminal: do not leave it running unseen
            } catch (VireoException stopFailed) {
                e.addSuppressed(stopFailed);
            }
            throw e;
        }
        OutputStream stdout = System.out;
        Terminal terminal = interactive ? Terminal.raw() : null;
        try (AutoCloseable subscription = console.subscribe(chunk -> write(stdout, chunk))) {
            if (interactive) {
                Thread keyboard = new Thread(() -> pumpKeyboard(System.in, console), "vireo-keyboard");
                keyboard.setDaemon(true);
                keyboard.start();
            }
            manager.awaitStop(name, Long.MAX_VALUE);
        } catch (VireoException | InterruptedException e) {
            throw e;
        } catch (Exception e) {
            throw new VireoException("console of " + name + ": " + e.getMessage(), e);
        } finally {
            if (terminal != null) {
                terminal.restore();
            }
        }
        write(stdout, new byte[0]);
        VmInfo info = manager.find(name).orElse(null);
        VmState state = info == null ? VmState.STOPPED : info.state();
        String why = info == null ? null : info.message();
        if (state == VmState.FAILED) {
            err.println("\nvireo: VM " + name + " failed: " + why);
            return ExitCodes.FAILED;
        }
        err.println("\nvireo: VM " + name + " stopped" + (why == null ? "" : ": " + why));
        return ExitCodes.OK;
    }

    private static void write(OutputStream out, byte[] chunk) {
        try {
            out.write(chunk);
            out.flush();
        } catch (IOException e) {
            // stdout closed: the guest keeps running, its output is still in the console history.
        }
    }

    private void pumpKeyboard(InputStream in, VmConsole console) {
        boolean escape = false;
        try {
            int c;
            while ((c = in.read()) >= 0) {
                if (escape) {
                    escape = false;
                    switch (c) {
                        case 'x', 'X' -> manager.stop(name, true);
                        case 's', 'S' -> new Thread(() -> {
                            try {
                                manager.stop(name, false);
                            } catch (VireoException e) {
                                err.println("\r\nvireo: " + e.getMessage() + "\r");
                            }
                        }, "vireo-shutdown").start();
                        case CTRL_A -> console.input(new byte[] {CTRL_A});
                        default -> err.print("\r\nCtrl-A x: power off   Ctrl-A s: shut down   "
                                + "Ctrl-A Ctrl-A: send Ctrl-A\r\n");
                    }
                    err.flush();
                } else if (c == CTRL_A) {
                    escape = true;
                } else {
                    console.input(new byte[] {(byte) c});
                }
            }
        } catch (IOException | VireoException e) {
            err.println("vireo: keyboard: " + e.getMessage());
        }
    }

    /** The controlling terminal's mode, switched to raw and back with stty. */
    static final class Terminal {
        private final String saved;

        private Terminal(String saved) {
            this.saved = saved;
        }

        static Terminal raw() {
            if (System.console() == null) {
                return null;
            }
            try {
                String saved = stty("-g").trim();
                stty("raw", "-echo");
                Terminal t = new Terminal(saved);
                Runtime.getRuntime().addShutdownHook(new Thread(t::restore));
                return t;
            } catch (IOException | InterruptedException e) {
                return null;
            }
        }

        void restore() {
            try {
                stty(saved);
            } catch (IOException | InterruptedException e) {
                // Nothing more to do: the user can type `reset`.
            }
        }

        private static String stty(String... args) throws IOException, InterruptedException {
            String[] cmd = new String[args.length + 1];
            cmd[0] = "stty";
            System.arraycopy(args, 0, cmd, 1, args.length);
            Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/tty")))
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return out;
        }
    }
}
