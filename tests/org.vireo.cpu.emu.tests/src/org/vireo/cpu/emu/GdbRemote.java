package org.vireo.cpu.emu;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * A client of the GDB remote serial protocol (GDB manual, appendix "Remote Protocol"), as
 * far as a differential test needs: register file read and write ({@code g}/{@code G}),
 * memory write ({@code M}), single step, hardware breakpoints, continue. Packets are
 * {@code $data#checksum} and each is acknowledged with {@code +}.
 */
final class GdbRemote implements AutoCloseable {

    /**
     * The x86-64 register file in QEMU's {@code i386-64bit.xml} order: 16 GPRs (rax, rbx, rcx,
     * rdx, rsi, rdi, rbp, rsp, r8-r15), rip, eflags, six selectors, fs_base, gs_base,
     * k_gs_base, cr0, cr2, cr3, cr4, cr8, efer, then the FPU and SSE registers this test
     * leaves alone.
     */
    static final int RIP = 16, EFLAGS = 17, CR0 = 27, CR3 = 29, CR4 = 30, EFER = 32;
    /** GDB's GPR order mapped to the instruction set's (RAX 0, RCX 1, RDX 2, RBX 3, RSP 4, RBP 5, RSI 6, RDI 7). */
    static final int[] GPR_TO_X86 = {0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15};
    private static final int[] SIZES = new int[33];

    static {
        for (int n = 0; n < SIZES.length; n++) {
            SIZES[n] = n == EFLAGS || (n >= 18 && n <= 23) ? 4 : 8;
        }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    GdbRemote(String host, int port) throws IOException {
        this.socket = new Socket(host, port);
        // One small packet each way per request: without this, Nagle's algorithm and the
        // peer's delayed ACK add ~40 ms to every single step.
        socket.setTcpNoDelay(true);
        socket.setSoTimeout(120_000);
        this.in = new BufferedInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    /** Sends one packet and returns the reply's payload. */
    String request(String data) throws IOException {
        byte[] payload = data.getBytes(StandardCharsets.ISO_8859_1);
        int sum = 0;
        for (byte b : payload) {
            sum += b & 0xff;
        }
        out.write(('$' + data + '#' + String.format("%02x", sum & 0xff)).getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        int c;
        while ((c = in.read()) != '+') {
            if (c < 0) {
                throw new IOException("the GDB stub closed the connection");
            }
        }
        while ((c = in.read()) != '$') {
            if (c < 0) {
                throw new IOException("the GDB stub closed the connection");
            }
        }
        StringBuilder reply = new StringBuilder();
        while ((c = in.read()) != '#') {
            if (c < 0) {
                throw new IOException("the GDB stub closed the connection");
            }
            reply.append((char) c);
        }
        in.read();
        in.read();
        out.write('+');
        out.flush();
        return reply.toString();
    }

    /** The raw register file as the {@code g} packet returns it. */
    byte[] readRegisterFile() throws IOException {
        return HexFormat.of().parseHex(request("g"));
    }

    void writeRegisterFile(byte[] file) throws IOException {
        expectOk(request("G" + HexFormat.of().formatHex(file)));
    }

    static int offset(int register) {
        int o = 0;
        for (int n = 0; n < register; n++) {
            o += SIZES[n];
        }
        return o;
    }

    static long get(byte[] file, int register) {
        int o = offset(register);
        long v = 0;
        for (int k = SIZES[register] - 1; k >= 0; k--) {
            v = (v << 8) | (file[o + k] & 0xff);
        }
        return v;
    }

    static void put(byte[] file, int register, long value) {
        int o = offset(register);
        for (int k = 0; k < SIZES[register]; k++) {
            file[o + k] = (byte) (value >>> (8 * k));
        }
    }

    void writeMemory(long address, byte[] data, int offset, int length) throws IOException {
        int chunk = 1024;
        for (int done = 0; done < length; done += chunk) {
            int n = Math.min(chunk, length - done);
            String hex = HexFormat.of().formatHex(data, offset + done, offset + done + n);
            expectOk(request("M" + Long.toHexString(address + done) + "," + Integer.toHexString(n) + ":" + hex));
        }
    }

    /** Single-steps; returns the stop reply. */
    String step() throws IOException {
        return request("s");
    }

    void close(String why) {
        try {
            socket.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    @Override
    public void close() {
        close("done");
    }

    static void expectOk(String reply) throws IOException {
        if (!reply.equals("OK")) {
            throw new IOException("the GDB stub answered '" + reply + "'");
        }
    }
}
