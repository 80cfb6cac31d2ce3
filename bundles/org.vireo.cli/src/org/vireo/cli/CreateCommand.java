package org.vireo.cli;

import java.nio.file.Path;

import org.vireo.api.VireoException;
import org.vireo.api.vm.VmConfig;
import org.vireo.api.vm.VmInfo;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "create", mixinStandardHelpOptions = true,
        description = "Adds a VM to the library, from options or from a vm.json file.",
        footer = {"", ExitCodes.HELP})
final class CreateCommand extends VireoCommand.SubCommand {

    @Parameters(index = "0", arity = "0..1", paramLabel = "NAME", description = "name of the new VM")
    String name;

    @Option(names = "--config", paramLabel = "FILE", description = "a vm.json to copy (its name is replaced by NAME if given)")
    Path config;

    @Mixin
    VmOptions vm;

    @Override
    public Integer call() throws Exception {
        VmConfig c;
        if (config != null) {
            c = manager().readConfig(config);
            if (name != null) {
                c = c.withName(name);
            }
        } else {
            if (name == null) {
                throw new VireoException("give the new VM a NAME, or a --config file");
            }
            c = vm.toConfig(name);
        }
        VmInfo info = manager().create(c);
        out().println("created " + info.name() + " in " + info.directory());
        return ExitCodes.OK;
    }
}
