package org.vireo.x86.dev;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

import org.vireo.api.device.ConsoleChannel;

/** A test double of a console: records what the guest sent, hands out typed input on request. */
public final class TestConsole implements ConsoleChannel {

    private final ByteArrayOutputStream output = new ByteArrayOutputStream();
    private final ArrayDeque<Integer> input = new ArrayDeque<>();
    private volatile Runnable listener = () -> { };

    @Override
    public synchronized void output(byte[] data, int offset, int length) {
        output.write(data, offset, length);
    }

    @Override
    public synchronized int readInput() {
        Integer b = input.poll();
        return b == null ? -1 : b;
    }

    @Override
    public void onInput(Runnable newListener) {
        listener = newListener;
    }

    /** The user types {@code text}; the device is told, as the runtime's console does. */
    public void type(String text) {
        synchronized (this) {
            for (byte b : text.getBytes(StandardCharsets.ISO_8859_1)) {
                input.add(b & 0xFF);
            }
        }
        listener.run();
    }

    public synchronized int pendingInput() {
        return input.size();
    }

    public synchronized String printed() {
        return output.toString(StandardCharsets.ISO_8859_1);
    }
}
