#!/bin/bash
# profiles: custom
# Claims that create their mdevs (Claim's mdevs; iommuctl claim --mdev):
# uid 1000, allowed by a polkit rule, has an mtty mdev made for its claim,
# bound and parked, whose fd answers VFIO_DEVICE_GET_INFO, and iommud
# removes it when the lease ends; an mdev polkit lets uid 1000 create but
# not claim is removed again at once (the claim's rollback); RemoveDevices
# of a created mdev removes it while the lease goes on; iommuctl's
# {mdev:K} placeholders; over D-Bus too; nothing left behind.
. /usr/local/bin/vmtest-lib.sh
types=/sys/class/mdev_bus/mtty/mdev_supported_types
[ -d "$types/mtty-1" ] || fail "no mtty-1 type under /sys/class/mdev_bus/mtty"
use_config <<CONF
[Assignable]
Parent=mtty
CONF
RULE=/etc/polkit-1/rules.d/60-iommud-vm-mdev-claim.rules
holder= cl=
trap 'rm -f $RULE; kill $holder $cl 2>/dev/null || true' EXIT
# vmm may create mtty-1 and mtty-2 mdevs, and claim only mtty-1 ones.
cat >"$RULE" <<'JS'
polkit.addRule(function(action, subject) {
	if (subject.user != "vmm")
		return polkit.Result.NOT_HANDLED;
	if (action.id == "org.iommud.manage-mdev" && action.lookup("device") == "mtty" &&
	    (action.lookup("mdev_type") == "mtty-1" || action.lookup("mdev_type") == "mtty-2"))
		return polkit.Result.YES;
	if (action.id == "org.iommud.claim" && action.lookup("mdev_type") == "mtty-1")
		return polkit.Result.YES;
	return polkit.Result.NOT_HANDLED;
});
JS
avail() { cat "$types/$1/available_instances"; }
mdevs() { ls /sys/bus/mdev/devices 2>/dev/null | sort | tr '\n' ' '; }
as_vmm() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
before1=$(avail mtty-1) before2=$(avail mtty-2) before_list=$(mdevs)

# 1. uid 1000: an mdev made for its claim, bound and parked.
for mode in bound parked; do
	# polkitd picks the new rule up by itself, within a moment.
	for try in 1 2 3 4 5; do
		setpriv --reuid=1000 --regid=1000 --clear-groups varlink-claim.py --mdev mtty/mtty-1 --mode $mode --hold \
			>/tmp/mc.out 2>&1 &
		cl=$!
		wait_for 30 sh -c "grep -q VFIO_DEVICE_GET_INFO /tmp/mc.out || ! kill -0 $cl 2>/dev/null" || true
		grep -q VFIO_DEVICE_GET_INFO /tmp/mc.out && break
		wait $cl 2>/dev/null || true
		grep -q "PermissionDenied" /tmp/mc.out || { cat /tmp/mc.out; fail "$mode claim of a new mdev failed"; }
		sleep 1
	done
	grep -q VFIO_DEVICE_GET_INFO /tmp/mc.out || { cat /tmp/mc.out; fail "$mode claim: no GET_INFO"; }
	uuid=$(sed -n 's/^ok: created mdev //p' /tmp/mc.out)
	[ -n "$uuid" ] && [ -d /sys/bus/mdev/devices/$uuid ] || { cat /tmp/mc.out; fail "$mode: no created mdev '$uuid' in sysfs"; }
	[ "$(avail mtty-1)" = $((before1 - 1)) ] || fail "$mode: mtty-1 available_instances $(avail mtty-1), not $((before1 - 1))"
	lease=$(iommuctl --json leases | jq -r --arg u "$uuid" '.[] | select(.createdMdevs == [$u]) | .id')
	[ -n "$lease" ] || fail "$mode: no lease lists $uuid in createdMdevs: $(iommuctl --json leases)"
	[ "$(iommuctl --json leases | jq -r --arg l "$lease" '.[] | select(.id == $l) | .holder.uid')" = 1000 ] ||
		fail "$mode: lease $lease is not uid 1000's"
	iommuctl leases | grep -q "mdevs created for the lease (removed after it): $uuid" || fail "iommuctl leases: $(iommuctl leases)"
	journalctl -u iommud --no-pager | grep -q "mdev $uuid (mtty-1 of mtty) created for a claim of uid 1000" ||
		fail "no journal line for the creation of $uuid"
	grep "ok:" /tmp/mc.out
	kill $cl; wait $cl 2>/dev/null || true; cl=
	wait_for 15 sh -c "[ ! -e /sys/bus/mdev/devices/$uuid ]" || fail "$mode: $uuid still there after its lease ended"
	wait_for 10 sh -c "journalctl -u iommud --no-pager | grep -q 'mdev $uuid removed after lease $lease let go of it'" ||
		fail "no journal line for the removal of $uuid"
	[ "$(avail mtty-1)" = "$before1" ] || fail "$mode: available_instances $(avail mtty-1) after the lease, not $before1"
	ok "uid 1000, $mode: mdev $uuid made for lease $lease, its fd answered GET_INFO; removed when the holder exited"
done

# 2. Created, then the claim is refused (polkit: vmm may make mtty-2 but
#    not claim it): the mdev is removed again before the answer.
rc=0; out=$(as_vmm iommuctl claim --mdev mtty/mtty-2 -- true 2>&1) || rc=$?
[ $rc -ne 0 ] || fail "uid 1000's claim of a new mtty-2 succeeded: $out"
grep -q "may not claim .*org.iommud.claim" <<<"$out" || fail "claim of a new mtty-2: $out"
made=$(journalctl -u iommud --no-pager | sed -n 's/.*mdev \([0-9a-f-]*\) (mtty-2 of mtty) created for a claim of uid 1000.*/\1/p' | tail -1)
[ -n "$made" ] || fail "the refused claim created no mtty-2 first (the check expects creation, then refusal)"
[ ! -e /sys/bus/mdev/devices/$made ] || fail "$made, made for a refused claim, is still there"
journalctl -u iommud --no-pager | grep -q "mdev $made removed again: the claim of uid 1000 it was made for failed" ||
	fail "no journal line for the rollback of $made"
[ "$(avail mtty-2)" = "$before2" ] && [ "$(mdevs)" = "$before_list" ] || fail "the refused claim left $(mdevs)"
[ "$(iommuctl --json leases | jq length)" = 0 ] || fail "a lease is left: $(iommuctl --json leases)"
ok "a claim refused after its mdev was made (PermissionDenied: org.iommud.claim): $made removed again, nothing left"

# 3. An unknown type is refused before polkit is asked; without the
#    rule, polkit says no to manage-mdev; nothing is created either way.
expect_rc 4 as_vmm iommuctl claim --mdev mtty/mtty-9 -- true
grep -q "offers no mdev type 'mtty-9'" <<<"$err_out" || fail "unknown type: $err_out"
rm -f "$RULE"
wait_for 10 sh -c "! setpriv --reuid=1000 --regid=1000 --clear-groups iommuctl claim --mdev mtty/mtty-1 -- true 2>/tmp/mc.err; grep -q 'org.iommud.manage-mdev' /tmp/mc.err" ||
	fail "without the rule: $(cat /tmp/mc.err)"
[ "$(mdevs)" = "$before_list" ] || fail "refused claims created $(mdevs)"
ok "unknown type (NoSuchMdevType) and, without the rule, manage-mdev denied: nothing created"

# 4. Root, iommuctl claim --mdev with a given UUID: {mdev:0} is its fd,
#    {mdev-uuid:0} its UUID, IOMMUD_MDEVS lists it.
u=2f0b7c1a-9d4e-4a6b-8c3d-1e5f7a9b0c2d
iommuctl claim --mdev mtty/mtty-1/$u -- sh -c 'echo "fd={mdev:0} uuid={mdev-uuid:0} env=$IOMMUD_MDEVS"; ls -l /proc/$$/fd/{mdev:0}; exec sleep 300' >/tmp/mc.out 2>&1 &
holder=$!
wait_for 20 grep -q "vfio" /tmp/mc.out || { cat /tmp/mc.out; fail "iommuctl claim --mdev: no fd"; }
grep -q "uuid=$u env=$u" /tmp/mc.out || fail "placeholders: $(cat /tmp/mc.out)"
grep -q "/dev/vfio/devices/vfio" /tmp/mc.out || fail "{mdev:0} is not the mdev's cdev: $(cat /tmp/mc.out)"
kill $holder; wait $holder 2>/dev/null || true; holder=
wait_for 15 sh -c "[ ! -e /sys/bus/mdev/devices/$u ]" || fail "$u still there after the lease"
ok "iommuctl claim --mdev mtty/mtty-1/$u: {mdev:0}, {mdev-uuid:0}, IOMMUD_MDEVS; removed after the lease"

# 5. Two mdevs made for one lease; RemoveDevices of one removes it (once
#    its group is free) and the lease goes on with the other.
sleep 300 & holder=$!
out=$(iommuctl --json claim --holder-pid $holder --mdev mtty/mtty-1 --mdev mtty/mtty-2) || fail "claim of two new mdevs: $out"
lease=$(jq -r .id <<<"$out")
m1=$(jq -r '.createdMdevs[0]' <<<"$out") m2=$(jq -r '.createdMdevs[1]' <<<"$out")
[ -d /sys/bus/mdev/devices/$m1 ] && [ -d /sys/bus/mdev/devices/$m2 ] || fail "two mdevs: $out"
[ "$(jq '.devices | length' <<<"$out")" = 2 ] || fail "the lease has not both: $out"
iommuctl remove-devices $lease $m1 >/dev/null || fail "remove-devices $lease $m1 failed"
wait_for 15 sh -c "[ ! -e /sys/bus/mdev/devices/$m1 ]" || fail "$m1 still there after RemoveDevices"
[ -d /sys/bus/mdev/devices/$m2 ] || fail "$m2 went with $m1"
[ "$(iommuctl --json leases | jq -r --arg l $lease '.[] | select(.id == $l) | .createdMdevs | join(" ")')" = "$m2" ] ||
	fail "the lease's createdMdevs after RemoveDevices: $(iommuctl --json leases)"
kill $holder; wait $holder 2>/dev/null || true; holder=
wait_for 15 sh -c "[ ! -e /sys/bus/mdev/devices/$m2 ]" || fail "$m2 still there after the lease"
ok "two mdevs for one lease; RemoveDevices of $m1 removed it, $m2 went with the lease"

# 6. Over D-Bus: Claim's "mdevs" option; the lease object's CreatedMdevs.
sleep 300 & holder=$!
path=$(python3 - $holder <<'PY'
import os, sys, dbus
bus = dbus.SystemBus()
mgr = dbus.Interface(bus.get_object("org.iommud1", "/org/iommud1"), "org.iommud1.Manager")
pidfd = os.pidfd_open(int(sys.argv[1]))
path, fds = mgr.Claim(dbus.Array([], signature="s"),
                      {"holder": dbus.types.UnixFd(pidfd),
                       "mdevs": dbus.Array([("mtty", "mtty-1", "")], signature="(sss)")})
print(path)
PY
) || fail "D-Bus Claim with mdevs failed: $path"
dm=$(busctl get-property org.iommud1 "$path" org.iommud1.Lease CreatedMdevs | awk '{print $3}' | tr -d '"')
[ -n "$dm" ] && [ -d /sys/bus/mdev/devices/$dm ] || fail "D-Bus lease $path: CreatedMdevs '$dm'"
# A lease's AddMdevs: one more, with a given UUID; its fd comes back by name.
u2=7a3e1f0c-5b2d-4c8e-9f1a-6d4b2c0e8a13
out=$(busctl call org.iommud1 "$path" org.iommud1.Lease AddMdevs 'a(sss)' 1 mtty mtty-2 $u2) || fail "AddMdevs: $out"
grep -q "\"$u2\"" <<<"$out" || fail "AddMdevs replied: $out"
[ -d /sys/bus/mdev/devices/$u2 ] || fail "AddMdevs made no $u2"
[ "$(busctl get-property org.iommud1 "$path" org.iommud1.Lease CreatedMdevs)" = "as 2 \"$dm\" \"$u2\"" ] ||
	fail "CreatedMdevs after AddMdevs: $(busctl get-property org.iommud1 "$path" org.iommud1.Lease CreatedMdevs)"
kill $holder; wait $holder 2>/dev/null || true; holder=
wait_for 15 sh -c "[ ! -e /sys/bus/mdev/devices/$dm ] && [ ! -e /sys/bus/mdev/devices/$u2 ]" ||
	fail "$dm or $u2 still there after the D-Bus lease"
ok "D-Bus Claim with mdevs: lease $path, CreatedMdevs $dm; AddMdevs $u2; both removed after it"

[ "$(mdevs)" = "$before_list" ] || fail "mdevs left behind: $(mdevs) (before: $before_list)"
[ "$(avail mtty-1)" = "$before1" ] && [ "$(avail mtty-2)" = "$before2" ] || fail "instances not back"
rm -f /tmp/mc.out /tmp/mc.err
use_config </dev/null
true
