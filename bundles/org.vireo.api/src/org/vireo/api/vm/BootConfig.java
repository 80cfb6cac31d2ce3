package org.vireo.api.vm;

/**
 * How the VM boots: direct kernel boot (Linux boot protocol), no firmware. Paths are as the
 * config wrote them; the runtime resolves relative ones against the VM's directory.
 *
 * @param kernel a bzImage or an ELF vmlinux
 * @param initrd an initramfs, or {@code null}
 * @param cmdline the kernel command line, possibly empty
 */
public record BootConfig(String kernel, String initrd, String cmdline) {
}
