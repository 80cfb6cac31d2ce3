#!/usr/bin/env bash
# Boot the test guest under QEMU (TCG, -M pc) as the reference for Vireo, run a command
# in it, print the console output and the time from start to VIREO-GUEST-READY.
#
#   tests/guest/qemu-reference.sh [COMMAND WORDS...]
#
# COMMAND defaults to: uname -a; ls /sys/bus/virtio/devices; cat /proc/cpuinfo | head -5
# It runs as vireo.cmd="COMMAND" (so it may not contain a double quote). The guest comes
# from build-guest.sh (cached), or from $VIREO_GUEST_DIR. Extra QEMU arguments may be
# given in $VIREO_QEMU_ARGS. Exit status: the command's (VIREO-CMD-EXIT), or 1 when
# no marker or no exit line was seen, 124 when QEMU had to be stopped (after 120 s,
# or $VIREO_QEMU_TIMEOUT).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TIMEOUT=${VIREO_QEMU_TIMEOUT:-120}
MARKER=VIREO-GUEST-READY
log() { printf 'qemu-reference: %s\n' "$*" >&2; }
die() { printf 'qemu-reference: error: %s\n' "$*" >&2; exit 1; }

cmd=${*:-"uname -a; ls /sys/bus/virtio/devices; cat /proc/cpuinfo | head -5"}
[[ $cmd != *'"'* ]] || die 'the command may not contain a double quote (it goes into vireo.cmd="...")'

QEMU=qemu-system-x86_64
if ! command -v "$QEMU" >/dev/null; then
	[[ $(id -u) == 0 ]] || die "$QEMU not found; install Debian's qemu-system-x86 (as root: apt-get install -y qemu-system-x86)"
	log "installing qemu-system-x86"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-x86 >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-x86 >&2; } ||
		die "apt-get install qemu-system-x86 failed"
fi

guest=${VIREO_GUEST_DIR:-$("$HERE/build-guest.sh" | tail -n1)}
[[ -f $guest/vmlinuz && -f $guest/initramfs.cpio.gz ]] || die "no guest in '$guest'"

append="console=ttyS0 reboot=k quiet vireo.cmd=\"$cmd\""
# shellcheck disable=SC2206 # word splitting of VIREO_QEMU_ARGS is intended
# -nic none: no default e1000 (and no iPXE ROM), the only device is the virtio-rng.
qemu=("$QEMU" -accel tcg -M pc -m 256 -nographic -no-reboot -nic none
	-kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" -append "$append"
	-device virtio-rng-pci ${VIREO_QEMU_ARGS:-})
log "guest $(cat "$guest/kernel-version" 2>/dev/null || echo "$guest")"
log "${qemu[*]}"

result=$(mktemp)
trap 'rm -f "$result"' EXIT
t0=$EPOCHREALTIME
set +e
timeout -k 5 "$TIMEOUT" "${qemu[@]}" </dev/null 2>&1 | {
	marker=- status=-
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		printf '%s\n' "$line"
		case $line in
		*"$MARKER") [[ $marker != - ]] || marker=$EPOCHREALTIME ;; # firmware may leave text before it
		"VIREO-CMD-EXIT "*) status=${line#VIREO-CMD-EXIT } ;;
		esac
	done
	echo "$marker $status" >"$result"
}
qemu_rc=${PIPESTATUS[0]}
set -e
t1=$EPOCHREALTIME
read -r marker status <"$result"

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
echo "---"
if [[ $marker == - ]]; then
	echo "marker $MARKER: not seen"
else
	echo "time to marker: $(secs "$t0" "$marker") s"
fi
echo "command exit status: $status"
echo "qemu exit status: $qemu_rc, total $(secs "$t0" "$t1") s"
if ((qemu_rc == 124 || qemu_rc == 137)); then
	echo "qemu did not stop by itself within $TIMEOUT s; killed"
	exit 124
fi
[[ $marker != - && $status =~ ^[0-9]+$ ]] || exit 1
exit "$status"
