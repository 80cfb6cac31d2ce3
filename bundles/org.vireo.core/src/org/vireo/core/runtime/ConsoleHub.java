package org.vireo.core.runtime;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import org.vireo.api.device.ConsoleChannel;
import org.vireo.api.vm.VmConsole;

/**
 * Joins a device's console channel (the UART's side) to its viewers (the terminal, the
 * workbench, the control socket): output goes to every subscriber and into a scrollback
 * ring; typed input waits in a bounded queue until the device pulls it.
 */
public final class ConsoleHub implements ConsoleChannel, VmConsole {

    private static final int HISTORY = 64 * 1024;
    private static final int MAX_PENDING_INPUT = 64 * 1024;

    private final byte[] history = new byte[HISTORY];
    private long written;
    private final ArrayDeque<Byte> input = new ArrayDeque<>();
    private final List<Consumer<byte[]>> subscribers = new CopyOnWriteArrayList<>();
    private volatile Runnable inputListener = () -> { };

    @Override
    public void output(byte[] data, int offset, int length) {
        byte[] chunk = Arrays.copyOfRange(data, offset, offset + length);
        synchronized (history) {
            for (byte b : chunk) {
                history[(int) (written++ % HISTORY)] = b;
            }
        }
        for (Consumer<byte[]> s : subscribers) {
            s.accept(chunk);
        }
    }

    @Override
    public int readInput() {
        synchronized (input) {
            Byte b = input.poll();
            return b == null ? -1 : b & 0xff;
        }
    }

    @Override
    public void onInput(Runnable listener) {
        inputListener = listener;
    }

    @Override
    public byte[] history() {
        synchronized (history) {
            int n = (int) Math.min(written, HISTORY);
            byte[] out = new byte[n];
            for (int i = 0; i < n; i++) {
                out[i] = history[(int) ((written - n + i) % HISTORY)];
            }
            return out;
        }
    }

    @Override
    public AutoCloseable subscribe(Consumer<byte[]> sink) {
        subscribers.add(sink);
        return () -> subscribers.remove(sink);
    }

    @Override
    public void input(byte[] data) {
        synchronized (input) {
            for (byte b : data) {
                if (input.size() < MAX_PENDING_INPUT) {
                    input.add(b);
                }
            }
        }
        inputListener.run();
    }
}
