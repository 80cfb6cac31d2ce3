#!/bin/sh
# Checks the materialized headless product the way a user meets it: the launch script
# starts Equinox, Declarative Services brings up the VM manager, and the vireo command
# answers. Run by the build after the product is materialized; takes the product
# directory as its argument.
set -eu
product=${1:?usage: product-smoke-test.sh PRODUCT_DIR}
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
echo "product smoke test: passed (help, types, create, list, show, delete)"
