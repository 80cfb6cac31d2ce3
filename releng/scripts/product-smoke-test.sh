#!/bin/sh
# Checks the materialized headless product the way a user meets it: the launch script
# starts Equinox, Declarative Services brings up the VM manager, and the vireo command
# answers; then, given the test guest's directory, `vireo run --backend emu` boots Debian's
# kernel on the software CPU, runs a command and must exit 0. Run by the build after the
# product is materialized.
set -eu
product=${1:?usage: product-smoke-test.sh PRODUCT_DIR [GUEST_DIR]}
guest=${2:-}
vireo=$product/vireo
lib=$(mktemp -d)
trap 'rm -rf "$lib"' EXIT
export VIREO_LIBRARY="$lib"
fail() { echo "product smoke test: FAILED: $*" >&2; exit 1; }

out=$("$vireo" --help) || fail "vireo --help exited $?"
echo "$out" | grep -q "Runs and manages virtual machines" || fail "vireo --help printed: $out"

out=$("$vireo" types) || fail "vireo types exited $?"
echo "$out" | grep -q "CPU backends:" || fail "vireo types printed: $out"

touch "$lib/vmlinuz"
"$vireo" create smoke --kernel "$lib/vmlinuz" --memory 128M >/dev/null || fail "vireo create exited $?"
[ -f "$lib/vms/smoke/vm.json" ] || fail "vireo create wrote no $lib/vms/smoke/vm.json"
out=$("$vireo" list) || fail "vireo list exited $?"
echo "$out" | grep -q "^smoke .*stopped" || fail "vireo list printed: $out"

set +e
"$vireo" show nosuchvm >/dev/null 2>&1; code=$?
set -e
[ "$code" = 4 ] || fail "vireo show of a missing VM exited $code, expected 4"

"$vireo" delete smoke >/dev/null || fail "vireo delete exited $?"
[ ! -e "$lib/vms/smoke" ] || fail "vireo delete left $lib/vms/smoke"
checks="help, types, create, list, show, delete"

if [ -n "$guest" ]; then
    [ -f "$guest/vmlinuz" ] || fail "no test guest in $guest (tests/guest/build-guest.sh builds it)"
    expected=$(seq 1 3000 | sha256sum | cut -d' ' -f1)
    set +e
    out=$("$vireo" run --backend emu --memory 256M --kernel "$guest/vmlinuz" --initrd "$guest/initramfs.cpio.gz" \
        --append 'console=ttyS0 reboot=k quiet vireo.cmd="uname -m; seq 1 3000 > /tmp/n; sha256sum /tmp/n"' \
        </dev/null 2>&1)
    code=$?
    set -e
    [ "$code" = 0 ] || fail "vireo run --backend emu exited $code: $out"
    for want in VIREO-GUEST-READY x86_64 "$expected  /tmp/n" "VIREO-CMD-EXIT 0"; do
        echo "$out" | grep -q "$want" || fail "vireo run --backend emu did not print '$want': $out"
    done
    checks="$checks, run --backend emu"

    # Data safety: what the guest wrote and synced to its virtio disk is in the image even
    # when the runtime is killed (SIGKILL) the moment the guest's sync has returned.
    if command -v debugfs >/dev/null; then
        disk="$lib/disk.img"
        truncate -s 64M "$disk"
        log="$lib/kill-run.log"
        "$vireo" run --backend emu --memory 256M --kernel "$guest/vmlinuz" --initrd "$guest/initramfs.cpio.gz" \
            --device "virtio-blk,path=$disk" \
            --append 'console=ttyS0 reboot=k quiet vireo.cmd="mke2fs /dev/vda >/dev/null; mount -t ext4 /dev/vda /mnt; seq 1 3000 > /mnt/n; sync; echo SYNC-RETURNED; sleep 600"' \
            </dev/null >"$log" 2>&1 &
        pid=$!
        for _ in $(seq 1 600); do
            grep -q "^SYNC-RETURNED" "$log" && break
            kill -0 "$pid" 2>/dev/null || fail "vireo run exited before the guest synced: $(cat "$log")"
            sleep 0.5
        done
        grep -q "^SYNC-RETURNED" "$log" || { kill -9 "$pid"; fail "the guest did not sync in 300 s: $(cat "$log")"; }
        kill -9 "$pid"
        wait "$pid" 2>/dev/null || true
        got=$(debugfs -R "cat /n" "$disk" 2>/dev/null | sha256sum | cut -d' ' -f1)
        [ "$got" = "$expected" ] || fail "after SIGKILL the image does not hold the synced file (sha256 $got)"
        checks="$checks, synced data survives SIGKILL"
    fi
fi
echo "product smoke test: passed ($checks)"
