package org.vireo.api.vm;

import java.util.List;

/**
 * What a VM is: its name, CPU backend and count, memory, boot and devices. Stored as
 * {@code vm.json} in the VM's directory of the library:
 *
 * <pre>
 * {
 *   "name": "demo",
 *   "cpu": "auto",          // "kvm" | "emu" | "auto" or any installed backend type
 *   "vcpus": 1,
 *   "memory": "256M",       // bytes, or with a K/M/G suffix
 *   "boot": { "kernel": "vmlinuz", "initrd": "initramfs.cpio.gz", "cmdline": "console=ttyS0" },
 *   "devices": [ { "type": "virtio-blk", "id": "disk0", "path": "disk.qcow2" } ]
 * }
 * </pre>
 *
 * The board's legacy devices (COM1, i8042, RTC, PCI host bridge) are always present and are
 * not listed.
 */
public record VmConfig(String name, String cpu, int vcpus, long memoryBytes, BootConfig boot,
        List<DeviceConfig> devices) {

    /** Backend type meaning "KVM where usable, else the emulator". */
    public static final String CPU_AUTO = "auto";

    public VmConfig {
        devices = List.copyOf(devices);
    }

    public VmConfig withName(String newName) {
        return new VmConfig(newName, cpu, vcpus, memoryBytes, boot, devices);
    }
}
