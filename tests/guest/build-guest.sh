#!/usr/bin/env bash
# Build Vireo's test guest: Debian's stock kernel (bzImage, untouched) plus a small
# busybox initramfs carrying the virtio (and ext4) modules and an /init that prints
# VIREO-GUEST-READY, runs vireo.cmd="..." from the kernel command line, and reboots.
#
#   tests/guest/build-guest.sh [--force] [--kernel ABI]
#
# Result: $VIREO_GUEST_CACHE (default ~/.cache/vireo/guest)/<kernel-abi>/ with vmlinuz,
# initramfs.cpio.gz, kernel-version, build-info and SHA256SUMS; $CACHE/current links to
# it. The last line on stdout is that directory; progress goes to stderr. A complete
# cached result is reused without network access. See tests/guest/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
CACHE=${VIREO_GUEST_CACHE:-$HOME/.cache/vireo/guest}
FORCE=0
ABI=${VIREO_GUEST_KERNEL:-}   # e.g. 6.1.0-41-amd64; empty: whatever linux-image-amd64 depends on
PINNED=${ABI:+1}

# Modules to load, in this order (dependencies found in the .ko files are loaded
# first). name:CONFIG_SYMBOL, the symbol only to explain a module that is missing.
MODULES=(
	virtio_ring:VIRTIO virtio:VIRTIO virtio_pci_legacy_dev:VIRTIO_PCI_LIB_LEGACY
	virtio_pci_modern_dev:VIRTIO_PCI_LIB virtio_pci:VIRTIO_PCI virtio_blk:VIRTIO_BLK
	failover:FAILOVER net_failover:NET_FAILOVER virtio_net:VIRTIO_NET
	virtio_console:VIRTIO_CONSOLE virtio_rng:HW_RANDOM_VIRTIO virtio_balloon:VIRTIO_BALLOON
	# ext4 and its helpers; crc32c_generic is only a soft dependency (crypto-crc32c) of
	# jbd2 and ext4, needed for metadata checksums, and the guest has no modprobe.
	crc16:CRC16 crc32c_generic:CRYPTO_CRC32C mbcache:FS_MBCACHE jbd2:JBD2
	ext2:EXT2_FS ext4:EXT4_FS
)
# Applets /init needs; missing ones are fatal. Busybox's other applets are linked too.
REQUIRED_APPLETS=(sh mount insmod echo cat mkdir reboot sync setsid cttyhack)
WANTED_APPLETS=(ls poweroff sleep dmesg dd uname mknod hexdump md5sum sha256sum mke2fs)
MARKER=VIREO-GUEST-READY

log() { printf 'build-guest: %s\n' "$*" >&2; }
die() { printf 'build-guest: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit "${1:-0}"; }

while (($#)); do
	case $1 in
	--force) FORCE=1 ;;
	--kernel) (($# > 1)) || usage 2; ABI=$2; PINNED=1; shift ;;
	--kernel=*) ABI=${1#*=}; PINNED=1 ;;
	-h | --help) usage 0 ;;
	*) log "unknown argument: $1"; usage 2 ;;
	esac
	shift
done
is_root() { [[ $(id -u) == 0 ]]; }

# --- which kernel ---------------------------------------------------------------------

# apt-cache takes ~0.9 s where apt's binary cache is disabled (Docker images), so the
# answer is remembered, keyed on the package lists and apt's configuration.
apt_stamp() {
	local L=/var/lib/apt/lists/ SL=/etc/apt/sources.list SP=/etc/apt/sources.list.d/ PF=/etc/apt/preferences PP=/etc/apt/preferences.d/
	eval "$(apt-config shell L Dir::State::lists/d SL Dir::Etc::sourcelist/f SP Dir::Etc::sourceparts/d \
		PF Dir::Etc::preferences/f PP Dir::Etc::preferencesparts/d 2>/dev/null)" || true
	{ stat -c '%n %s %Y' "$L"*_Packages* "$SL" "$SP"* "$PF" "$PP"* 2>/dev/null || true; } |
		sha256sum | cut -c1-64
}

abi_from_apt() {
	local deps abi
	# The candidate version's record: the one apt-get download fetches.
	deps=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null | sed -n 's/^Depends: //p' | head -n1) || true
	[[ -n $deps ]] || deps=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: //p') || true
	abi=$(grep -oE 'linux-image-[0-9][^ ,()|]*-amd64' <<<"$deps" | head -n1) || true
	printf '%s' "${abi#linux-image-}"
}

UPDATED=0
apt_update() {
	((UPDATED == 0)) || return 1
	is_root || return 1
	UPDATED=1
	log "running apt-get update"
	apt-get update -q >&2 || { log "warning: apt-get update failed"; return 1; }
}

resolve_abi() {
	[[ -z $PINNED ]] || return 0
	local memo=$CACHE/.kernel-resolved stamp
	stamp=$(apt_stamp)
	if [[ -r $memo ]] && read -r s a <"$memo" && [[ $s == "$stamp" && -n $a ]]; then
		ABI=$a
		return 0
	fi
	ABI=$(abi_from_apt)
	if [[ -z $ABI ]] && apt_update; then
		ABI=$(abi_from_apt)
		stamp=$(apt_stamp)
	fi
	if [[ -z $ABI ]]; then
		if [[ -L $CACHE/current ]] && complete "$CACHE/current"; then
			ABI=$(cat "$CACHE/current/kernel-version")
			log "warning: apt-cache cannot resolve linux-image-amd64; using the cached $ABI"
			return 0
		fi
		die "package linux-image-amd64 not found: apt-cache knows nothing about it$(is_root || echo ' (run apt-get update as root, or pass --kernel ABI)')"
	fi
	mkdir -p "$CACHE" && printf '%s %s\n' "$stamp" "$ABI" >"$memo.$$" && mv -f "$memo.$$" "$memo" || true
}

# --- the cache ------------------------------------------------------------------------

RESULT_FILES=(vmlinuz initramfs.cpio.gz kernel-version build-info)

complete() {
	local dir=$1 f
	[[ -s $dir/SHA256SUMS ]] || return 1
	for f in "${RESULT_FILES[@]}"; do
		grep -q "  $f\$" "$dir/SHA256SUMS" || return 1
	done
	(cd "$dir" && sha256sum --quiet --strict -c SHA256SUMS >/dev/null 2>&1)
}

point_current() {
	[[ $(readlink "$CACHE/current" 2>/dev/null) == "$ABI" ]] && return 0
	ln -sfn "$ABI" "$CACHE/.current.$$" && mv -Tf "$CACHE/.current.$$" "$CACHE/current"
}

finish() {
	point_current
	printf '%s\n' "$CACHE/$ABI"
	exit 0
}

resolve_abi
[[ $ABI =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "bad kernel ABI '$ABI'"
if ((!FORCE)) && complete "$CACHE/$ABI"; then
	finish
fi

# --- build ----------------------------------------------------------------------------

for tool in apt-get dpkg-deb tar python3 sha256sum; do
	command -v "$tool" >/dev/null || die "$tool is required but not installed"
done
mkdir -p "$CACHE"
if command -v flock >/dev/null; then
	exec 9>"$CACHE/.lock"
	flock 9
	if ((!FORCE)) && complete "$CACHE/$ABI"; then
		log "built by another process meanwhile"
		finish
	fi
	rm -rf "$CACHE"/.tmp.* # left by killed builds; nobody else builds while we hold the lock
fi
TMP=$(mktemp -d "$CACHE/.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
mkdir "$TMP/debs" "$TMP/x" "$TMP/root" "$TMP/out"

apt_download() {
	local opts=(-q)
	is_root && opts+=(-o APT::Sandbox::User=root) # _apt cannot write under /root
	(cd "$TMP/debs" && apt-get "${opts[@]}" download "$@") >&2
}

log "kernel linux-image-$ABI: downloading it and busybox-static"
if ! apt_download "linux-image-$ABI" busybox-static; then
	# Lists may be stale (the mirror has moved on): update once, resolve again, retry.
	apt_update || die "apt-get download of linux-image-$ABI busybox-static failed$(is_root || echo ' (package lists stale? run apt-get update as root)')"
	if [[ -z $PINNED ]]; then
		old=$ABI
		ABI=$(abi_from_apt)
		[[ -n $ABI ]] || die "package linux-image-amd64 not found after apt-get update"
		printf '%s %s\n' "$(apt_stamp)" "$ABI" >"$CACHE/.kernel-resolved"
		[[ $ABI == "$old" ]] || log "linux-image-amd64 now depends on linux-image-$ABI"
		if ((!FORCE)) && complete "$CACHE/$ABI"; then
			finish
		fi
	fi
	rm -f "$TMP"/debs/*
	apt_download "linux-image-$ABI" busybox-static || die "apt-get download of linux-image-$ABI busybox-static failed (after apt-get update)"
fi
kdeb=$(ls "$TMP"/debs/linux-image-"$ABI"_*.deb 2>/dev/null | head -n1) || true
bdeb=$(ls "$TMP"/debs/busybox-static_*.deb 2>/dev/null | head -n1) || true
[[ -f $kdeb ]] || die "download failed: no linux-image-${ABI}_*.deb in $TMP/debs"
[[ -f $bdeb ]] || die "download failed: no busybox-static_*.deb in $TMP/debs"
kver=$(dpkg-deb -f "$kdeb" Version)
bver=$(dpkg-deb -f "$bdeb" Version)

# Extract members matching the given tar wildcards; members that aren't there are
# fine (the caller checks what arrived), any other failure is not.
extract() {
	local deb=$1 st
	shift
	set +e
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$TMP/x" --wildcards "$@" 2>"$TMP/tar.err"
	st=("${PIPESTATUS[@]}")
	set -e
	((st[0] == 0)) || die "dpkg-deb failed to unpack $deb"
	if ((st[1] != 0)) && grep -v -e 'Not found in archive' -e 'Exiting with failure status' "$TMP/tar.err" >&2; then
		die "tar failed unpacking $deb"
	fi
}

# name, depends (or -), path of each .ko: the .modinfo section, as modinfo -F reads it.
modinfo_all() {
	python3 - "$@" <<'EOF'
import os, struct, sys
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    if data[:5] != b"\x7fELF\x02":
        sys.exit("build-guest: error: %s is not an ELF64 module" % path)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    sh = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = sh[shstrndx][4]
    info = {}
    for s in sh:
        if data[strtab + s[0]:data.index(b"\0", strtab + s[0])] == b".modinfo":
            for kv in data[s[4]:s[4] + s[5]].split(b"\0"):
                k, _, v = kv.decode(errors="replace").partition("=")
                info.setdefault(k, v)
    name = info.get("name") or os.path.basename(path).split(".ko")[0].replace("-", "_")
    print(name, info.get("depends") or "-", path)
EOF
}

declare -A KO=() DEPS=() TRIED=()
index_modules() {
	local f name deps path files info
	while IFS= read -r -d '' f; do
		case $f in
		*.ko.xz) xz -dc "$f" >"${f%.xz}" ;;
		*.ko.zst) zstd -dcq "$f" >"${f%.zst}" ;;
		*.ko.gz) gzip -dc "$f" >"${f%.gz}" ;;
		*) continue ;;
		esac || die "cannot decompress $f"
		rm -f "$f"
	done < <(find "$TMP/x" -name '*.ko.*' -print0)
	KO=() DEPS=()
	mapfile -d '' files < <(find "$TMP/x" -name '*.ko' -print0 | sort -z)
	((${#files[@]})) || return 0
	info=$(modinfo_all "${files[@]}") || die "cannot read .modinfo of the modules"
	while read -r name deps path; do
		KO[$name]=$path
		DEPS[$name]=${deps/#-/}
	done <<<"$info"
}
glob_for() { local n=${1//[-_]/[-_]}; printf '*/%s.ko*' "$n"; } # virtio_rng -> virtio-rng.ko

log "unpacking kernel $kver and busybox $bver"
extract "$bdeb" ./bin/busybox
pending=("${MODULES[@]%%:*}")
patterns=("./boot/vmlinuz-$ABI" "./boot/config-$ABI")
for pass in 1 2 3 4 5 6; do
	for m in "${pending[@]}"; do
		[[ -n ${KO[$m]:-} || -n ${TRIED[$m]:-} ]] && continue
		TRIED[$m]=1
		patterns+=("$(glob_for "$m")")
	done
	((${#patterns[@]})) || break
	extract "$kdeb" "${patterns[@]}"
	patterns=()
	index_modules
	pending=()
	for m in "${!DEPS[@]}"; do
		for d in ${DEPS[$m]//,/ }; do pending+=("$d"); done
	done
done
[[ -s $TMP/x/boot/vmlinuz-$ABI ]] || die "linux-image-$ABI has no boot/vmlinuz-$ABI"
config=$TMP/x/boot/config-$ABI

# Dependency order: each module after what its depends= names.
ORDER=() NOTES=()
declare -A SEEN=()
visit() {
	local m=$1 d
	[[ -z ${SEEN[$m]:-} ]] || return 0
	SEEN[$m]=1
	for d in ${DEPS[$m]//,/ }; do
		if [[ -n ${KO[$d]:-} ]]; then visit "$d"; else NOTES+=("$d (needed by $m): not in linux-image-$ABI"); fi
	done
	ORDER+=("$m")
}
for spec in "${MODULES[@]}"; do
	m=${spec%%:*} sym=CONFIG_${spec#*:}
	if [[ -n ${KO[$m]:-} ]]; then
		visit "$m"
		continue
	fi
	setting=$(grep -E "^(# )?$sym[= ]" "$config" 2>/dev/null | head -n1) || true
	case $setting in
	*=y) why="built into the kernel ($setting)" ;;
	"# $sym is not set") why="not in this kernel ($setting)" ;;
	*) why="no $m.ko in linux-image-$ABI${setting:+ ($setting)}" ;;
	esac
	[[ $m == ext2 ]] && grep -q '^CONFIG_EXT4_USE_FOR_EXT2=y' "$config" && why+="; ext4 mounts ext2 (CONFIG_EXT4_USE_FOR_EXT2=y)"
	NOTES+=("$m: skipped, $why")
done
for n in "${NOTES[@]}"; do log "note: $n"; done

# --- the initramfs tree -----------------------------------------------------------------

R=$TMP/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,mnt,etc,root,lib/modules}
chmod 1777 "$R/tmp"
install -m 755 "$TMP/x/bin/busybox" "$R/bin/busybox"
applets=$("$R/bin/busybox" --list-full) || die "cannot run busybox from busybox-static $bver"
for a in $applets; do
	case $a in linuxrc | sbin/init | bin/busybox) continue ;; esac
	mkdir -p "$R/$(dirname "$a")"
	ln -s /bin/busybox "$R/$a"
done
for a in "${REQUIRED_APPLETS[@]}"; do
	grep -qE "(^|/)$a\$" <<<"$applets" || die "busybox-static $bver lacks the $a applet, which /init needs"
done
for a in "${WANTED_APPLETS[@]}"; do
	grep -qE "(^|/)$a\$" <<<"$applets" || log "note: busybox-static has no $a applet"
done

names=()
for m in "${ORDER[@]}"; do
	f=$(basename "${KO[$m]}")
	install -m 644 "${KO[$m]}" "$R/lib/modules/$f"
	names+=("${f%.ko}")
done

cat >"$R/etc/profile" <<'EOF'
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PS1='vireo# '
EOF
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"

# shellcheck disable=SC2016 # $vars below are for the guest's shell
{
	echo '#!/bin/sh'
	echo "# Vireo test guest init, written by tests/guest/build-guest.sh (kernel $ABI)."
	echo 'export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root'
	echo 'mount -t proc proc /proc'
	echo 'mount -t sysfs sysfs /sys'
	echo 'mount -t devtmpfs devtmpfs /dev'
	echo "for m in ${names[*]}; do"
	cat <<'EOF'
	insmod /lib/modules/$m.ko 2>/dev/null || echo "vireo-init: insmod $m failed"
done
EOF
	echo "echo $MARKER"
	cat <<'EOF'
# vireo.cmd=word or vireo.cmd="words with spaces" (the kernel keeps the quotes here)
cmdline=" $(cat /proc/cmdline)"
case "$cmdline" in
*" vireo.cmd="*)
	cmd=${cmdline#* vireo.cmd=}
	case "$cmd" in
	\"*) cmd=${cmd#\"}; cmd=${cmd%%\"*} ;;
	*) cmd=${cmd%% *} ;;
	esac
	sh -c "$cmd"
	echo "VIREO-CMD-EXIT $?"
	;;
*)
	setsid cttyhack sh -l
	;;
esac
sync
reboot -f
EOF
} >"$R/init"
chmod 755 "$R/init"

# --- results --------------------------------------------------------------------------

O=$TMP/out
install -m 644 "$TMP/x/boot/vmlinuz-$ABI" "$O/vmlinuz"
[[ $(dd if="$O/vmlinuz" bs=1 skip=514 count=4 2>/dev/null) == HdrS ]] ||
	die "boot/vmlinuz-$ABI from linux-image-$ABI is not a bzImage (no HdrS header)"
log "writing initramfs (${#names[@]} modules)"
python3 "$HERE/mkcpio.py" --gzip --node dev/console:c:5:1:600 --node dev/null:c:1:3:666 \
	"$R" "$O/initramfs.cpio.gz" || die "mkcpio.py failed"
echo "$ABI" >"$O/kernel-version"
{
	echo "kernel-version=$ABI"
	echo "kernel-package=linux-image-$ABI $kver"
	echo "busybox-package=busybox-static $bver"
	echo "modules=${names[*]}"
	for n in "${NOTES[@]}"; do echo "note=$n"; done
} >"$O/build-info"
(cd "$O" && sha256sum "${RESULT_FILES[@]}" >SHA256SUMS)
chmod 755 "$O"

if [[ -e $CACHE/$ABI ]]; then
	mv "$CACHE/$ABI" "$TMP/old"
fi
mv "$O" "$CACHE/$ABI"
log "built $CACHE/$ABI: vmlinuz $(stat -c %s "$CACHE/$ABI/vmlinuz") bytes, initramfs $(stat -c %s "$CACHE/$ABI/initramfs.cpio.gz") bytes"
finish
