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
            java.util.Map<Long, Integer> samples = new java.util.concurrent.ConcurrentHashMap<>();
            long sampleFrom = Long.getLong("probe.sampleFrom", -1);
            if (sampleFrom >= 0) {
                // A rough profile of the guest: RIP every millisecond after sampleFrom seconds of host time.
                Thread sampler = new Thread(() -> {
                    try {
                        Thread.sleep(sampleFrom * 1000);
                        while (true) {
                            Thread.sleep(1);
                            samples.merge(run.vcpu.cpu.rip & ~0xfL, 1, Integer::sum);
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                sampler.setDaemon(true);
                sampler.start();
            }
            if (Boolean.getBoolean("probe.progress")) {
                Thread progress = new Thread(() -> {
                    try {
                        while (true) {
                            Thread.sleep(2000);
                            String c = run.console();
                            int nl = c.lastIndexOf('\n', c.length() - 2);
                            System.err.printf("progress %.0f s: %d instructions, halted=%s rip=%x last: %s%n",
                                    (System.nanoTime() - t0) / 1e9, run.vcpu.executor.retired, run.vcpu.cpu.halted,
                                    run.vcpu.cpu.rip, c.substring(nl + 1).trim());
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                progress.setDaemon(true);
                progress.start();
            }
            String end = run.runUntil("VIREO-CMD-EXIT", seconds * 1000);
            samples.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(25)
                    .forEach(e -> System.out.printf("sample %016x %d%n", e.getKey(), e.getValue()));
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.println(run.console());
            System.out.printf("%n== %s after %.1f s, %d instructions, %.1f M instructions/s%n", end, s,
                    run.vcpu.executor.retired, run.vcpu.executor.retired / s / 1e6);
            System.out.println(run.vcpu.getState());
        }
    }
}
