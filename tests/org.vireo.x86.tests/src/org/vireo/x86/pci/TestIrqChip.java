package org.vireo.x86.pci;

import java.util.HashMap;
import java.util.Map;

import org.vireo.api.irq.IrqChip;
import org.vireo.api.irq.MsiMessage;
import org.vireo.x86.dev.RecordingIrqLine;

/** A test double of the interrupt controllers: 24 recording lines. */
final class TestIrqChip implements IrqChip {

    private final Map<Integer, RecordingIrqLine> lines = new HashMap<>();

    @Override
    public int gsiCount() {
        return 24;
    }

    @Override
    public synchronized RecordingIrqLine line(int gsi) {
        if (gsi < 0 || gsi >= 24) {
            throw new IllegalArgumentException("no GSI " + gsi);
        }
        return lines.computeIfAbsent(gsi, RecordingIrqLine::new);
    }

    @Override
    public void signalMsi(MsiMessage message) {
        throw new UnsupportedOperationException();
    }
}
