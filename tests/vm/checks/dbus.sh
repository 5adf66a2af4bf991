#!/bin/bash
# profiles: custom stock
# The D-Bus face in a systemd guest, with the project as installed (D-Bus
# activation is the check activation's): a lease object's introspection is
# the shipped XML and its properties are the varlink lease's; uid 1000
# without a polkit rule is refused by name, and nothing moves; the
# holder's exit sends LeaseEnded; uid 1000 claims over D-Bus with
# python3-dbus and does DMA through the fds; a varlink and a D-Bus claim
# for one group: exactly one wins.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0
xml=/usr/share/dbus-1/interfaces

use_config <<CONF
[Assignable]
Address=$edu
[Managed]
Address=$edu
CONF

# 1. A lease as a D-Bus object: the shipped XML, the varlink fields.
sleep 300 & holder=$!
trap 'kill $holder 2>/dev/null || true' EXIT
iommuctl claim --holder-pid $holder $edu >/dev/null || fail "claim for pid $holder failed"
lease=$(iommuctl --json leases | jq -r '.[0].id')
path=/org/iommud1/lease/$lease
live=$(busctl introspect --xml-interface org.iommud1 $path)
for iface in org.iommud1.Lease:$path org.iommud1.Device:/org/iommud1/device/pci_0000_00_03_0 \
	org.iommud1.Group:/org/iommud1/group/$(group_of $edu) org.iommud1.Manager:/org/iommud1; do
	name=${iface%%:*} p=${iface#*:}
	a=$(busctl introspect --xml-interface org.iommud1 "$p" | sed -n "/<interface name=\"$name\">/,/<\/interface>/p")
	b=$(sed -n "/<interface name=\"$name\">/,/<\/interface>/p" "$xml/$name.xml")
	[ -n "$a" ] && [ "$a" = "$b" ] || { diff <(echo "$a") <(echo "$b"); fail "$name at $p differs from $xml/$name.xml"; }
done
ok "introspection of a lease, a device, a group and the manager is the shipped XML"
got=$(busctl get-property org.iommud1 $path org.iommud1.Lease Id Mode Holder Groups)
want=$(printf 's "%s"\ns "%s"\n(uus) 0 %s "sleep"\nau 1 %s' "$lease" "$(iommuctl --json leases | jq -r '.[0].mode')" \
	"$holder" "$(group_of $edu)")
[ "$got" = "$want" ] || fail "lease properties: got [$got], want [$want]"
[ "$(busctl get-property org.iommud1 /org/iommud1/device/pci_0000_00_03_0 org.iommud1.Device Lease)" = "s \"$lease\"" ] \
	|| fail "the edu's Lease property does not name $lease"
ok "lease $lease's properties are the varlink lease's: holder (0, $holder, sleep), group $(group_of $edu)"

# 2. uid 1000, no rule: org.iommud.prepare is allow_any=no, so polkit
# says no outright: PermissionDenied by name (dbus-send shows the name),
# the same as varlink's; nothing moves.
before=$(pci_snapshot)
out=$(setpriv --reuid=1000 --regid=1000 --clear-groups dbus-send --system --print-reply --dest=org.iommud1 \
	/org/iommud1 org.iommud1.Manager.Prepare array:string:0000:00:04.0 2>&1) && fail "uid 1000 prepared 00:04.0 over D-Bus"
grep -q "^Error org.iommud1.Error.PermissionDenied: uid 1000 may not prepare 0000:00:04.0: polkit action org.iommud.prepare is not allowed" <<<"$out" \
	|| fail "uid 1000's Prepare over D-Bus: $out"
out=$(dbus-send --system --print-reply --dest=org.iommud1 /org/iommud1 org.iommud1.Manager.GetDevice \
	string:0000:00:1f.7 2>&1) && fail "GetDevice of a device that does not exist succeeded"
grep -q "^Error org.iommud1.Error.NoSuchDevice" <<<"$out" || fail "GetDevice of a missing device: $out"
[ "$(pci_snapshot)" = "$before" ] || fail "refused D-Bus calls changed sysfs"
ok "uid 1000 without a rule: org.iommud1.Error.PermissionDenied from polkit's no; nothing changed"

# 3. The holder exits: LeaseEnded on the manager, the lease object goes.
mon=$(mktemp)
busctl monitor --match "type='signal',sender='org.iommud1',member='LeaseEnded'" >"$mon" 2>&1 & monpid=$!
trap 'kill $holder $monpid 2>/dev/null || true' EXIT
sleep 1
kill $holder; wait $holder 2>/dev/null || true
wait_for 10 grep -q "$lease" "$mon" || { cat "$mon"; fail "no LeaseEnded signal for $lease"; }
grep -q "its holder exited" "$mon" || { cat "$mon"; fail "LeaseEnded without the reason"; }
kill $monpid 2>/dev/null; wait $monpid 2>/dev/null || true
busctl introspect org.iommud1 $path >/dev/null 2>&1 && fail "lease object $path still there"
ok "the holder's exit sent LeaseEnded($path, $lease, \"its holder exited\"); the object is gone"
wait_for 10 sh -c "[ \"\$(readlink /sys/bus/pci/devices/$edu/driver)\" = '' ]" || fail "$edu not restored"
rm -f "$mon"

# 4. uid 1000 claims over D-Bus with Debian's python3-dbus: refused
# without a rule (by name, nothing granted); with the shipped example
# rule (group kvm) it gets fds that work: the edu's DMA through them.
user=$(getent passwd 1000 | cut -d: -f1)
as_user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
kvm_rule_off "$user"
sleep 1
rc=0; out=$(as_user dbus-claim.py $edu -- true 2>&1) || rc=$?
[ $rc = 4 ] && grep -q "org.iommud1.Error.PermissionDenied" <<<"$out" \
	|| fail "uid 1000's D-Bus Claim without a rule: rc $rc: $out"
[ "$(iommuctl --json leases | jq length)" = 0 ] || fail "a lease after a refused Claim"
ok "uid 1000's D-Bus Claim without a rule: org.iommud1.Error.PermissionDenied, nothing granted"
kvm_rule_on "$user"
trap 'kvm_rule_off "$user"; kill $holder $monpid 2>/dev/null || true' EXIT
sleep 1
out=$(as_user dbus-claim.py $edu -- edu-dma fds 2>&1) || { echo "$out"; journalctl -u iommud --no-pager | tail; fail "uid 1000's D-Bus Claim with the example rule failed"; }
echo "$out" | grep -E "dbus-claim|ok:"
grep -q "ok: DMA round trip" <<<"$out" || fail "no DMA through the fds from the D-Bus Claim"
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "the D-Bus lease outlived its holder"
ok "uid 1000 (group kvm, the example rule) claimed $edu over D-Bus and did DMA through the fds"

# 5. A varlink Claim (root) and a D-Bus Claim (uid 1000) for one group at
# once: exactly one wins, the other is told GroupBusy; five rounds.
g=$(group_of $edu)
for round in 1 2 3 4 5; do
	wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free before round $round"
	iommuctl claim $edu -- sleep 2 >/tmp/vl.out 2>&1 & a=$!
	as_user dbus-claim.py $edu -- sleep 2 >/tmp/db.out 2>&1 & b=$!
	ra=0; wait $a || ra=$?
	rb=0; wait $b || rb=$?
	wins=$(( (ra == 0) + (rb == 0) ))
	[ $wins = 1 ] || fail "round $round: varlink rc $ra ($(cat /tmp/vl.out)), D-Bus rc $rb ($(cat /tmp/db.out)): $wins winners"
	if [ $ra = 0 ]; then
		grep -q "org.iommud1.Error.GroupBusy" /tmp/db.out || fail "round $round: the D-Bus loser: $(cat /tmp/db.out)"
	else
		[ $ra = 6 ] && grep -q "held by lease" /tmp/vl.out || fail "round $round: the varlink loser: rc $ra $(cat /tmp/vl.out)"
	fi
	echo "round $round: $([ $ra = 0 ] && echo varlink || echo D-Bus) won"
done
ok "varlink (root) and D-Bus (uid 1000) claiming one group at once: one winner, GroupBusy for the other, 5 rounds"
rm -f /tmp/vl.out /tmp/db.out
# As the checks after this one expect it: no iommud.conf.
use_config </dev/null
true
