package org.vireo.x86;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

import org.osgi.service.component.annotations.Component;
import org.vireo.api.Machine;
import org.vireo.api.VireoException;
import org.vireo.api.board.Board;
import org.vireo.api.board.BoardInstance;
import org.vireo.api.cpu.X86CpuState;
import org.vireo.api.device.Device;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.memory.RamRange;
import org.vireo.api.pci.PciBus;
import org.vireo.x86.boot.LinuxBoot;
import org.vireo.x86.boot.MpTable;
import org.vireo.x86.boot.PcMemoryMap;
import org.vireo.x86.dev.CmosRtc;
import org.vireo.x86.dev.I8042;
import org.vireo.x86.dev.Uart16550;
import org.vireo.x86.pci.PciHostBridge;

/**
 * The x86 PC: RAM below the 3 GiB MMIO hole and above 4 GiB, COM1, the i8042 (whose reset
 * line stops the VM and through which a graceful shutdown sends Ctrl-Alt-Del), the CMOS RTC
 * and the PCI host bridge; Linux is booted directly in 64-bit mode with an MP table that
 * describes the vCPUs, the IOAPIC and the PCI interrupt routing.
 */
@Component(service = Board.class)
public final class PcBoard implements Board {

    /** ISA interrupt lines of the legacy devices (GSI n = ISA IRQ n, as the MP table says). */
    static final int IRQ_KEYBOARD = 1, IRQ_COM1 = Uart16550.COM1_IRQ, IRQ_RTC = 8, IRQ_AUX = 12;

    /** One daemon thread runs the RTC alarms of every VM in the process; they are rare and short. */
    private static final ScheduledExecutorService RTC_TIMERS = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "vireo-rtc-timers");
        t.setDaemon(true);
        return t;
    });

    @Override
    public String type() {
        return "pc";
    }

    @Override
    public List<RamRange> ramRanges(long memoryBytes) {
        return PcMemoryMap.ramRanges(memoryBytes);
    }

    @Override
    public String checkShape(long memoryBytes, int vcpus) {
        if (vcpus > MpTable.MAX_CPUS) {
            return "a PC with an MP table has at most " + MpTable.MAX_CPUS + " vCPUs";
        }
        if (memoryBytes < PcMemoryMap.MIN_RAM) {
            return "at least " + (PcMemoryMap.MIN_RAM >> 20) + " MiB on a PC";
        }
        return null;
    }

    @Override
    public BoardInstance build(Machine machine, DeviceContext context) throws VireoException {
        IrqChip irqs = context.irqChip();
        List<Device> devices = new ArrayList<>();
        PciHostBridge pci = new PciHostBridge(machine.portIo(), irqs);
        devices.add(pci);
        devices.add(new Uart16550("com1", machine.portIo(), Uart16550.COM1_BASE, irqs.line(IRQ_COM1),
                context.console("serial0")));
        I8042 i8042 = new I8042(machine.portIo(), irqs.line(IRQ_KEYBOARD), irqs.line(IRQ_AUX),
                () -> machine.requestStop(Machine.StopReason.RESET, "the guest reset the machine"));
        devices.add(i8042);
        CmosRtc rtc = new CmosRtc(machine.portIo(), irqs.line(IRQ_RTC), Clock.systemUTC(), System::nanoTime,
                RTC_TIMERS);
        presetMemorySize(rtc, machine.memory().size());
        devices.add(rtc);
        return new Instance(machine, List.copyOf(devices), pci, i8042);
    }

    /**
     * The CMOS memory-size bytes a PC BIOS leaves: 0x30/0x31 KiB above 1 MiB (to 64 MiB),
     * 0x34/0x35 64 KiB units above 16 MiB (to 4 GiB), 0x5B-0x5D 64 KiB units above 4 GiB.
     */
    static void presetMemorySize(CmosRtc rtc, long ramBytes) {
        long low = Math.min(ramBytes, PcMemoryMap.MMIO_HOLE_START);
        long extendedKiB = Math.min(Math.max(low - (1L << 20), 0) >> 10, 0xffff);
        rtc.setCmosByte(0x30, (int) extendedKiB & 0xff);
        rtc.setCmosByte(0x31, (int) (extendedKiB >> 8) & 0xff);
        long above16M = Math.min(Math.max(low - (16L << 20), 0) >> 16, 0xffff);
        rtc.setCmosByte(0x34, (int) above16M & 0xff);
        rtc.setCmosByte(0x35, (int) (above16M >> 8) & 0xff);
        long above4G = Math.max(ramBytes - low, 0) >> 16;
        rtc.setCmosByte(0x5b, (int) above4G & 0xff);
        rtc.setCmosByte(0x5c, (int) (above4G >> 8) & 0xff);
        rtc.setCmosByte(0x5d, (int) (above4G >> 16) & 0xff);
    }

    private static final class Instance implements BoardInstance {
        private final Machine machine;
        private final List<Device> devices;
        private final PciHostBridge pci;
        private final I8042 i8042;

        Instance(Machine machine, List<Device> devices, PciHostBridge pci, I8042 i8042) {
            this.machine = machine;
            this.devices = devices;
            this.pci = pci;
            this.i8042 = i8042;
        }

        @Override
        public List<Device> devices() {
            return devices;
        }

        @Override
        public PciBus pciBus() {
            return pci;
        }

        @Override
        public List<X86CpuState> boot(Path kernel, Path initrd, String cmdline, int vcpuCount) throws VireoException {
            List<MpTable.PciRoute> routes = new ArrayList<>();
            for (PciBus.PciSlot slot : pci.attachedSlots()) {
                routes.add(new MpTable.PciRoute(slot.device(), 0, PciHostBridge.intxGsi(slot.device(), 0)));
            }
            List<X86CpuState> states = new ArrayList<>();
            states.add(new LinuxBoot().load(machine.memory(), kernel, initrd, cmdline, vcpuCount, routes).bootCpu());
            for (int i = 1; i < vcpuCount; i++) {
                // Application processors wait for INIT/SIPI from the boot processor, as the MP spec says.
                X86CpuState ap = new X86CpuState();
                ap.waitingForSipi = true;
                states.add(ap);
            }
            return states;
        }

        @Override
        public void requestShutdown() {
            i8042.sendCtrlAltDel();
        }
    }
}
