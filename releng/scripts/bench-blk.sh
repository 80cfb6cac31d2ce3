#!/usr/bin/env bash
# virtio-blk throughput: sequential write and read of SIZE_MIB (default 256) MiB inside the
# test guest (busybox dd, conv=fsync for the write, iflag=direct for the read) on a raw
# image, against the same dd on the host file system where the image lives, printed side by
# side with the ratio. BACKENDS (default "emu", and "kvm" too where /dev/kvm runs stock
# kernels) picks the CPU backends measured.
#
#   releng/scripts/bench-blk.sh            # builds the product and the test guest if needed
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
size=${SIZE_MIB:-256}
backends=${BACKENDS:-emu}
guest=$("$repo/tests/guest/build-guest.sh" | tail -n 1)
vireo=$repo/releng/scripts/vireo
work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-bench-blk.XXXXXX")
trap 'rm -rf "$work"' EXIT
export VIREO_LIBRARY=$work/library

rate() { # "268435456 bytes (256.0MB) copied, 2.1 s, 120 MB/s" or GNU dd's line -> MB/s
    sed -n 's/.*copied, *\([0-9.]*\) *s.*/\1/p' | head -n 1 | awk -v mib="$size" '{ if ($1 > 0) printf "%.1f", mib / $1; else print "?" }'
}

echo "== host: dd on $(df --output=source,fstype "$work" | tail -n 1)"
host_write=$(dd if=/dev/zero of="$work/host.img" bs=1M count="$size" conv=fsync 2>&1 | tail -n 1 | rate)
sync
host_read=$(dd if="$work/host.img" of=/dev/null bs=1M iflag=direct 2>&1 | tail -n 1 | rate)
rm -f "$work/host.img"
echo "host: write $host_write MiB/s, read $host_read MiB/s"

for backend in $backends; do
    truncate -s $((size + 16))M "$work/disk.img"
    # busybox dd prints no rate: the guest times each run with /proc/uptime (10 ms steps).
    cmd="t0=\$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero of=/dev/vda bs=1M count=$size conv=fsync 2>/dev/null;"
    cmd="$cmd t1=\$(cut -d' ' -f1 /proc/uptime); echo 3 > /proc/sys/vm/drop_caches;"
    cmd="$cmd dd if=/dev/vda of=/dev/null bs=1M count=$size iflag=direct 2>/dev/null;"
    cmd="$cmd t2=\$(cut -d' ' -f1 /proc/uptime); echo BENCH \$t0 \$t1 \$t2"
    out=$("$vireo" run --backend "$backend" --memory 512M --kernel "$guest/vmlinuz" --initrd "$guest/initramfs.cpio.gz" \
        --device "virtio-blk,path=$work/disk.img" --append "console=ttyS0 reboot=k quiet vireo.cmd=\"$cmd\"" \
        </dev/null 2>&1) || { echo "$backend: vireo run failed:"; echo "$out"; continue; }
    times=$(echo "$out" | sed -n 's/^BENCH //p' | tr -d '\r')
    [ -n "$times" ] || { echo "$backend: the guest printed no timings:"; echo "$out"; continue; }
    write=$(echo "$times" | awk -v mib="$size" '{ printf "%.1f", mib / ($2 - $1) }')
    read=$(echo "$times" | awk -v mib="$size" '{ printf "%.1f", mib / ($3 - $2) }')
    echo "$backend: write $write MiB/s, read $read MiB/s"
    awk -v w="$write" -v r="$read" -v hw="$host_write" -v hr="$host_read" -v b="$backend" 'BEGIN {
        printf "%s vs host: write %.0f%%, read %.0f%%\n", b, 100 * w / hw, 100 * r / hr }'
done
