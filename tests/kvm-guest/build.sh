#!/bin/sh
# Builds testguest.elf, the bare-metal x86-64 guest that checks a CPU backend end to end,
# with the host's GNU assembler and linker (Debian: binutils).
#   usage: build.sh OUTDIR      -> OUTDIR/testguest.elf
set -eu
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd -P)

for tool in as ld; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "tests/kvm-guest/build.sh: '$tool' not found: install GNU binutils (apt-get install binutils)" >&2
        exit 1
    fi
done
case $(as --version 2>/dev/null | head -n 1) in
    *GNU*) ;;
    *) echo "tests/kvm-guest/build.sh: 'as' is not the GNU assembler: install GNU binutils" >&2; exit 1 ;;
esac

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# testguest.S uses no C preprocessor: the assembler reads it directly.
as --64 -o "$tmp/testguest.o" "$here/testguest.S"
ld -m elf_x86_64 -static -nostdlib -z noexecstack -z max-page-size=0x1000 --build-id=none \
    -T "$here/link.ld" -o "$tmp/testguest.elf" "$tmp/testguest.o"
mv "$tmp/testguest.elf" "$out/testguest.elf"
echo "$out/testguest.elf"
