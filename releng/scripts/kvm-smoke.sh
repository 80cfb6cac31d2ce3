#!/usr/bin/env bash
# The KVM backend's smoke check, for any host with /dev/kvm (see shared docs KVM-ON-DEVICE.md).
#
#   kvm-smoke.sh                 prepare target/kvm-smoke and run the check on this host
#   kvm-smoke.sh --prepare DIR   only prepare DIR, for a host with KVM but no Java or Maven:
#                                copy DIR there and run DIR/run.sh (it writes logs under $OUT)
#
# The folder holds a jlinked Java runtime, the headless product and the purpose-built test
# guest (tests/kvm-guest), about 45 MB. run.sh boots the guest with `vireo run --backend kvm
# --cpus 2 --device testdev` and prints what the guest did (UART output through port I/O
# exits, a test device's MMIO register, an interrupt through KVM's IOAPIC and LAPIC, the second
# vCPU started by INIT/SIPI as the MP table says, a port-I/O loop, the i8042 reset) and the
# figures: time from the command's start to the guest's first output line, port-I/O exits per
# second in the guest's loop, and the VMM's memory beyond guest RAM.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
prepare_only=
dir=$repo/target/kvm-smoke
if [ "${1:-}" = --prepare ]; then
    prepare_only=1
    dir=${2:?usage: kvm-smoke.sh [--prepare DIR]}
fi
product=$repo/releng/org.vireo.headless.product/target/products/org.vireo.headless/linux/gtk/x86_64/vireo

if [ ! -x "$product/vireo" ] || [ ! -d "$product/plugins" ] || ! ls "$product"/plugins/org.vireo.cpu.kvm_*.jar >/dev/null 2>&1; then
    echo "kvm-smoke: building the headless product (./mvnw -q -B -DskipTests package)..." >&2
    (cd "$repo" && ./mvnw -q -B -DskipTests package) >&2
fi

rm -rf "$dir"
mkdir -p "$dir"
echo "kvm-smoke: preparing $dir" >&2
"$repo/tests/kvm-guest/build.sh" "$dir" >/dev/null
cp -r "$product" "$dir/vireo"
jlink --add-modules java.base,java.logging,java.xml,java.naming,java.management,jdk.unsupported \
    --strip-debug --no-header-files --no-man-pages --compress=2 --output "$dir/jre" 2>/dev/null
cat > "$dir/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the purpose-built test guest on KVM with 2 vCPUs and prints what happened and the figures.
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd -P)
out=${OUT:-$dir/out}
mkdir -p "$out"
export JAVA_HOME=$dir/jre
export JAVA_OPTS="-Dvireo.kvm.stats=true"
export VIREO_LIBRARY=$out/library
echo "host: $(uname -r); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
[ -d /sys/module/kvm_pvm ] && echo "host KVM: kvm-pvm (software nested hypervisor)"
ls -l /dev/kvm || { echo "kvm-smoke: FAILED: no /dev/kvm on this host"; exit 1; }
start=$(date +%s%N)
"$dir/vireo/vireo" run --name kvm-smoke --backend kvm --cpus 2 --memory 64M \
    --kernel "$dir/testguest.elf" --device testdev 2>"$out/stderr.log" </dev/null |
    while IFS= read -r line; do
        now=$(date +%s%N)
        printf '%9.1f ms  %s\n' "$(( (now - start) / 1000 ))e-3" "$line"
    done | tee "$out/console.log"
status=${PIPESTATUS[0]}
cat "$out/stderr.log"
echo "vireo run exit status: $status"

fail=0
for want in "mmio ok" "irq ok" "smp ok cpus=2" "pio loop writes=100000" "testguest: done"; do
    grep -q "$want" "$out/console.log" || { echo "kvm-smoke: missing '$want'"; fail=1; }
done
grep -q "FAILED" "$out/console.log" && { echo "kvm-smoke: the guest reported a failure"; fail=1; }
[ "$status" = 0 ] || fail=1

first=$(head -n 1 "$out/console.log" | awk '{print $1}')
cycles=$(sed -n 's/.*pio loop writes=100000 tsc=\([0-9]*\).*/\1/p' "$out/console.log" | head -n 1)
khz=$(sed -n 's/.*guest TSC \([0-9]*\) kHz.*/\1/p' "$out/stderr.log" | head -n 1)
vmm=$(sed -n 's/.* + VMM \([0-9.]*\) MiB.*/\1/p' "$out/stderr.log" | head -n 1)
echo
echo "== figures"
echo "start to the guest's first output line: ${first:-?} ms (JVM, OSGi runtime, VM set-up and guest)"
if [ -n "$cycles" ] && [ -n "$khz" ] && [ "$khz" -gt 0 ]; then
    awk -v c="$cycles" -v k="$khz" 'BEGIN { s = c / (k * 1000.0);
        printf "port-I/O loop: 100000 exits in %.1f ms guest time: %.0f exits/s (%.2f us each)\n", s * 1000, 100000 / s, s * 1e6 / 100000 }'
else
    echo "port-I/O loop: no figure (guest cycles '${cycles:-}', TSC '${khz:-}' kHz)"
fi
echo "VMM memory beyond guest RAM: ${vmm:-?} MiB (process RSS minus resident guest RAM)"
if [ "$fail" = 0 ]; then echo "kvm-smoke: PASSED"; else echo "kvm-smoke: FAILED"; fi
exit "$fail"
RUN
chmod +x "$dir/run.sh"
echo "kvm-smoke: $(du -sh "$dir" | cut -f1) in $dir" >&2
[ -n "$prepare_only" ] && exit 0
exec "$dir/run.sh"
