package org.vireo.cpu.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

/** What this process holds of the host's memory: for the statistics of a VM. */
final class HostMemory {

    private static final long PAGE = 4096;

    static {
        Native.register(HostMemory.class, "c");
    }

    private HostMemory() {
    }

    private static native int mincore(Pointer address, long length, byte[] vector);

    /** The process's resident set (VmRSS of /proc/self/status), or -1 if unknown. */
    static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // unknown
        }
        return -1;
    }

    /** Bytes of {@code [address, address + length)} (page aligned) resident in host RAM. */
    static long residentBytes(long address, long length) {
        long resident = 0;
        long chunk = 1L << 30;
        for (long done = 0; done < length; done += chunk) {
            long n = Math.min(chunk, length - done);
            byte[] vector = new byte[(int) ((n + PAGE - 1) / PAGE)];
            if (mincore(new Pointer(address + done), n, vector) != 0) {
                return 0;
            }
            for (byte v : vector) {
                resident += (v & 1) * PAGE;
            }
        }
        return resident;
    }
}
