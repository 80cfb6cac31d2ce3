package org.vireo.x86.dev;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

import org.osgi.service.component.annotations.Component;
import org.vireo.api.VireoException;
import org.vireo.api.bus.BusConflictException;
import org.vireo.api.device.Device;
import org.vireo.api.device.DeviceContext;
import org.vireo.api.device.DeviceFactory;
import org.vireo.api.irq.IrqChip;
import org.vireo.api.memory.RamRange;
import org.vireo.api.vm.ConfigException;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.DeviceConfig;
import org.vireo.x86.boot.MpTable;
import org.vireo.x86.boot.PcMemoryMap;

/**
 * Makes {@link TestDevice}s: device type "testdev", with the options
 * <ul>
 * <li>{@code address}: the MMIO page, 4 KiB aligned, in the PC's MMIO hole and clear of the
 * IOAPIC and local APIC pages (default 0xfeb00000, below the IOAPIC, where no PCI BAR is put
 * and nothing else of the board sits);</li>
 * <li>{@code port}: the first of four I/O ports (default 0xf4, free on the PC board);</li>
 * <li>{@code irq}: the GSI the IRQ register drives (default 5, an ISA IRQ no board device uses).</li>
 * </ul>
 * Numbers may be JSON numbers or strings, decimal or 0x-prefixed hexadecimal, so that
 * {@code vireo run --device testdev,address=0xfeb01000,irq=6} works.
 */
@Component(service = DeviceFactory.class)
public final class TestDeviceFactory implements DeviceFactory {

    public static final long DEFAULT_ADDRESS = 0xfeb0_0000L;
    public static final int DEFAULT_PORT = 0xf4;
    public static final int DEFAULT_IRQ = 5;

    private static final Set<String> OPTIONS = Set.of("address", "port", "irq");
    private static final long PAGE = 0x1000;

    /** Where one test device sits. */
    record Settings(long address, int port, int irq) {
    }

    @Override
    public String type() {
        return TestDevice.TYPE;
    }

    @Override
    public String description() {
        return "test device for checking CPU backends (like QEMU's pc-testdev): ID, scratch, IRQ and result"
                + " registers on an MMIO page, a counting I/O port";
    }

    @Override
    public List<ConfigProblem> validate(DeviceConfig config) {
        List<ConfigProblem> problems = new ArrayList<>();
        parse(config, problems);
        return problems;
    }

    @Override
    public Device create(DeviceContext context, DeviceConfig config) throws VireoException {
        List<ConfigProblem> problems = new ArrayList<>();
        Settings s = parse(config, problems);
        if (!problems.isEmpty()) {
            throw new ConfigException("device " + config.id(), problems);
        }
        String where = context.machine().name() + ": device " + config.id() + " (" + TestDevice.TYPE + ")";
        IrqChip chip = context.irqChip();
        if (s.irq() >= chip.gsiCount()) {
            throw new VireoException(where + ": irq " + s.irq() + " is beyond the interrupt controllers' GSIs 0-"
                    + (chip.gsiCount() - 1));
        }
        for (RamRange ram : context.machine().memory().ranges()) {
            if (s.address() < ram.end() && s.address() + PAGE > ram.start()) {
                throw new VireoException(String.format("%s: address 0x%x is guest RAM (0x%x-0x%x); pick a page"
                        + " in the MMIO hole", where, s.address(), ram.start(), ram.end() - 1));
            }
        }
        try {
            return new TestDevice(config.id(), context.machine().mmio(), s.address(), context.machine().portIo(),
                    s.port(), chip.line(s.irq()));
        } catch (BusConflictException e) {
            throw new VireoException(e.getMessage() + "; give " + TestDevice.TYPE + " another address or port", e);
        }
    }

    /** The settings of {@code config}, with defaults; what is wrong goes to {@code problems}. */
    static Settings parse(DeviceConfig config, List<ConfigProblem> problems) {
        for (String key : new TreeSet<>(config.options().keySet())) {
            if (!OPTIONS.contains(key)) {
                problems.add(new ConfigProblem(key, describe(config.options().get(key)),
                        "no such option; " + TestDevice.TYPE + " takes " + new TreeSet<>(OPTIONS)));
            }
        }
        long address = number(config, "address", DEFAULT_ADDRESS, problems);
        long port = number(config, "port", DEFAULT_PORT, problems);
        long irq = number(config, "irq", DEFAULT_IRQ, problems);
        if (address != -1 && !addressAllowed(address)) {
            problems.add(new ConfigProblem("address", hex(address), String.format("a 4 KiB-aligned address in the"
                    + " PC's MMIO hole 0x%x-0x%x, not the IOAPIC page 0x%x or the local APIC page 0x%x"
                    + " (default 0x%x)", PcMemoryMap.MMIO_HOLE_START, PcMemoryMap.MMIO_HOLE_END - 1,
                    PcMemoryMap.IOAPIC_BASE, PcMemoryMap.LAPIC_BASE, DEFAULT_ADDRESS)));
        }
        if (port != -1 && (port < 0 || port > 0x10000 - TestDevice.PORTS)) {
            problems.add(new ConfigProblem("port", hex(port), String.format("an I/O port from 0x0 to 0x%x, the first"
                    + " of %d (default 0x%x)", 0x10000 - TestDevice.PORTS, TestDevice.PORTS, DEFAULT_PORT)));
        }
        if (irq != -1 && (irq < 0 || irq >= MpTable.IOAPIC_PINS)) {
            problems.add(new ConfigProblem("irq", Long.toString(irq), "a GSI from 0 to " + (MpTable.IOAPIC_PINS - 1)
                    + ", an input of the PC's IOAPIC (default " + DEFAULT_IRQ + ")"));
        }
        return new Settings(address, (int) port, (int) irq);
    }

    private static boolean addressAllowed(long address) {
        return (address & (PAGE - 1)) == 0
                && address >= PcMemoryMap.MMIO_HOLE_START && address + PAGE <= PcMemoryMap.MMIO_HOLE_END
                && address != PcMemoryMap.IOAPIC_BASE && address != PcMemoryMap.LAPIC_BASE;
    }

    /**
     * Option {@code key} as a whole number: a JSON number, or a string in decimal or 0x hex.
     * Absent: {@code fallback}. Malformed: a problem, and -1.
     */
    private static long number(DeviceConfig config, String key, long fallback, List<ConfigProblem> problems) {
        Object value = config.options().get(key);
        if (value == null) {
            return fallback;
        }
        if (value instanceof Long || value instanceof Integer) {
            long n = ((Number) value).longValue();
            if (n >= 0) {
                return n;
            }
        } else if (value instanceof String text) {
            String t = text.trim().toLowerCase(Locale.ROOT).replace("_", "");
            try {
                long n = t.startsWith("0x") ? Long.parseLong(t.substring(2), 16) : Long.parseLong(t);
                if (n >= 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        problems.add(new ConfigProblem(key, describe(value), "a whole number, decimal or 0x-prefixed hex"));
        return -1;
    }

    private static String describe(Object value) {
        return value instanceof String s ? "\"" + s + "\"" : String.valueOf(value);
    }

    private static String hex(long n) {
        return "0x" + Long.toHexString(n);
    }
}
