#!/bin/bash
# profiles: custom
# Prepare and Restore on the real kernel: the e1000e moves to vfio-pci and
# back to e1000e through iommud, the record of its driver survives a
# daemon restart, and a device whose VFIO node is open is not unbound.
. /usr/local/bin/vmtest-lib.sh
nic=0000:00:04.0

use_config <<CONF
[Assignable]
Address=$nic
CONF
[ "$(driver_of $nic)" = e1000e ] || fail "$nic starts on $(driver_of $nic), not e1000e"
netdev=$(ls /sys/bus/pci/devices/$nic/net)

out=$(iommuctl prepare 00:04.0) || fail "prepare failed: $out"
echo "$out"
[ "$(driver_of $nic)" = vfio-pci ] || fail "after prepare $nic is on $(driver_of $nic)"
[ "$(cat /sys/bus/pci/devices/$nic/driver_override)" = vfio-pci ] || fail "driver_override is not vfio-pci"
cdev=$(ls /sys/bus/pci/devices/$nic/vfio-dev)
[ -c /dev/vfio/devices/$cdev ] || fail "no /dev/vfio/devices/$cdev after prepare"
jq -e '.originalDriver == "e1000e" and .device == "'$nic'"' /run/iommud/prepared/$nic >/dev/null \
	|| fail "the record does not name e1000e: $(cat /run/iommud/prepared/$nic)"
ok "prepare: $nic e1000e -> vfio-pci, /dev/vfio/devices/$cdev, original driver recorded"

wait_for 5 sh -c "iommuctl --json show $nic | jq -e '.prepared and .originalDriver == \"e1000e\" and .assignable' " \
	|| fail "iommuctl show does not say prepared: $(iommuctl --json show $nic)"
systemctl restart iommud.service
iommuctl --json show $nic | jq -e '.prepared and .originalDriver == "e1000e"' >/dev/null \
	|| fail "after a daemon restart the record is lost: $(iommuctl --json show $nic)"
ok "the record survives a daemon restart (show: prepared from e1000e)"
iommuctl --json status | jq -e '.prepared == 1' >/dev/null || fail "status does not count 1 prepared device"

# Moved back by hand while iommud was down: the record stays, iommud says
# so at start, and a prepare takes the device again.
systemctl stop iommud.service
restore_driver $nic
[ "$(driver_of $nic)" = e1000e ] || fail "could not move $nic back to e1000e by hand"
since=$(date '+%Y-%m-%d %H:%M:%S')
systemctl start iommud.service
wait_for 10 sh -c "journalctl -u iommud --since '$since' --no-pager | grep -q '$nic was prepared (from e1000e), but is on e1000e now'" \
	|| { journalctl -u iommud --since "$since" --no-pager | tail; fail "iommud did not report the record out of step with sysfs"; }
iommuctl prepare $nic >/dev/null || fail "prepare after a hand move failed"
[ "$(driver_of $nic)" = vfio-pci ] || fail "$nic not on vfio-pci again"
jq -e '.originalDriver == "e1000e"' /run/iommud/prepared/$nic >/dev/null || fail "the record changed"
ok "a record out of step with sysfs at start is reported in the journal; prepare takes the device again"

out=$(iommuctl prepare $nic) || fail "a second prepare failed: $out"
grep -q "unchanged" <<<"$out" || fail "a second prepare should change nothing: $out"
ok "preparing again changes nothing"

# Somebody holds the device: restore must refuse, not block in the kernel.
sleep 300 9<>/dev/vfio/devices/$cdev &
holder=$!
expect_rc 6 iommuctl restore $nic
grep -q "pid $holder" <<<"$err_out" || fail "DeviceInUse does not name the holder $holder: $err_out"
[ "$(driver_of $nic)" = vfio-pci ] || fail "after a refused restore $nic is on $(driver_of $nic)"
[ -e /run/iommud/prepared/$nic ] || fail "a refused restore dropped the record"
ok "restore refused while pid $holder holds /dev/vfio/devices/$cdev: $(head -n1 <<<"$err_out")"
kill $holder; wait $holder 2>/dev/null || true

out=$(iommuctl restore 00:04.0) || fail "restore failed: $out"
echo "$out"
[ "$(driver_of $nic)" = e1000e ] || fail "after restore $nic is on $(driver_of $nic)"
[ -z "$(cat /sys/bus/pci/devices/$nic/driver_override | grep -v '(null)')" ] || fail "driver_override left set"
[ ! -e /run/iommud/prepared/$nic ] || fail "the record outlived the restore"
wait_for 10 test -e /sys/bus/pci/devices/$nic/net/$netdev || fail "no netdev $netdev after restore"
ok "restore: $nic vfio-pci -> e1000e, netdev $netdev back, record removed"

# On vfio-pci by someone else (by hand here, as driverctl would): held
# outside iommud, and restore will not take it from them.
echo vfio-pci > /sys/bus/pci/devices/$nic/driver_override
echo $nic > /sys/bus/pci/devices/$nic/driver/unbind
echo $nic > /sys/bus/pci/drivers_probe
[ "$(driver_of $nic)" = vfio-pci ] || fail "could not bind $nic to vfio-pci by hand"
wait_for 5 sh -c "iommuctl --json show $nic | jq -e '.heldOutside and (.prepared | not)'" \
	|| fail "not shown as held outside iommud: $(iommuctl --json show $nic)"
expect_rc 5 iommuctl restore $nic
grep -q "did not put it there" <<<"$err_out" || fail "wrong refusal: $err_out"
[ "$(driver_of $nic)" = vfio-pci ] || fail "a refused restore moved $nic to $(driver_of $nic)"
ok "bound to vfio-pci outside iommud: shown as held outside, restore refused ($(head -n1 <<<"$err_out"))"

# The same state left by our own [Reserve] (the udev rule does exactly
# this at boot): iommud's to give back, to whichever driver the kernel picks.
use_config <<CONF
[Assignable]
Address=$nic
[Reserve]
Address=$nic
CONF
wait_for 5 sh -c "iommuctl --json show $nic | jq -e '.reserved and (.heldOutside | not)'" \
	|| fail "a reserved device shown as held outside: $(iommuctl --json show $nic)"
out=$(iommuctl restore $nic) || fail "restore of a reserved device failed: $out"
[ "$(driver_of $nic)" = e1000e ] || fail "after restore of the reserved $nic it is on $(driver_of $nic)"
[ "$(cat /sys/bus/pci/devices/$nic/driver_override)" = "(null)" ] || fail "driver_override left set"
ok "reserved by our policy: restore hands it to the driver the kernel picks (e1000e)"

use_config </dev/null
