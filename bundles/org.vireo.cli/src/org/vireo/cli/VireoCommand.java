package org.vireo.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

import org.vireo.api.VireoException;
import org.vireo.api.cpu.NoCpuBackendException;
import org.vireo.api.vm.ConfigException;
import org.vireo.api.vm.NoSuchVmException;
import org.vireo.api.vm.VmManager;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code vireo} command and its subcommands. */
@Command(name = "vireo", mixinStandardHelpOptions = true, version = "Vireo 0.1.0",
        description = "Runs and manages virtual machines.",
        footer = {"", ExitCodes.HELP},
        subcommands = {RunCommand.class, DemoCommand.class, CreateCommand.class, ListCommand.class,
            ShowCommand.class, StartCommand.class, StopCommand.class, PauseCommand.class, ResumeCommand.class,
            SaveCommand.class, RestoreCommand.class, BalloonCommand.class, DeleteCommand.class, TypesCommand.class, CommandLine.HelpCommand.class})
public final class VireoCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private final Supplier<VmManager> manager;

    VireoCommand(Supplier<VmManager> manager) {
        this.manager = manager;
    }

    /** The VM manager, looked up on first use so that --help answers at once. */
    VmManager manager() {
        return manager.get();
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return ExitCodes.USAGE;
    }

    /** Runs a command line against {@code manager}; returns the exit code. */
    public static int execute(String[] args, Supplier<VmManager> manager) {
        return execute(args, manager, new PrintWriter(System.out, true), new PrintWriter(System.err, true));
    }

    static int execute(String[] args, Supplier<VmManager> manager, PrintWriter out, PrintWriter err) {
        VireoCommand root = new VireoCommand(manager);
        CommandLine cl = new CommandLine(root, new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> type) throws Exception {
                if (SubCommand.class.isAssignableFrom(type)) {
                    K command = CommandLine.defaultFactory().create(type);
                    ((SubCommand) command).root = root;
                    return command;
                }
                return CommandLine.defaultFactory().create(type);
            }
        });
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            Throwable cause = e;
            commandLine.getErr().println("vireo: " + cause.getMessage());
            if (cause instanceof ConfigException) {
                return ExitCodes.BAD_CONFIG;
            }
            if (cause instanceof NoSuchVmException) {
                return ExitCodes.NO_SUCH_VM;
            }
            if (cause instanceof NoCpuBackendException) {
                return ExitCodes.NO_BACKEND;
            }
            if (cause instanceof VireoException) {
                return ExitCodes.FAILED;
            }
            cause.printStackTrace(commandLine.getErr());
            return ExitCodes.INTERNAL;
        });
        return cl.execute(args);
    }

    /** Base of the subcommands: access to the manager and the output streams. */
    abstract static class SubCommand implements Callable<Integer> {
        VireoCommand root;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        VmManager manager() {
            return root.manager();
        }

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        PrintWriter err() {
            return spec.commandLine().getErr();
        }
    }
}
