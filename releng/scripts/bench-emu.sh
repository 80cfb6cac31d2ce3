#!/usr/bin/env bash
# Boots the test guest on Vireo's software CPU and under QEMU TCG, side by side on this
# machine, and prints for each: seconds from start to the marker line, seconds to the end of
# the command, and (for Vireo) guest instructions and instructions per second.
#
#   releng/scripts/bench-emu.sh [RUNS]      # default 1 run each; the last stdout lines are the table
#
# The command run in the guest is the same for both: a shell loop, sha256sum/md5sum of a
# file, sort. QEMU comes from Debian's qemu-system-x86 (installed if missing and root).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
runs=${1:-1}
cmd='i=0; s=0; while [ $i -lt 500 ]; do s=$((s+i*i)); i=$((i+1)); done; echo sum=$s; seq 1 3000 > /tmp/n; sha256sum /tmp/n; md5sum /tmp/n; sort -r /tmp/n | head -1'
append="console=ttyS0 reboot=k quiet vireo.cmd=\"$cmd\""
guest=$("$repo/tests/guest/build-guest.sh" | tail -n 1)

if ! command -v qemu-system-x86_64 >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "bench-emu: qemu-system-x86_64 is missing (Debian package qemu-system-x86)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-x86 >&2
fi

# Build the product if needed (releng/scripts/vireo does that), without booting anything.
"$repo/releng/scripts/vireo" --help >/dev/null

# timed NAME COMMAND...: runs COMMAND, timestamps the marker and the command's exit line.
timed() {
    local name=$1
    shift
    python3 - "$name" "$@" <<'PY'
import subprocess, sys, time, re
name, argv = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
marker = done = None
out = b""
for line in iter(p.stdout.readline, b""):
    out += line
    now = time.monotonic() - t0
    if marker is None and b"VIREO-GUEST-READY" in line:
        marker = now
    if done is None and b"VIREO-CMD-EXIT" in line:
        done = now
err = p.stderr.read().decode(errors="replace")
p.wait()
total = time.monotonic() - t0
m = re.search(r"emu: (\d+) instructions", err)
insns = int(m.group(1)) if m else None
fmt = lambda v: "-" if v is None else f"{v:.2f}"
rate = f"{insns / total / 1e6:.1f}" if insns else "-"
print(f"{name:12} marker {fmt(marker):>7} s   command done {fmt(done):>7} s   exit {total:6.2f} s   "
      f"instructions {insns if insns else '-':>12}   M instr/s {rate:>6}", flush=True)
if marker is None:
    sys.stderr.write(f"{name}: no marker line; output:\n{out.decode(errors='replace')[-3000:]}\n{err[-3000:]}\n")
PY
}

echo "bench-emu: guest $guest"
echo "bench-emu: command: $cmd"
for _ in $(seq "$runs"); do
    JAVA_OPTS="${JAVA_OPTS:-} -Dvireo.emu.stats=true" timed "vireo emu" \
        "$repo/releng/scripts/vireo" run --backend emu --memory 256M \
        --kernel "$guest/vmlinuz" --initrd "$guest/initramfs.cpio.gz" --append "$append"
    timed "qemu tcg" qemu-system-x86_64 -accel tcg -M pc -m 256 -nographic -no-reboot -nic none \
        -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" -append "$append"
done
