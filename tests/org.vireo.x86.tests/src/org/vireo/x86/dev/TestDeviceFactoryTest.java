package org.vireo.x86.dev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.bus.IoBus;
import org.vireo.api.device.ConsoleChannel;
import org.vireo.api.device.Device;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.irq.MsiMessage;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.pci.PciBus;
import org.vireo.api.vm.ConfigException;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.core.BasicMachine;
import org.vireo.core.bus.AddressSpace;
import org.vireo.core.memory.MappedGuestMemory;
import org.vireo.x86.boot.PcMemoryMap;

/** The "testdev" device type: its options, the problems it reports, and the device it attaches. */
class TestDeviceFactoryTest {

    private final TestDeviceFactory factory = new TestDeviceFactory();
    private final AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "vm");
    private final AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "vm");
    private final Map<Integer, RecordingIrqLine> lines = new HashMap<>();
    private GuestMemory memory;

    @AfterEach
    void release() {
        if (memory != null) {
            memory.close();
        }
    }

    private static DeviceConfig config(Map<String, Object> options) {
        return new DeviceConfig(TestDevice.TYPE, "testdev0", options);
    }

    private List<String> problemPaths(Map<String, Object> options) {
        return factory.validate(config(options)).stream().map(ConfigProblem::path).toList();
    }

    @Test
    void defaultsAreValid() {
        assertEquals(TestDevice.TYPE, factory.type());
        assertEquals(List.of(), factory.validate(config(Map.of())));
        assertEquals(List.of(), factory.validate(config(Map.of("address", "0xfeb01000", "port", 0x510L, "irq", 6L))));
        assertEquals(List.of(), factory.validate(config(Map.of("address", 0xc000_0000L, "port", "0xfffc", "irq", "23"))));
    }

    @Test
    void addressMustBeAWholePageInTheMmioHole() {
        assertEquals(List.of("address"), problemPaths(Map.of("address", "0xfeb00800")), "not page aligned");
        assertEquals(List.of("address"), problemPaths(Map.of("address", 0x10_0000L)), "RAM below the hole");
        assertEquals(List.of("address"), problemPaths(Map.of("address", "0x100000000")), "RAM above 4 GiB");
        assertEquals(List.of("address"), problemPaths(Map.of("address", "0x1000000000")), "far above 4 GiB");
        assertEquals(List.of("address"), problemPaths(Map.of("address", "0xfec00000")), "the IOAPIC's page");
        assertEquals(List.of("address"), problemPaths(Map.of("address", "0xfee00000")), "the local APIC's page");
        assertEquals(List.of(), problemPaths(Map.of("address", "0xfffff000")), "the hole's last page");
        ConfigProblem p = factory.validate(config(Map.of("address", "0xfeb00800"))).get(0);
        assertEquals("0xfeb00800", p.found());
        assertTrue(p.expected().contains("4 KiB-aligned") && p.expected().contains("0xc0000000"), p.expected());
    }

    @Test
    void portAndIrqMustBeInRange() {
        assertEquals(List.of("port"), problemPaths(Map.of("port", 0xfffdL)), "the four ports run past 0xffff");
        assertEquals(List.of("port"), problemPaths(Map.of("port", "-1")));
        assertEquals(List.of("irq"), problemPaths(Map.of("irq", 24L)), "the IOAPIC has 24 pins");
        ConfigProblem p = factory.validate(config(Map.of("irq", 99L))).get(0);
        assertEquals("99", p.found());
        assertTrue(p.expected().contains("0 to 23"), p.expected());
    }

    @Test
    void malformedAndUnknownOptionsAreNamed() {
        assertEquals(List.of("address"), problemPaths(Map.of("address", "feb00000h")));
        assertEquals(List.of("irq"), problemPaths(Map.of("irq", 5.5)));
        assertEquals(List.of("irq"), problemPaths(Map.of("irq", true)));
        List<ConfigProblem> problems = factory.validate(config(Map.of("adress", "0xfeb00000")));
        assertEquals(1, problems.size());
        assertEquals("adress", problems.get(0).path());
        assertTrue(problems.get(0).expected().contains("[address, irq, port]"), problems.get(0).expected());
        assertEquals("devices[2].adress", problems.get(0).under("devices[2]").path());
    }

    @Test
    void createsTheDeviceWhereTheOptionsSay() throws Exception {
        Device device = factory.create(context(24), config(Map.of("address", "0xfeb02000", "port", "0x510", "irq", 7L)));
        assertEquals("testdev0", device.id());
        assertEquals("testdev0", mmio.ownerOf(0xfeb0_2000L));
        assertEquals("testdev0", pio.ownerOf(0x513));
        assertEquals(TestDevice.ID, mmio.read(0xfeb0_2000L, 4));
        mmio.write(0xfeb0_2000L + TestDevice.REG_IRQ, 4, TestDevice.IRQ_PULSE);
        assertEquals(1, lines.get(7).risingEdges());
        device.close();
    }

    @Test
    void defaultsClaimNothingTheBoardUses() throws Exception {
        Device device = factory.create(context(24), config(Map.of()));
        assertEquals("testdev0", mmio.ownerOf(TestDeviceFactory.DEFAULT_ADDRESS));
        assertEquals("testdev0", pio.ownerOf(TestDeviceFactory.DEFAULT_PORT));
        assertTrue(TestDeviceFactory.DEFAULT_ADDRESS >= PcMemoryMap.MMIO_HOLE_START);
        device.close();
    }

    @Test
    void aTakenRangeIsACleanError() throws Exception {
        DeviceContext context = context(24);
        Device com1 = new Uart16550("com1", pio, Uart16550.COM1_BASE, lines.computeIfAbsent(4, RecordingIrqLine::new),
                new TestConsole());
        VireoException e = assertThrows(VireoException.class,
                () -> factory.create(context, config(Map.of("port", (long) Uart16550.COM1_BASE + 4))));
        assertTrue(e.getMessage().contains("testdev0") && e.getMessage().contains("com1"), e.getMessage());
        assertEquals(null, mmio.ownerOf(TestDeviceFactory.DEFAULT_ADDRESS), "nothing left claimed");
        com1.close();
    }

    @Test
    void createChecksTheIrqAgainstTheChipAndRefusesBadOptions() throws Exception {
        VireoException e = assertThrows(VireoException.class,
                () -> factory.create(context(16), config(Map.of("irq", 20L))));
        assertTrue(e.getMessage().contains("irq 20") && e.getMessage().contains("0-15"), e.getMessage());
        assertThrows(ConfigException.class, () -> factory.create(context(24), config(Map.of("address", "0x1000"))));
    }

    private DeviceContext context(int gsis) {
        memory = new MappedGuestMemory(PcMemoryMap.ramRanges(16L << 20));
        Machine machine = new BasicMachine("vm", memory, pio, mmio, (reason, detail) -> { });
        IrqChip chip = new IrqChip() {
            @Override
            public int gsiCount() {
                return gsis;
            }

            @Override
            public synchronized RecordingIrqLine line(int gsi) {
                if (gsi < 0 || gsi >= gsis) {
                    throw new IllegalArgumentException("no GSI " + gsi);
                }
                return lines.computeIfAbsent(gsi, RecordingIrqLine::new);
            }

            @Override
            public void signalMsi(MsiMessage message) {
            }
        };
        return new DeviceContext() {
            @Override
            public Machine machine() {
                return machine;
            }

            @Override
            public IrqChip irqChip() {
                return chip;
            }

            @Override
            public PciBus pciBus() {
                throw new IllegalStateException("no PCI here");
            }

            @Override
            public Path resolve(String path) {
                return Paths.get(path);
            }

            @Override
            public ConsoleChannel console(String name) {
                return new TestConsole();
            }
        };
    }
}
