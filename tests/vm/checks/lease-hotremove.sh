#!/bin/bash
# profiles: custom stock
# A leased device hot-removed (QMP device_del, the guest's pciehp does
# the rest) while its holder keeps the fds: iommud takes it out of the
# lease at once (its DMA cut, iommud's own reference dropped so that it
# does not keep the kernel waiting), tells watchers with a
# "deviceRemoved" Monitor event, and keeps the group "releasing" until the
# holder lets go; the removal then completes.  A lease whose only device
# goes ends.  On the custom kernel leases go through iommufd and iommud
# sees the VFIO cdev go first; on the stock kernel through the legacy
# container, and iommud hears the kernel's request interrupt.
. /usr/local/bin/vmtest-lib.sh
rp=/sys/bus/pci/devices/0000:00:07.0
bus=$(cat "$rp/secondary_bus_number" 2>/dev/null) || fail "rp2 has no secondary bus number"
hp=$(printf '0000:%02x:00.0' "$bus")
edu=0000:00:03.0
[ ! -e "/sys/bus/pci/devices/$hp" ] || fail "$hp present before the hot-add"

use_config <<CONF
[Assignable]
Address=$edu
Address=$hp
[Managed]
Address=$edu
Address=$hp
CONF
backend=$(iommuctl --json status | jq -r .leaseBackend)
# How iommud learns it: the driver link and cdev going (udev), or, on
# legacy, the kernel's request interrupt.
how="(is being removed or unbound from its VFIO driver|is wanted back by the kernel)"
[ "$backend" = iommufd ] || [ "$backend" = legacy ] || fail "lease backend '$backend'"

holder= monpid=
# A failure must not leave a holder behind to keep the guest waiting.
trap 'kill $holder $monpid 2>/dev/null || true' EXIT

hot_add() {
	qmp '{"execute":"device_add","arguments":{"driver":"edu","bus":"rp2","id":"hp-edu"}}' >/dev/null \
		|| fail "QMP device_add failed"
	wait_for 10 test -e "/sys/bus/pci/devices/$hp" || fail "$hp did not appear after device_add"
	wait_for 10 sh -c "iommuctl --json show $hp >/dev/null 2>&1" || fail "iommud does not know $hp"
}
hot_del() { qmp '{"execute":"device_del","arguments":{"id":"hp-edu"}}' >/dev/null || fail "QMP device_del failed"; }
leases_json() { iommuctl --json leases; }
not_free() { iommuctl --json groups | jq -r '[.[] | select(.claim != "free") | "\(.id):\(.claim)"] | join(" ")'; }

# 1. Two devices in one lease; one is hot-removed while the holder keeps
# every fd.  The lease goes on with the other.
hot_add
ghp=$(group_of $hp)
as_user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
mon=$(mktemp)
as_user iommuctl --json monitor >"$mon" 2>&1 & monpid=$!
iommuctl claim $edu $hp -- setpriv --reuid=1000 --regid=1000 --clear-groups sleep 600 & holder=$!
wait_for 20 sh -c '[ "$(iommuctl --json leases | jq length)" = 1 ]' \
	|| { journalctl -u iommud --no-pager | tail; fail "the lease of $edu and $hp was not granted"; }
lease=$(leases_json | jq -r '.[0].id')
sleeper=$(leases_json | jq -r '.[0].holder.pid')
hot_del
wait_for 30 sh -c "iommuctl --json leases | jq -e '.[0].devices | map(.name) == [\"$edu\"]' >/dev/null" \
	|| { leases_json; journalctl -u iommud --no-pager | tail; fail "$hp did not leave lease $lease"; }
ok "$hp hot-removed: it left lease $lease, which keeps $edu"
wait_for 10 grep -q '"deviceRemoved"' "$mon" || { cat "$mon"; fail "the monitor (uid 1000) got no deviceRemoved event"; }
jq -e -s --arg l "$lease" --arg d "$hp" 'map(select(.event == "deviceRemoved"))[0].lease
	| .id == $l and .removedDevice.name == $d and (.removedDevice.reason | length > 0)
	  and (.devices | map(.name) | index($d) == null)' "$mon" >/dev/null \
	|| { cat "$mon"; fail "the deviceRemoved event does not name lease $lease and $hp"; }
ok "uid 1000's Monitor got deviceRemoved for $hp with lease $lease and the reason"
# The kernel waits for the holder's files; iommud holds nothing of it.
sleep 2
[ -e "/sys/bus/pci/devices/$hp" ] || fail "$hp went though its holder (pid $sleeper) still has its fds"
[ "$(iommuctl --json group $ghp | jq -r .claim)" = releasing ] \
	|| fail "group $ghp is $(iommuctl --json group $ghp | jq -r .claim) while pid $sleeper holds $hp"
held_by=$(iommuctl --json group $ghp | jq -r '.releaseHeldBy // ""')
# iommufd: the holder's link to the deleted cdev node is what the walk
# sees; legacy: its group node (device files pin the group's file).
grep -q "pid $sleeper" <<<"$held_by" || fail "group $ghp releaseHeldBy '$held_by' does not name pid $sleeper"
ls -l /proc/$(pidof iommud)/fd | grep -q "vfio/devices/.* (deleted)" && fail "iommud still holds the removed cdev"
ok "the removal waits for the holder alone: $hp present, group $ghp releasing ($held_by)"
kill $holder 2>/dev/null; wait $holder 2>/dev/null || true
wait_for 30 test ! -e "/sys/bus/pci/devices/$hp" || fail "$hp still present after its holder exited"
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "lease $lease outlived its holder"
wait_for 15 sh -c '[ -z "$(iommuctl --json groups | jq -r "[.[] | select(.claim != \"free\")] | length | select(. > 0)")" ]' \
	|| fail "groups not free after the holder exited: $(not_free)"
iommuctl --json show $hp >/dev/null 2>&1 && fail "iommud still lists $hp"
wait_for 10 sh -c "[ \"\$(readlink /sys/bus/pci/devices/$edu/driver)\" = '' ]" \
	|| fail "$edu not restored after the lease: on $(driver_of $edu)"
ok "holder gone: $hp removed, lease ended, no group claimed, $edu restored"
# The journal only now: on the stock kernel the whole journal stalls
# while a removal waits for a VFIO holder (seen: not one entry from any
# unit until the holder exited; journald reading the device's uevent
# file, whose lock the waiting removal holds, would explain it).
wait_for 20 sh -c "journalctl -u iommud --no-pager | grep -Eq 'Lease $lease .*: $hp $how'" \
	|| { journalctl --no-pager -n 60 -o short-monotonic; fail "no journal line saying how $hp left"; }
# Which way iommud learnt it, for the reader.
journalctl -u iommud --no-pager -o cat | grep -E "Lease $lease .*: $hp $how" | head -1
kill $monpid 2>/dev/null; wait $monpid 2>/dev/null || true

# 2. A holder that listens: told through Monitor, it closes the removed
# device's fd and runs on; the removal completes without anyone killed,
# and the lease, whose only device it was, ends.  The hot-added edu gets
# group $ghp's number again: the claim right after the hot-add also shows
# that the old group's releasing record did not outlive it (iommud probes
# a releasing group the moment its group goes).
hot_add
: >"$mon"
chown 1000 "$mon"
flag=$(mktemp -u)
iommuctl claim $hp -- setpriv --reuid=1000 --regid=1000 --clear-groups sh -c '
	fd=${IOMMUD_DEVICE_FDS#*=}; fd=${fd%% *}
	# The monitor must not inherit the device fd, or it would hold it.
	eval "iommuctl --json monitor >'"$mon"' 2>&1 $fd>&- &"; m=$!
	until grep -q "\"deviceRemoved\"" '"$mon"'; do sleep 0.2; done
	eval "exec $fd>&-"
	kill $m
	echo closed > '"$flag"'
	exec sleep 600' & holder=$!
wait_for 20 sh -c '[ "$(iommuctl --json leases | jq length)" = 1 ]' || fail "the lease of $hp was not granted"
lease=$(leases_json | jq -r '.[0].id')
wait_for 10 grep -q subscribed "$mon" || fail "the holder's monitor did not subscribe"
hot_del
wait_for 30 test -e "$flag" || { cat "$mon"; fail "the holder was not told that $hp went"; }
wait_for 30 test ! -e "/sys/bus/pci/devices/$hp" || fail "$hp not removed though its holder closed its fd"
kill -0 $holder 2>/dev/null || fail "the holder exited"
ok "the holder heard deviceRemoved, closed its fd and runs on; $hp removed"
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "lease $lease with no device left did not end"
wait_for 20 sh -c "journalctl -u iommud --no-pager | grep -q 'Lease $lease .* ended: its last device, $hp, '" \
	|| { journalctl -u iommud --no-pager | tail; fail "no journal line for lease $lease ending with its last device"; }
wait_for 15 sh -c '[ -z "$(iommuctl --json groups | jq -r "[.[] | select(.claim != \"free\")] | length | select(. > 0)")" ]' \
	|| fail "groups not free: $(not_free)"
ok "lease $lease ended with its last device; no group left claimed"
kill $holder 2>/dev/null; wait $holder 2>/dev/null || true
rm -f "$mon" "$flag"
# As the checks after this one expect it: no iommud.conf.
use_config </dev/null
true
