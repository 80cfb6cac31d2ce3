package org.vireo.cpu.emu;

/**
 * Boots the test guest on the software CPU and prints the console, the instruction count
 * and the rate: a developer's tool for chasing boot problems ({@code java ... BootProbe
 * [seconds] [cmdline]}); the tests use {@link GuestRun} directly.
 */
public final class BootProbe {

    private BootProbe() {
    }

    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 60;
        String cmdline = args.length > 1 ? args[1]
                : "console=ttyS0 reboot=k vireo.cmd=\"uname -a\"";
        boolean deterministic = Boolean.getBoolean("vireo.emu.deterministic");
        try (GuestRun run = new GuestRun(cmdline, 256L << 20, deterministic)) {
            long t0 = System.nanoTime();
            String end = run.runUntil("VIREO-CMD-EXIT", seconds * 1000);
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.println(run.console());
            System.out.printf("%n== %s after %.1f s, %d instructions, %.1f M instructions/s%n", end, s,
                    run.vcpu.executor.retired, run.vcpu.executor.retired / s / 1e6);
            System.out.println(run.vcpu.getState());
        }
    }
}
