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

    # A library VM started by one vireo process and reached from others through its control
    # socket: the balloon takes 32 MiB from the guest (the guest waits to see its driver
    # inflate) and reports the guest's memory statistics. Then data safety: what the guest
    # wrote and synced to its virtio disk is in the image even when the runtime is killed
    # (SIGKILL) the moment the guest's sync has returned.
    if command -v debugfs >/dev/null; then
        disk="$lib/disk.img"
        truncate -s 64M "$disk"
        log="$lib/kill-run.log"
        "$vireo" create safe --backend emu --memory 256M --kernel "$guest/vmlinuz" \
            --initrd "$guest/initramfs.cpio.gz" --device "virtio-blk,path=$disk" --device virtio-balloon \
            --append 'console=ttyS0 reboot=k quiet vireo.cmd="echo BALLOON-READY; while ! grep -q balloon_inflate.[1-9] /proc/vmstat; do sleep 0.2; done; echo INFLATED; mke2fs /dev/vda >/dev/null; mount -t ext4 /dev/vda /mnt; seq 1 3000 > /mnt/n; sync; echo SYNC-RETURNED; while true; do echo TICK; sleep 1; done"' \
            >/dev/null || fail "vireo create safe exited $?"
        "$vireo" start safe --no-console </dev/null >"$log" 2>&1 &
        pid=$!
        await() { # LINE SECONDS
            for _ in $(seq 1 $(($2 * 2))); do
                grep -q "^$1" "$log" && return 0
                kill -0 "$pid" 2>/dev/null || fail "vireo start exited before the guest printed $1: $(cat "$log")"
                sleep 0.5
            done
            kill -9 "$pid"
            fail "the guest did not print $1 in $2 s: $(cat "$log")"
        }
        await BALLOON-READY 300
        out=$("$vireo" balloon safe 32M --wait 120 2>&1) || { kill -9 "$pid"; fail "vireo balloon safe 32M exited $?: $out"; }
        echo "$out" | grep -q "the guest holds 32 MiB" || { kill -9 "$pid"; fail "vireo balloon safe 32M printed: $out"; }
        await INFLATED 120
        out=$("$vireo" balloon safe 2>&1) || { kill -9 "$pid"; fail "vireo balloon safe exited $?: $out"; }
        echo "$out" | grep -q "actual: 32 MiB" && echo "$out" | grep -q "free-memory" \
            || { kill -9 "$pid"; fail "vireo balloon safe printed: $out"; }
        checks="$checks, balloon from another process"
        await SYNC-RETURNED 300
        out=$("$vireo" save safe "$lib/safe.snap" 2>&1) || { kill -9 "$pid"; fail "vireo save exited $?: $out"; }
        kill -9 "$pid"
        wait "$pid" 2>/dev/null || true
        got=$(debugfs -R "cat /n" "$disk" 2>/dev/null | sha256sum | cut -d' ' -f1)
        [ "$got" = "$expected" ] || fail "after SIGKILL the image does not hold the synced file (sha256 $got)"
        checks="$checks, synced data survives SIGKILL"

        # The VM saved by another process, then continued by a new one from the file.
        [ -f "$lib/safe.snap" ] || fail "vireo save wrote no $lib/safe.snap"
        log2="$lib/restore.log"
        "$vireo" restore "$lib/safe.snap" --no-console </dev/null >"$log2" 2>&1 &
        pid=$!
        log=$log2
        await TICK 120
        "$vireo" list | grep -q "^safe .*running" || { kill -9 "$pid"; fail "vireo list after restore: $("$vireo" list)"; }
        "$vireo" stop safe --force >/dev/null || { kill -9 "$pid"; fail "vireo stop safe --force exited $?"; }
        wait "$pid" 2>/dev/null || true
        checks="$checks, save and restore in a new process"
    fi
fi
echo "product smoke test: passed ($checks)"
