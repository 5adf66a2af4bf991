#!/bin/bash
# profiles: custom stock
# The D-Bus face in a systemd guest, with the project as installed: a bus
# call starts iommud (D-Bus activation); a lease object's introspection is
# the shipped XML and its properties are the varlink lease's; uid 1000
# without a polkit rule is refused by name, and nothing moves; the
# holder's exit sends LeaseEnded.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0
xml=/usr/share/dbus-1/interfaces

use_config <<CONF
[Assignable]
Address=$edu
[Managed]
Address=$edu
CONF

# 1. D-Bus activation: with iommud stopped, a call to org.iommud1 starts it.
systemctl stop iommud.service
systemctl is-active --quiet iommud.service && fail "iommud still running after stop"
out=$(busctl call org.iommud1 /org/iommud1 org.iommud1.Manager GetDevice s $edu 2>&1) \
	|| { journalctl -u iommud -u dbus --no-pager | tail; fail "the bus call did not start iommud: $out"; }
[ "$out" = 'o "/org/iommud1/device/pci_0000_00_03_0"' ] || fail "GetDevice: $out"
systemctl is-active --quiet iommud.service || fail "iommud.service not active after the bus call"
owner=$(busctl status org.iommud1 | awk -F= '/^PID=/ {print $2}')
[ "$owner" = "$(systemctl show -P MainPID iommud.service)" ] || fail "org.iommud1 is owned by pid $owner, not iommud's"
ok "a bus call started iommud.service (D-Bus activation); org.iommud1 is its MainPID $owner"

# 2. A lease as a D-Bus object: the shipped XML, the varlink fields.
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

# 3. uid 1000, no rule: org.iommud.prepare is allow_any=no, so polkit
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

# 4. The holder exits: LeaseEnded on the manager, the lease object goes.
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
true
