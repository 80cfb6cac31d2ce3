package org.vireo.cpu.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks every number of {@link KvmAbi} against the host's own {@code <linux/kvm.h>}: a C
 * program (native/kvm-abi.c) prints the ioctl numbers, constants, structure sizes and field
 * offsets, and each must equal the Java constant of the same name. Needs gcc and the Linux UAPI
 * headers (Debian's linux-libc-dev, which libc6-dev brings); no /dev/kvm.
 */
class KvmAbiTest {

    @Test
    void constantsMatchTheHostsKvmHeader(@TempDir Path dir) throws Exception {
        Path source = Path.of(System.getProperty("vireo.repo.root", "."),
                "tests/org.vireo.cpu.kvm.tests/native/kvm-abi.c");
        Assumptions.assumeTrue(Files.isRegularFile(Path.of("/usr/include/linux/kvm.h")),
                "no /usr/include/linux/kvm.h (install linux-libc-dev)");
        Path exe = dir.resolve("kvm-abi");
        run(List.of("gcc", "-Wall", "-Werror", "-o", exe.toString(), source.toString()));
        Set<String> checked = new HashSet<>();
        List<String> wrong = new ArrayList<>();
        for (String line : run(List.of(exe.toString())).split("\n")) {
            String[] f = line.trim().split(" ");
            long expected = Long.parseLong(f[1]);
            long actual = javaConstant(f[0]);
            if (expected != actual) {
                wrong.add(String.format("%s: header %d (0x%x), KvmAbi %d (0x%x)", f[0], expected, expected, actual,
                        actual));
            }
            checked.add(f[0]);
        }
        assertEquals(List.of(), wrong);
        assertTrue(checked.size() > 150, "checked " + checked.size() + " numbers");
    }

    private static long javaConstant(String name) throws ReflectiveOperationException {
        Field f = KvmAbi.class.getDeclaredField(name);
        assertTrue(Modifier.isStatic(f.getModifiers()));
        f.setAccessible(true);
        return ((Number) f.get(null)).longValue();
    }

    private static String run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + command);
        assertEquals(0, p.exitValue(), command + " failed:\n" + out);
        return out;
    }
}
