package org.vireo.cli;

import java.nio.file.Path;

import org.vireo.api.vm.SavedState;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "save", mixinStandardHelpOptions = true,
        description = {"Saves the whole state of a running or paused VM into a snapshot file: its config, vCPUs, "
                + "interrupt controllers, clock, devices and memory (all-zero pages left out), written atomically.",
            "A running VM is held for the time it takes and goes on. Disk images are not copied.",
            "`vireo restore FILE` continues the VM where it was saved."},
        footer = {"", ExitCodes.HELP})
final class SaveCommand extends VireoCommand.SubCommand {

    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Parameters(index = "1", paramLabel = "FILE")
    Path file;

    @Override
    public Integer call() throws Exception {
        SavedState saved = manager().save(name, file);
        out().printf("saved %s to %s: %.1f MiB, %d memory pages, %d ms%n", name, saved.file(),
                saved.bytes() / 1048576.0, saved.memoryPages(), saved.millis());
        return ExitCodes.OK;
    }
}
