#!/bin/bash
# profiles: custom
# mdevs through iommud (iommuctl mdev, and D-Bus): create an mtty mdev,
# claim it bound and parked (its fd answers VFIO_DEVICE_GET_INFO), remove
# it once released; refused, by name and with nothing changed: a
# duplicate UUID, an unknown parent or type, no instances left, removal
# while leased or open, uid 1000 without a polkit rule.
. /usr/local/bin/vmtest-lib.sh
types=/sys/class/mdev_bus/mtty/mdev_supported_types
[ -d "$types/mtty-2" ] || fail "no mtty-2 type under /sys/class/mdev_bus/mtty"
use_config <<CONF
[Assignable]
Parent=mtty
CONF
avail() { cat "$types/mtty-2/available_instances"; }
mdevs() { ls /sys/bus/mdev/devices 2>/dev/null | sort | tr '\n' ' '; }
before=$(avail) before_list=$(mdevs)

# 1. Create with a given UUID: iommud lists it.
uuid=6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0b
out=$(iommuctl mdev create mtty mtty-2 $uuid) || fail "iommuctl mdev create failed: $out"
[ "$out" = "$uuid" ] || fail "mdev create printed '$out'"
[ -d /sys/bus/mdev/devices/$uuid ] || fail "mdev $uuid not in sysfs"
wait_for 10 sh -c "iommuctl --json show $uuid | jq -e '.vfioDevice != null' >/dev/null" || fail "iommud does not list $uuid with a cdev"
[ "$(avail)" = $((before - 1)) ] || fail "mtty-2 available_instances $(avail), not $((before - 1))"
journalctl -u iommud --no-pager | grep -q "mdev $uuid (mtty-2 of mtty) created by uid 0" || fail "no journal line for the creation"
ok "iommuctl mdev create mtty mtty-2 $uuid: listed, with its VFIO cdev; one mtty-2 instance fewer"

# 2. Refusals change nothing.
snap=$(mdevs)
expect_rc 5 iommuctl mdev create mtty mtty-2 $uuid
grep -q "exists already" <<<"$err_out" || fail "duplicate UUID: $err_out"
expect_rc 4 iommuctl mdev create mtty mtty-9
grep -q "offers no mdev type 'mtty-9'" <<<"$err_out" || fail "unknown type: $err_out"
expect_rc 4 iommuctl mdev create ../mtty mtty-2
grep -q "no mdev parent '../mtty'" <<<"$err_out" || fail "a path as parent: $err_out"
expect_rc 2 iommuctl mdev create mtty mtty-2 not-a-uuid
rc=0; out=$(iommuctl --json mdev create mtty mtty-1 $uuid 2>/dev/null) || rc=$?
jq -e '.error == "org.iommud.Manager.MdevExists"' <<<"$out" >/dev/null || fail "MdevExists JSON: $out"
[ "$(mdevs)" = "$snap" ] || fail "refused creations changed /sys/bus/mdev/devices: $(mdevs)"
ok "duplicate UUID (MdevExists), unknown type (NoSuchMdevType), a path as parent (NoSuchParent), a bad UUID: refused, nothing created"

# 3. Leased: bound and parked fds answer GET_INFO; removal refused while leased.
for mode in bound parked; do
	varlink-claim.py $uuid --mode $mode >/tmp/mc.out 2>&1 &
	cl=$!
	wait_for 20 grep -q "VFIO_DEVICE_GET_INFO" /tmp/mc.out || { cat /tmp/mc.out; fail "$mode claim of $uuid: no GET_INFO"; }
	wait $cl || { cat /tmp/mc.out; fail "$mode claim of $uuid failed"; }
	grep "ok:" /tmp/mc.out
done
ok "the mdev claimed bound and parked; its fd answered VFIO_DEVICE_GET_INFO both times"
g=$(basename "$(readlink /sys/bus/mdev/devices/$uuid/iommu_group)")
sleep 300 & holder=$!
trap 'kill $holder $opener 2>/dev/null || true' EXIT
opener=
iommuctl claim --holder-pid $holder $uuid >/dev/null || fail "claim of $uuid for pid $holder failed"
expect_rc 6 iommuctl mdev remove $uuid
grep -q "held by lease" <<<"$err_out" || fail "remove of a leased mdev: $err_out"
[ -d /sys/bus/mdev/devices/$uuid ] || fail "the leased mdev went"
kill $holder; wait $holder 2>/dev/null || true
wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free after the lease"
ok "remove refused while leased (GroupBusy); the mdev stayed"

# 4. Open by someone else: refused, naming who (the kernel would wait).
cdev=$(iommuctl --json show $uuid | jq -r .vfioDevice)     # /dev/vfio/devices/vfioN
python3 -c "import os,time; f=os.open('$cdev', os.O_RDWR); time.sleep(300)" & opener=$!
wait_for 5 sh -c "ls -l /proc/$opener/fd 2>/dev/null | grep -q $cdev" || fail "the opener did not open $cdev"
expect_rc 6 iommuctl mdev remove $uuid
grep -q "pid $opener" <<<"$err_out" || fail "remove of an open mdev: $err_out"
kill $opener; wait $opener 2>/dev/null || true
ok "remove refused while pid $opener has $cdev open (DeviceInUse)"

# 5. uid 1000 without a rule: refused.
expect_rc 5 setpriv --reuid=1000 --regid=1000 --clear-groups iommuctl mdev create mtty mtty-1
grep -q "may not create an mdev on mtty: polkit action org.iommud.manage-mdev" <<<"$err_out" || fail "uid 1000: $err_out"
ok "uid 1000 without a rule: refused (org.iommud.manage-mdev)"

# 6. Removed through iommud.
out=$(iommuctl mdev remove $uuid) || fail "iommuctl mdev remove failed: $out"
[ ! -e /sys/bus/mdev/devices/$uuid ] || fail "$uuid still in sysfs"
wait_for 10 sh -c "! iommuctl show $uuid >/dev/null 2>&1" || fail "iommud still lists $uuid"
[ "$(avail)" = "$before" ] || fail "available_instances $(avail), not $before"
ok "iommuctl mdev remove: gone from sysfs and iommud, available_instances back to $before"

# 7. No instances left: every mtty-2 taken, one more is refused.
made=()
while [ "$(avail)" -gt 0 ]; do
	u=$(iommuctl mdev create mtty mtty-2) || fail "creating mtty-2 with $(avail) available failed"
	made+=("$u")
done
expect_rc 5 iommuctl mdev create mtty mtty-2
grep -q "no instances left" <<<"$err_out" || fail "no instances: $err_out"
ok "${#made[@]} random-UUID mtty-2 mdevs took every instance; one more: NoInstancesLeft"
for u in "${made[@]}"; do
	iommuctl mdev remove "$u" >/dev/null || fail "removing $u failed"
done

# 8. Over D-Bus (busctl), the same calls.
u=$(busctl call org.iommud1 /org/iommud1 org.iommud1.Manager CreateMdev sss mtty mtty-1 "" | awk '{print $2}' | tr -d '"')
[ -d "/sys/bus/mdev/devices/$u" ] || fail "D-Bus CreateMdev: no mdev '$u'"
wait_for 10 iommuctl show "$u" >/dev/null || fail "iommud does not list $u"
busctl call org.iommud1 /org/iommud1 org.iommud1.Manager RemoveMdev s "$u" || fail "D-Bus RemoveMdev of $u failed"
[ ! -e "/sys/bus/mdev/devices/$u" ] || fail "$u still there after D-Bus RemoveMdev"
out=$(dbus-send --system --print-reply --dest=org.iommud1 /org/iommud1 org.iommud1.Manager.CreateMdev \
	string:mtty string:mtty-7 string: 2>&1) && fail "D-Bus CreateMdev of mtty-7 succeeded"
grep -q "^Error org.iommud1.Error.NoSuchMdevType" <<<"$out" || fail "D-Bus unknown type: $out"
ok "D-Bus CreateMdev/RemoveMdev of $u; an unknown type: org.iommud1.Error.NoSuchMdevType"

[ "$(mdevs)" = "$before_list" ] || fail "mdevs left behind: $(mdevs) (before: $before_list)"
rm -f /tmp/mc.out
use_config </dev/null
true
