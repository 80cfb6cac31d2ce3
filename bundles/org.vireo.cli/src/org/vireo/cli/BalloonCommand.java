package org.vireo.cli;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import org.vireo.api.VireoException;
import org.vireo.api.vm.BalloonControl;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "balloon", mixinStandardHelpOptions = true,
        description = {"Shows or sets how much memory a running VM's balloon (a virtio-balloon device) takes from "
                + "the guest.",
            "With SIZE, asks the guest to give up that much (256M, 1G; 0 gives it all back); without, prints the "
                + "balloon and the guest's latest memory statistics."},
        footer = {"", ExitCodes.HELP})
final class BalloonCommand extends VireoCommand.SubCommand {

    private static final long MIB = 1 << 20;

    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Parameters(index = "1", paramLabel = "SIZE", arity = "0..1",
            description = "memory the guest should give up, e.g. 512M (0: none)")
    String size;

    @Option(names = "--wait", paramLabel = "SECONDS", arity = "0..1", fallbackValue = "120",
            description = "with SIZE, wait until the guest has given up (or taken back) that much, at most SECONDS"
                    + " (default ${FALLBACK-VALUE})")
    Integer waitSeconds;

    @Override
    public Integer call() throws Exception {
        BalloonControl balloon = manager().balloon(name).orElseThrow(() -> new VireoException(
                "VM '" + name + "' has no balloon; add a device of type virtio-balloon to its config"));
        if (size == null) {
            show(balloon);
            return ExitCodes.OK;
        }
        Long bytes = VmOptions.parseSize(size);
        if (bytes == null || bytes % BalloonControl.PAGE_SIZE != 0 || bytes / BalloonControl.PAGE_SIZE > Integer.MAX_VALUE) {
            throw new VireoException("SIZE " + size + ": expected a size like 256M or 1G, in whole 4 KiB pages");
        }
        int pages = (int) (bytes / BalloonControl.PAGE_SIZE);
        try {
            balloon.setTargetPages(pages);
        } catch (IllegalArgumentException e) {
            throw new VireoException("SIZE " + size + ": " + e.getMessage());
        }
        out().println("balloon of " + name + ": target " + mib(pages) + ", the guest holds " + mib(balloon.actualPages()));
        if (waitSeconds != null) {
            long deadline = System.nanoTime() + waitSeconds * 1_000_000_000L;
            int actual;
            while ((actual = balloon.actualPages()) != pages) {
                if (System.nanoTime() > deadline) {
                    err().println("vireo: the guest holds " + mib(actual) + " in its balloon after " + waitSeconds
                            + " s, not " + mib(pages) + " (is its virtio_balloon driver loaded?)");
                    return ExitCodes.FAILED;
                }
                Thread.sleep(100);
            }
            out().println("the guest holds " + mib(actual) + " in its balloon");
        }
        return ExitCodes.OK;
    }

    /** The balloon and the guest's statistics, fresh ones if they come within two seconds. */
    private void show(BalloonControl balloon) throws InterruptedException {
        Optional<BalloonControl.Stats> before = balloon.latestStats();
        balloon.requestStats();
        Optional<BalloonControl.Stats> stats = before;
        for (int i = 0; i < 20 && stats.equals(before); i++) {
            Thread.sleep(100);
            stats = balloon.latestStats();
        }
        out().println("target: " + mib(balloon.targetPages()));
        out().println("actual: " + mib(balloon.actualPages()));
        if (stats.isEmpty()) {
            out().println("statistics: none yet (the guest's driver sends them once it is loaded)");
            return;
        }
        out().println("statistics (" + stats.get().received() + (stats.equals(before) ? ", not refreshed" : "") + "):");
        for (Map.Entry<String, Long> e : new TreeMap<>(stats.get().values()).entrySet()) {
            boolean memory = e.getKey().endsWith("-memory") || e.getKey().equals(BalloonControl.DISK_CACHES);
            out().printf("  %-20s %s%n", e.getKey(), memory ? e.getValue() / MIB + " MiB" : e.getValue());
        }
    }

    private static String mib(int pages) {
        return (long) pages * BalloonControl.PAGE_SIZE / MIB + " MiB";
    }
}
