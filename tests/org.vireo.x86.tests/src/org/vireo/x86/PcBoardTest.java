package org.vireo.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.vireo.api.Machine;
import org.vireo.api.board.BoardInstance;
import org.vireo.api.bus.IoBus;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.device.ConsoleChannel;
import org.vireo.api.device.Device;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.irq.MsiMessage;
import org.vireo.api.memory.GuestMemory;
import org.vireo.api.pci.PciBus;
import org.vireo.core.BasicMachine;
import org.vireo.core.bus.AddressSpace;
import org.vireo.core.memory.MappedGuestMemory;
import org.vireo.x86.dev.RecordingIrqLine;
import org.vireo.x86.dev.TestConsole;

/** The PC board assembled the way the runtime assembles it: real buses, real guest memory. */
class PcBoardTest {

    private final PcBoard board = new PcBoard();
    private final AddressSpace pio = new AddressSpace(IoBus.Kind.PIO, "test");
    private final AddressSpace mmio = new AddressSpace(IoBus.Kind.MMIO, "test");
    private final Map<Integer, RecordingIrqLine> lines = new HashMap<>();
    private final TestConsole console = new TestConsole();
    private final List<String> stops = new ArrayList<>();
    private GuestMemory memory;
    private BoardInstance instance;

    private BoardInstance build(long ramBytes) throws Exception {
        memory = new MappedGuestMemory(board.ramRanges(ramBytes));
        Machine machine = new BasicMachine("test", memory, pio, mmio, (reason, detail) -> {
            stops.add(reason + ": " + detail);
        });
        IrqChip chip = new IrqChip() {
            @Override
            public int gsiCount() {
                return 24;
            }

            @Override
            public synchronized RecordingIrqLine line(int gsi) {
                return lines.computeIfAbsent(gsi, RecordingIrqLine::new);
            }

            @Override
            public void signalMsi(MsiMessage message) {
            }
        };
        DeviceContext context = new DeviceContext() {
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
                return instance.pciBus();
            }

            @Override
            public Path resolve(String path) {
                return Paths.get(path);
            }

            @Override
            public ConsoleChannel console(String name) {
                return console;
            }
        };
        instance = board.build(machine, context);
        return instance;
    }

    @AfterEach
    void release() {
        if (instance != null) {
            instance.devices().forEach(Device::close);
        }
        if (memory != null) {
            memory.close();
        }
    }

    @Test
    void theLegacyDevicesDecodeTheirPorts() throws Exception {
        build(256L << 20);
        assertEquals("com1", pio.ownerOf(0x3f8));
        assertEquals("i8042 data", pio.ownerOf(0x60));
        assertTrue(pio.ownerOf(0x70) != null && pio.ownerOf(0xcf8) != null && pio.ownerOf(0xcfc) != null);
        assertNull(pio.ownerOf(0x2f8), "there is no COM2");
        // The guest prints through COM1.
        pio.write(0x3f8, 1, 'h');
        pio.write(0x3f8, 1, 'i');
        assertEquals("hi", console.printed());
        // The host bridge answers configuration reads: vendor 0x8086 at 00:00.0.
        pio.write(0xcf8, 4, 0x8000_0000L);
        assertEquals(0x8086, pio.read(0xcfc, 2));
    }

    @Test
    void theI8042ResetLineStopsTheMachine() throws Exception {
        build(64L << 20);
        pio.write(0x64, 1, 0xfe);
        assertEquals(List.of("RESET: the guest reset the machine"), stops);
    }

    @Test
    void aGracefulShutdownTypesCtrlAltDel() throws Exception {
        build(64L << 20);
        pio.write(0x64, 1, 0x60); // write the command byte: keyboard interrupt on, XLAT on
        pio.write(0x60, 1, 0x45);
        instance.requestShutdown();
        assertEquals(0x1d, pio.read(0x60, 1), "Ctrl make code, set 1");
        assertTrue(lines.get(PcBoard.IRQ_KEYBOARD).risingEdges() > 0, "the keyboard raised IRQ 1");
    }

    @Test
    void cmosHoldsTheMemorySizeAsABiosWouldLeaveIt() throws Exception {
        build(256L << 20);
        pio.write(0x70, 1, 0x34);
        long low = pio.read(0x71, 1);
        pio.write(0x70, 1, 0x35);
        long high = pio.read(0x71, 1);
        assertEquals(((256L - 16) << 20) >> 16, (high << 8) | low);
    }

    @Test
    void bootsTheDebianKernelIntoGuestMemory() throws Exception {
        Path guest = Paths.get(System.getProperty("vireo.guest.cache",
                Paths.get(System.getProperty("user.home"), ".cache", "vireo", "guest").toString()), "current");
        if (!Files.isRegularFile(guest.resolve("vmlinuz"))) {
            fail("the test guest is missing in " + guest + "; build it with tests/guest/build-guest.sh");
        }
        build(256L << 20);
        List<X86CpuState> cpus = instance.boot(guest.resolve("vmlinuz"), guest.resolve("initramfs.cpio.gz"),
                "console=ttyS0", 2);
        assertEquals(2, cpus.size());
        X86CpuState bsp = cpus.get(0);
        assertTrue(bsp.in64BitMode(), "the boot CPU starts in 64-bit mode");
        assertEquals(0x100_0000L, bsp.rip, "startup_64 of the Debian kernel sits at 16 MiB");
        long bootParams = bsp.gpr[X86CpuState.RSI];
        assertEquals(0xaa55, memory.readShort(bootParams + 0x1fe) & 0xffff, "boot_params carries the boot flag");
        long cmdline = memory.readInt(bootParams + 0x228) & 0xffffffffL;
        byte[] text = new byte[13];
        memory.read(cmdline, text, 0, text.length);
        assertEquals("console=ttyS0", new String(text, StandardCharsets.US_ASCII));
        assertTrue(cpus.get(1).waitingForSipi, "the second vCPU waits for the boot CPU's SIPI");
        // The MP floating pointer "_MP_" is in the EBDA.
        assertEquals(0x5f504d5f, memory.readInt(0x9fc00));
    }
}
