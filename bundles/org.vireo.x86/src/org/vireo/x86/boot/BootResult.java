package org.vireo.x86.boot;

import java.time.Duration;
import java.util.Optional;

import org.vireo.api.cpu.X86CpuState;

/**
 * What {@link LinuxBoot} put where, and how the boot CPU starts.
 *
 * @param bootCpu the boot processor's initial state: 64-bit mode at {@link #entry}, RSI = {@link #bootParams}
 * @param entry the kernel's 64-bit entry (physical; startup_64 for Linux)
 * @param kernelStart the lowest physical address the kernel's segments occupy
 * @param kernelEnd the first physical address after them
 * @param initrdStart where the initrd was placed, 0 if there is none
 * @param initrdSize its size in bytes, 0 if there is none
 * @param bootParams the zero page's guest-physical address
 * @param cmdline the command line's guest-physical address
 * @param setupHeader the bzImage's setup header; empty for an ELF vmlinux
 * @param compression how the bzImage's payload was stored; empty for an ELF vmlinux
 * @param extractionTime how long decompressing a bzImage's payload took (zero for an ELF vmlinux)
 */
public record BootResult(X86CpuState bootCpu, long entry, long kernelStart, long kernelEnd, long initrdStart,
        long initrdSize, long bootParams, long cmdline, Optional<SetupHeader> setupHeader,
        Optional<PayloadCompression> compression, Duration extractionTime) {

    /** Returns the boot CPU's state as a fresh copy each time, so callers cannot change the record's. */
    @Override
    public X86CpuState bootCpu() {
        return bootCpu.copy();
    }

    public boolean hasInitrd() {
        return initrdSize > 0;
    }
}
