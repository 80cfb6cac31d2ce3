package org.vireo.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vireo.api.Machine;
import org.vireo.api.cpu.CpuBackend;
import org.vireo.api.cpu.CpuEngine;
import org.vireo.api.cpu.NoCpuBackendException;
import org.vireo.api.vm.BootConfig;
import org.vireo.api.vm.VmConfig;

/** How a VM's "cpu" picks a backend: by name, or "auto": KVM where it runs stock kernels, else the emulator. */
class BackendChoiceTest {

    @TempDir
    Path tmp;

    @Test
    void autoTakesKvmWhereItRunsStockKernels() throws Exception {
        VmManagerImpl m = manager(CpuBackend.Availability.usable("hardware"));
        assertEquals("kvm", m.chooseBackend(config("auto")).type());
    }

    @Test
    void autoPassesOverAKvmUsableOnlyWhenNamedAndNamingItStillWorks() throws Exception {
        VmManagerImpl m = manager(CpuBackend.Availability.usableWhenNamed("kvm-pvm runs only guests built for it"));
        assertEquals("emu", m.chooseBackend(config("auto")).type());
        assertEquals("kvm", m.chooseBackend(config("kvm")).type());
    }

    @Test
    void anUnusableKvmIsRefusedByNameWithItsReason() throws Exception {
        VmManagerImpl m = manager(CpuBackend.Availability.unusable("no /dev/kvm"));
        assertEquals("emu", m.chooseBackend(config("auto")).type());
        NoCpuBackendException e = assertThrows(NoCpuBackendException.class, () -> m.chooseBackend(config("kvm")));
        assertTrue(e.getMessage().contains("no /dev/kvm"), e.getMessage());
    }

    private VmManagerImpl manager(CpuBackend.Availability kvm) {
        VmManagerImpl m = new VmManagerImpl(tmp.resolve("lib"));
        m.addCpuBackend(new NamedBackend("kvm", kvm));
        m.addCpuBackend(new NamedBackend("emu", CpuBackend.Availability.usable("anywhere")));
        return m;
    }

    private VmConfig config(String cpu) throws Exception {
        Path kernel = tmp.resolve("vmlinuz");
        Files.write(kernel, new byte[] {1});
        return new VmConfig("vm", cpu, 1, 64L << 20, new BootConfig(kernel.toString(), null, ""), List.of());
    }

    private record NamedBackend(String type, Availability availability) implements CpuBackend {
        @Override
        public String description() {
            return type + " for the test";
        }

        @Override
        public int maxVcpus() {
            return 1;
        }

        @Override
        public CpuEngine create(Machine machine, int vcpuCount) {
            throw new UnsupportedOperationException();
        }
    }
}
