#!/bin/bash
# profiles: custom stock
# Leases on the legacy backend (type1 container and group node), which is
# all Debian 12's own kernel offers, and forced by Backend=legacy on the
# custom kernel: a managed edu claimed in bound mode reaches uid 1000 as
# container, group and device fds and does DMA; Release unmaps the
# container under a holder that keeps its fds and the group stays
# releasing until it closes them; access mode opens /dev/vfio/N to the
# holder's uid alone for the life of the lease; parked mode is refused.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0
g=$(group_of $edu)
as_user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
claim_state() { iommuctl --json group "$g" | jq -r .claim; }
group_free() { [ "$(claim_state)" = free ]; }

use_config <<CONF
[Assignable]
Address=$edu
[Managed]
Address=$edu
[Leases]
Backend=legacy
CONF
[ "$(iommuctl --json status | jq -r .leaseBackend)" = legacy ] || fail "status: $(iommuctl --json status)"

# 1. bound: container + group + device to uid 1000, DMA, exit ends it.
out=$(iommuctl claim $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups edu-dma fds 2>&1) \
	|| { echo "$out"; journalctl -u iommud --no-pager | tail -20; fail "legacy claim + edu-dma as uid 1000 failed"; }
echo "$out"
grep -q "ok: legacy device fd .* in container .*, groups $g=" <<<"$out" || fail "edu-dma did not get the legacy fds"
grep -q "ok: DMA round trip" <<<"$out" || fail "no DMA through the legacy lease"
ok "legacy bound: uid 1000 did DMA through container, group and device fds from iommud"
wait_for 10 group_free || fail "group $g is $(claim_state) after its holder exited"
wait_for 10 sh -c "[ ! -e /sys/bus/pci/devices/$edu/driver ]" || fail "$edu not restored: on $(driver_of $edu)"
ok "holder exited: group $g free, $edu restored"

# 2. Release under a holder that keeps its fds: the container is
# unmapped, the group stays releasing (its node is still open).
mkfifo /tmp/legacy-in
(iommuctl claim $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups edu-dma fds --hold </tmp/legacy-in >/tmp/legacy-out 2>&1; echo "exit $?" >>/tmp/legacy-out) &
exec 7>/tmp/legacy-in
wait_for 60 grep -q holding /tmp/legacy-out || { cat /tmp/legacy-out; fail "the holder did not get to hold"; }
lease=$(iommuctl --json leases | jq -r '.[0].id')
[ "$(iommuctl --json leases | jq -r '.[0].backend')" = legacy ] || fail "lease backend: $(iommuctl --json leases)"
iommuctl release "$lease" >/dev/null || fail "release failed"
wait_for 5 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = releasing ]" || fail "group $g is $(claim_state), not releasing"
expect_rc 6 iommuctl claim --holder-pid $$ $edu
echo go >&7; exec 7>&-
wait_for 30 grep -q "^exit" /tmp/legacy-out || fail "the holder did not finish"
cat /tmp/legacy-out
grep -q "ok: DMA after the lease ended was blocked" /tmp/legacy-out || fail "DMA still reached memory after Release"
wait_for 15 group_free || fail "group $g not free after the holder exited"
ok "Release unmapped the container: the holder's next DMA reached nothing; group releasing until it let go"
rm -f /tmp/legacy-in /tmp/legacy-out

# 3. access: uid 1000 may open /dev/vfio/$g itself while the lease lasts.
expect_rc 1 as_user edu-dma legacy $edu
setpriv --reuid=1000 --regid=1000 --clear-groups sleep 300 & holder=$!
sleep 0.2
iommuctl claim --mode access --holder-pid $holder $edu >/dev/null || fail "access-mode claim failed"
[ "$(iommuctl --json leases | jq -r '.[0].holder.uid')" = 1000 ] || fail "holder: $(iommuctl --json leases)"
out=$(as_user edu-dma legacy $edu) || { echo "$out"; ls -l /dev/vfio; fail "uid 1000 could not use the group it was given access to"; }
grep -q "ok: DMA round trip" <<<"$out" || fail "no DMA in access mode"
ok "access: uid 1000 opened /dev/vfio/$g itself and did DMA"
kill $holder; wait $holder 2>/dev/null || true
wait_for 10 group_free || fail "group $g not free after the access holder exited"
[ "$(stat -c %a /dev/vfio/$g 2>/dev/null || echo gone)" != 660 ] || fail "/dev/vfio/$g still carries an ACL mask: $(ls -l /dev/vfio/$g)"
expect_rc 1 as_user edu-dma legacy $edu
ok "the lease's end took uid 1000's access away again"

# 4. parked is an iommufd mode.
expect_rc 5 iommuctl claim --mode parked --holder-pid $$ $edu
grep -q "mode parked is not offered by the legacy backend" <<<"$err_out" || fail "parked on legacy: $err_out"
ok "parked on legacy refused: $(head -n1 <<<"$err_out")"

use_config </dev/null
