#!/bin/bash
# profiles: custom
# Leases on the iommufd backend, end to end through iommud and iommuctl:
# a managed edu is prepared by the claim, handed bound (and parked) to a
# process running as uid 1000 that does DMA with the fds; its exit ends
# the lease and the group is restored.  A second claim for a held group
# fails naming the holder; Release cuts DMA for a holder that keeps its
# fds, and the group stays "releasing" until that holder lets go;
# RequestRelease ends the lease after its grace; memlock is raised within
# the policy's limit; refusals change nothing.  A client that never reads
# its replies gets its lease, stays connected within the limits (17 calls
# queued at once drop it), costs iommud a bounded number of fds and no
# memory to speak of, and holds up no other client.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0 edu2=0000:01:01.0
g=$(group_of $edu)

nic=0000:00:04.0 vnet=0000:01:02.0
use_config <<CONF
[Assignable]
Address=$edu
Address=$edu2
Address=$nic
[Managed]
Address=$edu
[Limits]
MaxMemlock=64M
CONF
[ "$(driver_of $edu)" = "(none)" ] || fail "$edu starts on $(driver_of $edu)"

lease_count() { iommuctl --json leases | jq length; }
claim_state() { iommuctl --json group "$g" | jq -r .claim; }
as_user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }

# 1. bound: prepared by the claim, DMA from uid 1000, the exit ends it.
dmesg -C
out=$(iommuctl claim $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups edu-dma fds 2>&1) \
	|| { echo "$out"; journalctl -u iommud --no-pager | tail -20; fail "claim + edu-dma as uid 1000 failed"; }
echo "$out"
grep -q "ok: bound device fd .* from iommud" <<<"$out" || fail "edu-dma did not get a bound fd"
grep -q "ok: DMA round trip" <<<"$out" || fail "no DMA round trip through the lease's fds"
ok "managed $edu prepared by the claim; uid 1000 did DMA through the bound fds"
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "the lease outlived its holder"
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free: $(iommuctl group $g)"
wait_for 10 sh -c "[ \"\$(readlink /sys/bus/pci/devices/$edu/driver)\" = '' ]" \
	|| fail "$edu was not restored after the lease: on $(driver_of $edu)"
journalctl -u iommud --no-pager | grep -q "Lease .* ended: its holder exited" || fail "no journal line for the lease's end"
ok "holder exited: lease ended, group $g free, $edu restored (unbound, as before)"

# 2. parked: the holder binds the fd itself, as QEMU does.
out=$(iommuctl claim --mode parked $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups edu-dma fds 2>&1) \
	|| { echo "$out"; fail "parked claim failed"; }
grep -q "ok: parked device fd .* bound to iommufd" <<<"$out" || { echo "$out"; fail "the parked fd was not bound by its holder"; }
grep -q "ok: DMA round trip" <<<"$out" || { echo "$out"; fail "no DMA through the parked fd"; }
ok "parked: uid 1000 bound the fd to the lease's iommufd and did DMA"
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free after the parked lease"

# 2b. A holder that became uid 1000 after the claim (iommuctl ran as
# root) releases its own lease: it is its holder now, polkit is not asked.
out=$(iommuctl claim $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups sh -c 'iommuctl release $IOMMUD_LEASE' 2>&1) \
	|| { echo "$out"; fail "the holder could not release its own lease"; }
journalctl -u iommud --no-pager | grep -q "ended: released by its holder (uid 1000)" || fail "no 'released by its holder (uid 1000)' line"
ok "a holder that turned uid 1000 after its claim released its own lease"
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free"

# 3. one owner per group: a second claim is refused, naming the holder.
sleep 300 & holder=$!
iommuctl claim --holder-pid $holder $edu >/dev/null || fail "claim for pid $holder failed"
lease=$(iommuctl --json leases | jq -r '.[0].id')
[ "$(claim_state)" = held ] || fail "group $g is $(claim_state), not held"
before=$(pci_snapshot)
expect_rc 6 iommuctl claim --holder-pid $$ $edu
grep -q "held by lease $lease (sleep, pid $holder, uid 0)" <<<"$err_out" || fail "GroupBusy does not name the holder: $err_out"
rc=0; out=$(iommuctl --json claim --holder-pid $$ $edu 2>/dev/null) || rc=$?
jq -e --arg l "$lease" '.error == "org.iommud.Manager.GroupBusy" and .parameters.lease == $l and .parameters.state == "held"' \
	<<<"$out" >/dev/null || fail "GroupBusy JSON: $out"
# Restore and Prepare leave a leased group alone.
expect_rc 6 iommuctl restore $edu
grep -q "held by lease" <<<"$err_out" || fail "restore of a leased device: $err_out"
[ "$(pci_snapshot)" = "$before" ] || fail "refused calls changed sysfs"
ok "second claim and restore refused with GroupBusy naming lease $lease (sleep, pid $holder); nothing changed"
kill $holder; wait $holder 2>/dev/null || true
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "the lease outlived sleep"
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free after sleep"

# 4. Release cuts DMA for a holder that keeps its fds; the group stays
# releasing, naming the holder, until it closes them.
mkfifo /tmp/lease-in
(iommuctl claim $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups edu-dma fds --hold </tmp/lease-in >/tmp/lease-out 2>&1; echo "exit $?" >>/tmp/lease-out) &
exec 7>/tmp/lease-in
wait_for 60 grep -q holding /tmp/lease-out || { cat /tmp/lease-out; fail "the holder did not get to hold"; }
lease=$(iommuctl --json leases | jq -r '.[0].id')
holder=$(iommuctl --json leases | jq -r '.[0].holder.pid')
[ "$(iommuctl --json leases | jq -r '.[0].holder.uid')" = 1000 ] || fail "holder uid is not 1000: $(iommuctl leases)"
dmesg -C
iommuctl release "$lease" >/dev/null || fail "release $lease failed"
wait_for 5 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = releasing ]" || fail "group $g is $(claim_state), not releasing"
wait_for 5 sh -c "iommuctl --json group $g | jq -e '.releaseHeldBy | test(\"pid $holder \")'" \
	|| fail "releasing group does not name holder $holder: $(iommuctl --json group $g)"
expect_rc 6 iommuctl claim --holder-pid $$ $edu
grep -q "still held after its lease $lease ended" <<<"$err_out" || fail "claim of a releasing group: $err_out"
ok "released: group $g releasing, held by pid $holder (named), not handed out"
echo go >&7; exec 7>&-
wait_for 30 grep -q "^exit" /tmp/lease-out || fail "the holder did not finish"
cat /tmp/lease-out
grep -q "ok: DMA after the lease ended was blocked" /tmp/lease-out || fail "DMA still reached memory after Release"
iova=$(sed -n 's/^fault-iova: //p' /tmp/lease-out | tail -n1)
wait_for 5 dmar_fault_logged $edu "$iova" || { dmesg | tail; fail "no DMAR fault for the DMA after Release"; }
ok "after Release the holder's DMA was blocked: $(dmar_fault_logged $edu "$iova" | head -n1)"
wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free after the holder exited"
ok "group $g free once the holder closed its fds"
rm -f /tmp/lease-in /tmp/lease-out

# 4b. The holder forks a child that keeps the fds and is SIGKILLed: the
# lease ends, the group stays releasing (DMA cut) until the child exits,
# then a new client gets it.
mkfifo /tmp/fork-in
(iommuctl claim $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups \
	sh -c 'edu-dma fds --hold </tmp/fork-in >/tmp/fork-out 2>&1 & exec sleep 300' &)
exec 7>/tmp/fork-in
wait_for 60 grep -q holding /tmp/fork-out || { cat /tmp/fork-out; fail "the child did not get to hold"; }
holder=$(iommuctl --json leases | jq -r '.[0].holder.pid')
[ "$(cat /proc/$holder/comm)" = sleep ] || fail "the holder is $(cat /proc/$holder/comm), not the sleeping parent"
kill -KILL $holder
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "the lease outlived its SIGKILLed holder"
wait_for 5 sh -c "iommuctl --json group $g | jq -e '.claim == \"releasing\" and (.releaseHeldBy | test(\"edu-dma\"))'" \
	|| fail "group $g not releasing, held by the child: $(iommuctl --json group $g)"
expect_rc 6 iommuctl claim --holder-pid $$ $edu
echo go >&7; exec 7>&-
wait_for 30 grep -q "ok: DMA after the lease ended was blocked" /tmp/fork-out || { cat /tmp/fork-out; fail "the child's DMA was not cut"; }
wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free after the child exited"
sleep 300 & holder=$!
iommuctl claim --holder-pid $holder $edu >/dev/null || fail "a new client could not get group $g"
kill $holder; wait $holder 2>/dev/null || true
ok "holder SIGKILLed, child kept the fds: releasing and DMA cut until the child exited, then a new client got it"
rm -f /tmp/fork-in /tmp/fork-out
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "lease left"
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free"

# 5. RequestRelease: Monitor tells; the grace runs out; the lease ends.
sleep 300 & holder=$!
iommuctl claim --holder-pid $holder $edu >/dev/null || fail "claim for pid $holder failed"
lease=$(iommuctl --json leases | jq -r '.[0].id')
iommuctl monitor >/tmp/monitor.out &
mon=$!
wait_for 5 grep -q subscribed /tmp/monitor.out || true
iommuctl request-release "$lease" --reason "host maintenance" --grace 2 >/dev/null || fail "request-release failed"
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "the lease outlived its grace"
kill $mon; kill $holder; wait 2>/dev/null || true
grep -q "releaseRequested" /tmp/monitor.out || { cat /tmp/monitor.out; fail "Monitor did not show releaseRequested"; }
grep -q "host maintenance" /tmp/monitor.out || fail "Monitor did not carry the reason"
journalctl -u iommud --no-pager | grep -q "Lease $lease .* ended: the grace period" || fail "no journal line for the grace end"
ok "RequestRelease: Monitor showed it with the reason; the lease ended after 2 s"
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free"

# 6. memlock: raised for the holder within MaxMemlock; beyond it refused.
# The negative control first: uid 1000 cannot pin 16 MiB with the
# default limit (8 MiB), charged to itself (per-process accounting).
rc=0; out=$(iommuctl claim $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups edu-dma fds --map-mib 16 2>&1) || rc=$?
[ $rc != 0 ] && grep -q "IOMMU_IOAS_MAP of 16 MiB: Cannot allocate memory" <<<"$out" \
	|| { echo "$out"; fail "16 MiB pinned without --memlock (exit $rc)"; }
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free"
out=$(iommuctl claim --memlock 32M $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups edu-dma fds --map-mib 16 2>&1) \
	|| { echo "$out"; fail "claim --memlock 32M + 16 MiB map failed"; }
grep -q "ok: mapped and pinned 16 MiB" <<<"$out" && grep -q "ok: DMA round trip" <<<"$out" || { echo "$out"; fail "no 16 MiB map with --memlock"; }
ok "memlock: uid 1000 pinning 16 MiB fails with ENOMEM by default, succeeds with --memlock 32M"
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free"
out=$(iommuctl claim --memlock 32M $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups sh -c 'ulimit -l') \
	|| fail "claim --memlock 32M failed"
[ "$out" = 32768 ] || fail "the holder's memlock limit is $out KiB, not 32768"
ok "memlock raised to 32 MiB for the holder (ulimit -l: $out)"
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free"
before=$(pci_snapshot)
expect_rc 5 iommuctl claim --memlock 1G $edu -- true
grep -q "MaxMemlock" <<<"$err_out" || fail "memlock refusal: $err_out"
# 7. uid 1000 may not claim by default (polkit: no rule, no session);
# edu2 is neither managed nor prepared: refused with the reason.
expect_rc 5 as_user iommuctl claim $edu -- true
grep -q "uid 1000 may not claim $edu: polkit action org.iommud.claim" <<<"$err_out" || fail "uid 1000's claim: $err_out"
expect_rc 5 iommuctl claim $edu2 -- true
grep -q "IOMMU group [0-9]* cannot be handed out: $vnet is on virtio-pci" <<<"$err_out" \
	|| fail "claim of the bridged edu with virtio-net on its driver: $err_out"
[ "$(pci_snapshot)" = "$before" ] || fail "refused claims changed sysfs"
[ "$(lease_count)" = 0 ] || fail "a refused claim left a lease"
ok "refused without change: memlock over MaxMemlock, uid 1000 (polkit), an unprepared unmanaged device"

# 8. With a polkit rule for uid 1000 and the edu's vendor, uid 1000
# claims for itself and does DMA; another user's lease stays out of its
# reach (org.iommud.release-other).
user=$(id -nu 1000) || fail "no user with uid 1000 in the guest"
mkdir -p /etc/polkit-1/rules.d
cat >/etc/polkit-1/rules.d/50-iommud-test.rules <<RULES
polkit.addRule(function(action, subject) {
	if (action.id == "org.iommud.claim" && subject.user == "$user" &&
	    action.lookup("vendor") == "1234" && action.lookup("mode") == "bound")
		return polkit.Result.YES;
});
RULES
claim_as_user() { as_user iommuctl claim $edu -- edu-dma fds; }
wait_for 10 claim_as_user || { as_user iommuctl claim $edu -- true; fail "uid 1000's claim is still refused with the rule"; }
out=$(as_user iommuctl claim $edu -- edu-dma fds 2>&1) || { echo "$out"; fail "uid 1000's claim failed"; }
grep -q "ok: DMA round trip" <<<"$out" || { echo "$out"; fail "uid 1000 did no DMA through its own lease"; }
ok "a polkit rule (uid 1000, vendor 1234, bound) lets uid 1000 claim $edu itself and do DMA"
expect_rc 5 as_user iommuctl claim --mode parked $edu -- true
grep -q "polkit action org.iommud.claim" <<<"$err_out" || fail "parked mode is not in the rule, yet: $err_out"
expect_rc 5 as_user iommuctl claim $nic -- true
grep -q "uid 1000 may not claim $nic: polkit action org.iommud.claim" <<<"$err_out" || fail "e1000e (8086) for uid 1000: $err_out"
ok "the same rule denies uid 1000 the e1000e (vendor 8086) and parked mode"
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free"
sleep 300 & holder=$!
iommuctl claim --holder-pid $holder $edu >/dev/null || fail "root's claim failed"
lease=$(iommuctl --json leases | jq -r '.[0].id')
expect_rc 5 as_user iommuctl release "$lease"
grep -q "org.iommud.release-other" <<<"$err_out" || fail "uid 1000 releasing root's lease: $err_out"
expect_rc 5 as_user iommuctl request-release "$lease" --reason mine --grace 1
[ "$(lease_count)" = 1 ] || fail "uid 1000 ended root's lease"
ok "uid 1000 may not release or ask for root's lease (org.iommud.release-other)"
kill $holder; wait $holder 2>/dev/null || true
rm -f /etc/polkit-1/rules.d/50-iommud-test.rules
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "the lease outlived sleep"

# 8b. The example rules file, as shipped: members of group kvm may claim
# what iommud.conf marks assignable.
kvm_rule_on "$user"
wait_for 10 claim_as_user || { as_user iommuctl claim $edu -- true; fail "the example rule does not let kvm's uid 1000 claim"; }
expect_rc 5 as_user iommuctl claim $vnet -- true
grep -q "NotAllowed\|not allowed\|iommud.conf" <<<"$err_out" || fail "a device the policy does not list: $err_out"
ok "the example rules file lets group kvm's uid 1000 claim $edu; iommud.conf still refuses the rest"
kvm_rule_off "$user"
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free"

# 8c. A client that goes away while polkit thinks gets nothing and leaves
# nothing behind: a rule that takes 3 s, a client that waits 1 s.
slow_claim_rule_on "$user" 3
setpriv --reuid=1000 --regid=1000 --clear-groups sleep 300 & holder=$!
sleep 1
before=$(pci_snapshot)
rc=0; timeout 1 setpriv --reuid=1000 --regid=1000 --clear-groups iommuctl claim --holder-pid $holder $edu >/dev/null 2>&1 || rc=$?
[ $rc = 124 ] || fail "the slow claim was not cut off by the client (exit $rc)"
sleep 4
journalctl -u iommud --no-pager | grep -q "Claim refused: the caller went away before the claim was granted" \
	|| { journalctl -u iommud --no-pager | tail; fail "no 'went away' refusal in the journal"; }
[ "$(lease_count)" = 0 ] || fail "a lease was granted to a client that went away: $(iommuctl leases)"
[ "$(pci_snapshot)" = "$before" ] || fail "the abandoned claim changed sysfs"
[ "$(claim_state)" = free ] || fail "group $g is $(claim_state)"
ok "a client gone while polkit decided: no lease, nothing bound or prepared, group free"
kill $holder; wait $holder 2>/dev/null || true
slow_claim_rule_off

# 9. Concurrent claims for one group: exactly one wins, whatever the
# interleaving (six processes released at one barrier).
out=$(lease-client race 6 $edu) || { echo "$out"; fail "the race did not end with one winner"; }
echo "$out"
wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free after the race"

# 10. The kernel's own refusal, named: the group's legacy node held open.
iommuctl prepare $edu >/dev/null || fail "prepare $edu failed"
exec 9<>/dev/vfio/$g
expect_rc 5 iommuctl claim --holder-pid $$ $edu
exec 9>&-
grep -q "cannot bind the device to iommufd: the group's legacy node (/dev/vfio/N) is open elsewhere" <<<"$err_out" \
	|| fail "bind with /dev/vfio/$g open: $err_out"
rc=0; out=$(iommuctl --json claim --holder-pid $$ $edu 2>/dev/null) || true
[ "$(iommuctl --json leases | jq length)" = 1 ] && iommuctl release "$(iommuctl --json leases | jq -r '.[0].id')" >/dev/null
wait_for 10 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free"
ok "/dev/vfio/$g open elsewhere: GroupNotViable with the kernel's EBUSY explained; nothing kept"
iommuctl restore $edu >/dev/null || fail "restore $edu failed"

# 11. AddDevices: an mtty mdev joins the edu's lease, under the same
# iommufd and IOAS; RemoveDevices takes it out again.
use_config <<CONF
[Assignable]
Address=$edu
Address=$edu2
Id=1af4:1000
Parent=mtty
[Managed]
Address=$edu
Address=$edu2
Id=1af4:1000
CONF
vnet_drv=$(driver_of $vnet)
out=$(lease-client hotplug $edu $edu2) || { echo "$out"; journalctl -u iommud --no-pager | tail; fail "AddDevices of the bridged group failed"; }
echo "$out"
wait_for 15 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "lease left after hotplug"
wait_for 15 sh -c "[ \"\$(readlink /sys/bus/pci/devices/$vnet/driver | xargs basename)\" = $vnet_drv ]" \
	|| fail "virtio-net not restored after its group left the lease: on $(driver_of $vnet)"
ok "AddDevices prepared the bridged group (managed) under the held lease; its removal restored virtio-net"
# 11b. The end of a lease restores what its claim moved, and only that:
# virtio-net prepared by an admin beforehand stays on vfio-pci.
iommuctl prepare $vnet >/dev/null || fail "admin prepare of $vnet failed"
[ "$(driver_of $vnet)" = vfio-pci ] || fail "$vnet on $(driver_of $vnet) after prepare"
out=$(lease-client hotplug $edu $edu2) || { echo "$out"; journalctl -u iommud --no-pager | tail; fail "AddDevices with $vnet prepared failed"; }
wait_for 15 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "lease left after hotplug"
wait_for 15 sh -c "[ \"\$(readlink /sys/bus/pci/devices/$edu2/driver)\" = '' ]" \
	|| fail "$edu2, moved by the claim, not restored: on $(driver_of $edu2)"
sleep 1
[ "$(driver_of $vnet)" = vfio-pci ] || fail "$vnet, prepared by the admin, was moved by the lease's end: on $(driver_of $vnet)"
iommuctl --json show $vnet | jq -e .prepared >/dev/null || fail "$vnet lost its prepared record"
iommuctl restore $vnet >/dev/null || fail "admin restore of $vnet failed"
[ "$(driver_of $vnet)" = "$vnet_drv" ] || fail "$vnet on $(driver_of $vnet) after restore, not $vnet_drv"
ok "the lease's end restored $edu2 (its claim moved it) and left $vnet (the admin prepared it) on vfio-pci"
uuid=0d5c9a3e-7b41-4d8e-9f60-3a2b1c4d5e6f
echo $uuid > /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create
wait_for 10 iommuctl show $uuid || fail "iommud did not see mdev $uuid"
out=$(lease-client hotplug $edu $uuid) || { echo "$out"; journalctl -u iommud --no-pager | tail; fail "AddDevices/RemoveDevices failed"; }
echo "$out"
wait_for 15 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "lease left after hotplug"

# 12. iommud out of file descriptors: with its limit a few fds above what
# it has open, a claim either succeeds or is refused with
# TooManyOpenFiles, never half-done; a held lease can still be released.
# The held lease is on a second mdev: ending it needs no restore (a
# restore under the tight limit would fail for want of fds, and leave the
# device prepared, recorded, for a later Restore).
uuid2=4f6a1c2e-8d3b-4e5f-a607-1b2c3d4e5f60
echo $uuid2 > /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1/create
wait_for 10 iommuctl show $uuid2 || fail "iommud did not see mdev $uuid2"
sleep 300 & h1=$!
iommuctl claim --holder-pid $h1 $uuid2 >/dev/null || fail "claim for the fd test failed"
pid=$(systemctl show -p MainPID --value iommud.service)
lim_before=$(prlimit --pid $pid --nofile --output SOFT,HARD --noheadings)
outcomes=""
for margin in 2 3 4 5 6 7 8 10 12; do
	n=$(ls /proc/$pid/fd | wc -l)
	prlimit --pid $pid --nofile=$((n + margin)):$(awk '{print $2}' <<<"$lim_before")
	rc=0; out=$(timeout 20 iommuctl claim $uuid -- true 2>&1) || rc=$?
	prlimit --pid $pid --nofile=$(awk '{print $1 ":" $2}' <<<"$lim_before")
	case $rc in
	0) outcomes+=" +$margin:granted" ;;
	6) grep -q "file descriptors" <<<"$out" || fail "margin $margin: exit 6 but: $out"; outcomes+=" +$margin:TooManyOpenFiles" ;;
	*) fail "margin $margin: exit $rc: $out" ;;
	esac
	wait_for 15 sh -c "[ \"\$(iommuctl --json leases | jq length)\" = 1 ]" || fail "margin $margin left a lease: $(iommuctl leases)"
	wait_for 15 sh -c "[ \"\$(iommuctl --json show $uuid | jq -r .claim)\" = free ]" || fail "margin $margin: the mdev's group is not free"
done
echo "outcomes:$outcomes"
grep -q TooManyOpenFiles <<<"$outcomes" || fail "no margin was small enough to refuse"
n=$(ls /proc/$pid/fd | wc -l)
prlimit --pid $pid --nofile=$n:$(awk '{print $2}' <<<"$lim_before")
lease=$(iommuctl --json leases | jq -r '.[0].id')
prlimit --pid $pid --nofile=$((n + 2)):$(awk '{print $2}' <<<"$lim_before")
iommuctl release "$lease" >/dev/null || fail "release under a tight fd limit failed"
prlimit --pid $pid --nofile=$(awk '{print $1 ":" $2}' <<<"$lim_before")
kill $h1; wait $h1 2>/dev/null || true
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "lease left"
wait_for 10 sh -c "[ \"\$(iommuctl --json show $uuid2 | jq -r .claim)\" = free ]" || fail "mdev $uuid2's group not free"
ok "out of fds: each claim granted or refused with TooManyOpenFiles, nothing left behind; release still works"
echo 1 > /sys/bus/mdev/devices/$uuid/remove
echo 1 > /sys/bus/mdev/devices/$uuid2/remove
[ "$(driver_of $edu)" = "(none)" ] || fail "$edu left on $(driver_of $edu)"

use_config </dev/null

# 13. A client that never reads its replies: bounded fds in flight, no
# effect on others.  noread-client.py (uid 1000) claims the edu and then
# sends ListDevices calls, never reading: the Claim's reply and its two
# fds wait unread in its socket, the ListDevices replies fill that socket
# until iommud has output it cannot send, and from then on iommud reads
# no further call from it (a full socket holds back the next call).
use_config <<CONF
[Assignable]
Address=$edu
[Managed]
Address=$edu
CONF
cat >/etc/polkit-1/rules.d/50-iommud-noread.rules <<RULES
polkit.addRule(function(action, subject) {
	if (action.id == "org.iommud.claim" && subject.user == "$user" &&
	    action.lookup("vendor") == "1234" && action.lookup("mode") == "bound")
		return polkit.Result.YES;
});
RULES
wait_for 10 as_user iommuctl claim $edu -- true || { as_user iommuctl claim $edu -- true; fail "uid 1000's claim is refused with the rule"; }
wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free before the no-read client"
ipid=$(systemctl show -p MainPID --value iommud.service)
fd_count() { ls /proc/$ipid/fd | wc -l; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' /proc/$ipid/status; }
fds_are() { [ "$(fd_count)" = "$1" ]; }
client=""
trap '[ -z "$client" ] || kill $client 2>/dev/null || true' EXIT
fds0=$(fd_count)

# 13a. The limit of 16 calls queued: a Claim and 16 ListDevices in one
# write (17 calls read at once) make iommud drop the connection before
# it serves any of them: no lease, no fd kept.  A Claim and 15 (16 calls)
# stay connected.
rc=0; out=$(setpriv --reuid=1000 --regid=1000 --clear-groups timeout 60 noread-client.py $edu --greedy --max-calls 16 2>&1) || rc=$?
echo "$out"
[ $rc = 3 ] && grep -q "sent 17 calls; disconnected by iommud" <<<"$out" \
	|| fail "a client with 17 calls queued was not disconnected (exit $rc)"
[ "$(lease_count)" = 0 ] || fail "a dropped client got a lease: $(iommuctl leases)"
wait_for 10 fds_are $fds0 || fail "iommud has $(fd_count) fds after dropping the client, $fds0 before"
rc=0; out=$(setpriv --reuid=1000 --regid=1000 --clear-groups timeout 60 noread-client.py $edu --greedy --max-calls 15 2>&1) || rc=$?
echo "$out"
[ $rc = 0 ] && grep -q "still connected" <<<"$out" || fail "a client with 16 calls queued was disconnected (exit $rc)"
wait_for 15 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "the 16-call client's lease outlived it"
wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free after the 16-call client"
wait_for 10 fds_are $fds0 || fail "iommud has $(fd_count) fds after the 16-call client, $fds0 before"
ok "17 calls queued at once: disconnected, nothing granted; 16: still connected"

# 13b. Within the limits, never reading: it stays connected and holds its
# lease; everyone else is served; iommud's fds and memory stay bounded.
fds0=$(fd_count) rss0=$(rss_kib)
setpriv --reuid=1000 --regid=1000 --clear-groups noread-client.py $edu >/tmp/noread.out 2>&1 &
client=$!
wait_for 120 grep -q "^sent " /tmp/noread.out || { cat /tmp/noread.out; fail "the no-read client did not get to send its calls"; }
cat /tmp/noread.out
grep -q disconnected /tmp/noread.out && fail "iommud dropped the no-read client, which kept to the limits"
grep -q "iommud stopped taking calls" /tmp/noread.out \
	|| fail "iommud's output to the no-read client never filled its socket: not the case under test"
[ "$(lease_count)" = 1 ] || fail "no lease for the client that never read its Claim reply: $(iommuctl leases)"
lease=$(iommuctl --json leases | jq -r '.[0].id')
[ "$(iommuctl --json leases | jq -r '.[0].holder.pid')" = $client ] && [ "$(iommuctl --json leases | jq -r '.[0].holder.uid')" = 1000 ] \
	|| fail "lease $lease is not held by the no-read client (pid $client, uid 1000): $(iommuctl leases)"
ok "lease $lease granted to the no-read client ($(iommuctl --json leases | jq -r '.[0].holder.command'), pid $client, uid 1000), its reply and fds unread in its socket"
for who in root uid1000; do
	run=(); [ $who = root ] || run=(setpriv --reuid=1000 --regid=1000 --clear-groups)
	for cmd in status list leases; do
		"${run[@]}" timeout 10 iommuctl $cmd >/dev/null \
			|| fail "'iommuctl $cmd' as $who did not answer within 10 s while a client does not read"
	done
done
ok "iommuctl status, list and leases answer root and uid 1000 while the no-read client is stuck"
grep -q disconnected /tmp/noread.out && fail "iommud dropped the no-read client while others were served"
kill -0 $client 2>/dev/null || fail "the no-read client died: $(cat /tmp/noread.out)"
# What the stuck client may cost iommud in fds: its connection (the
# socket and the peer's pidfd: 2) and its lease (the holder's pidfd and
# iommud's references to the iommufd and the device file: 3); and, until
# the Claim's reply is sent, that reply's dups of the iommufd and the
# device file (2).  Here the reply did go out (the client saw it arrive
# before it sent anything else), so 5 is expected; 7 is the bound for
# one client whatever the timing.  The fds passed in the reply are in
# flight in the client's socket: they are no longer in iommud's table.
wait_for 10 sh -c "[ \$(ls /proc/$ipid/fd | wc -l) -le $((fds0 + 7)) ]" \
	|| fail "iommud has $(fd_count) fds with the no-read client, more than $fds0 before + 7 (one connection and one lease)"
fds1=$(fd_count)
# Memory: iommud reads no call while it has a reply it cannot send, so
# what it holds for this client is at most its unsent output (capped at
# 16 MiB per connection) and 16 queued calls (64 KiB each at most); here
# that is one ListDevices reply.  3 MiB more for the allocator's slack.
rss1=$(rss_kib)
[ $((rss1 - rss0)) -le $(( (16 + 1 + 3) * 1024 )) ] \
	|| fail "iommud's RSS grew from $rss0 to $rss1 KiB with the no-read client: more than its 16 MiB output cap allows"
ok "iommud with the no-read client: $fds1 fds (before: $fds0; bound $((fds0 + 7))), VmRSS $rss1 KiB (before: $rss0 KiB)"

# Killing it ends the lease; the group is free and the edu restored;
# iommud's fds are back where they were.
kill $client; wait $client 2>/dev/null || true
client=""
wait_for 10 sh -c '[ "$(iommuctl --json leases | jq length)" = 0 ]' || fail "the lease outlived the no-read client"
journalctl -u iommud --no-pager | grep -q "Lease $lease .* ended: its holder exited" \
	|| fail "no journal line for lease $lease ending with the no-read client"
wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free after the no-read client: $(iommuctl group $g)"
wait_for 15 sh -c "[ \"\$(readlink /sys/bus/pci/devices/$edu/driver)\" = '' ]" \
	|| fail "$edu was not restored after the no-read client's lease: on $(driver_of $edu)"
wait_for 10 fds_are $fds0 || fail "iommud has $(fd_count) fds after the no-read client, $fds0 before"
ok "no-read client killed: lease $lease ended, group $g free, $edu restored, iommud back to $fds0 fds"
rm -f /etc/polkit-1/rules.d/50-iommud-noread.rules /tmp/noread.out
use_config </dev/null
