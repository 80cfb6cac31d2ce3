/**
 * Direct Linux boot on the x86 PC board, without firmware: reading a bzImage (its setup header
 * and xz/gzip/zstd payload, extracted in Java) or an ELF vmlinux, placing kernel, initrd and
 * command line in guest RAM, and writing the zero page with its E820 map, an Intel MP table,
 * a GDT and identity page tables, so that the boot vCPU starts in 64-bit mode at the kernel's
 * startup_64 (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol").
 *
 * <p>{@link org.vireo.x86.boot.LinuxBoot} is the entry point; {@link org.vireo.x86.boot.LowMemory}
 * maps the first MiB; {@link org.vireo.x86.boot.PcMemoryMap} gives the board's RAM layout.
 * Everything here is plain Java, testable without OSGi or a CPU backend.
 */
package org.vireo.x86.boot;
