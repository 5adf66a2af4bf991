#!/bin/bash
# The daemon on the machine the tests run on (a VM or container with no
# IOMMU, a few virtio functions): it lists every PCI function sysfs has,
# each marked as having no group when the host has no IOMMU groups, and
# answers GetStatus.  Real sysfs and udev, no fakes.  Needs root.
# Usage: host-daemon.sh IOMMUD IOMMUCTL UEVENT-INJECT
# In a private network namespace: the Monitor check injects uevents, and
# no other listener on the host may see them.
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
if [ -z "${IOMMUD_IN_NETNS:-}" ]; then
	IOMMUD_IN_NETNS=1 exec unshare --net -- "$0" "$@"
fi
iommud=$1 iommuctl=$2 inject=$3
dir=$(mktemp -d)
sock=$dir/org.iommud.Manager
"$iommud" --varlink-socket "$sock" --config /nonexistent/iommud.conf --log-level debug 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
n=0
t() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
fail=0
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

echo "1..18"
list=$("$iommuctl" --socket "$sock" --json list)
t "iommuctl list answers" '[ -n "$list" ]'
sys_n=$(ls /sys/bus/pci/devices | wc -l)
t "lists every PCI function sysfs has ($sys_n)" '[ "$(jq "[.[] | select(.kind == \"pci\")] | length" <<<"$list")" = "$sys_n" ]'
if [ -z "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ]; then
	t "without IOMMU groups every device is marked with none and not assignable" \
	  '[ "$(jq "[.[] | select(.iommuGroup != null or .assignable)] | length" <<<"$list")" = 0 ]'
else
	t "with IOMMU groups every device names its group" \
	  '[ "$(jq "[.[] | select(.iommuGroup == null)] | length" <<<"$list")" = 0 ]'
fi
drivers_ok=1
for d in /sys/bus/pci/devices/*; do
	want=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null); want=${want:-null}
	got=$(jq -r --arg n "$(basename "$d")" '.[] | select(.name == $n) | .driver // "null"' <<<"$list")
	[ "$got" = "$want" ] || { echo "# $(basename "$d"): driver $got, sysfs $want"; drivers_ok=0; }
done
t "every function's driver agrees with sysfs" '[ $drivers_ok = 1 ]'
t "status counts the same devices" '[ "$("$iommuctl" --socket "$sock" --json status | jq .devices)" = "$(jq length <<<"$list")" ]'
printf '[Assignable]\nAddress=0000:00:03.0\n[Limits]\nMaxMemlock=lots\n' > "$dir/bad.conf"
"$iommud" --config "$dir/bad.conf" --varlink-socket "$dir/other" 2>"$dir/bad.log"
rc=$?
t "a broken iommud.conf stops the daemon, naming file and line" \
  '[ $rc != 0 ] && grep -q "bad.conf:4: invalid MaxMemlock=lots" "$dir/bad.log" && [ ! -e "$dir/other" ]'

# A foreign client, python3-varlink, over the same socket.
/usr/bin/python3 "$(dirname "$0")/varlink-foreign.py" "$sock" $((n + 1)) "$inject" || fail=1
[ $fail = 0 ] || sed 's/^/# /' "$dir/log"
exit $fail
