#!/bin/bash
# profiles: custom stock
# [Reserve] on hotplug, through the udev rule alone (iommud not involved):
# a reserved NIC hot-added into rp2 ends on vfio-pci although its host
# driver (built into our kernel, or virtio-pci loaded for the root disk on
# Debian's) took it inside device_add; the same NIC not listed stays on
# its host driver; and a coldplug replay of a listed device that a host
# driver has had since boot leaves it there, with the override and a
# warning in the kernel log.  On our kernel also: the VFs an SR-IOV PF
# creates are reserved by Parent= as they appear.
. /usr/local/bin/vmtest-lib.sh
conf=/etc/iommud/iommud.conf
[ -x /usr/libexec/iommud-reserve ] || fail "iommud-reserve is not installed"
[ -e /usr/lib/udev/rules.d/40-iommud-reserve.rules ] || fail "the udev rule is not installed"
[ ! -e $conf ] || fail "$conf exists before the check"

if uname -r | grep -q cloud; then
	model=virtio-net-pci host=virtio-pci booted=0000:01:02.0
else
	model=e1000e host=e1000e booted=0000:00:04.0
fi
bus=$(cat /sys/bus/pci/devices/0000:00:07.0/secondary_bus_number)
bdf=$(printf '0000:%02x:00.0' "$bus")

cleanup() {
	rm -f $conf
	qmp '{"execute":"device_del","arguments":{"id":"hp-res"}}' >/dev/null 2>&1 || true
	echo > "$(dev_dir $booted)/driver_override" 2>/dev/null || true
}
trap cleanup EXIT

mark=0
kmsg_mark() { mark=$(dmesg | wc -l); }
kmsg_since() { dmesg | tail -n +$((mark + 1)); }
reserve_logged() { kmsg_since | grep "iommud-reserve\[[0-9]*\]: $1: $2"; }
hot_add() {
	qmp "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"$model\",\"bus\":\"rp2\",\"id\":\"hp-res\",\"romfile\":\"\"}}" \
		>/dev/null || fail "QMP device_add $model failed"
	wait_for 20 test -e "$(dev_dir $bdf)" || fail "$bdf did not appear"
}
hot_remove() {
	qmp '{"execute":"device_del","arguments":{"id":"hp-res"}}' >/dev/null || fail "QMP device_del failed"
	wait_for 20 test ! -e "$(dev_dir $bdf)" || fail "$bdf did not go away"
}
driver_is() { [ "$(driver_of "$1")" = "$2" ]; }

# 1. Reserved: the host driver takes it at device_add, the rule takes it
#    back before anything on the host has seen its netdev.  vfio-pci is
#    loaded already, so the rule's drivers_probe binds it (the boot check
#    covers the other way, loading vfio_pci).
modprobe vfio-pci 2>/dev/null || true
[ -e /sys/bus/pci/drivers/vfio-pci ] || fail "no vfio-pci driver"
mkdir -p /etc/iommud
printf '# reserve-hotplug\n[Reserve]\nAddress=%s\n' "$bdf" > $conf
kmsg_mark
hot_add
udevadm settle --timeout=30
wait_for 20 driver_is $bdf vfio-pci || { kmsg_since | tail; fail "hot-added $model at $bdf is on $(driver_of $bdf), not vfio-pci"; }
[ "$(cat "$(dev_dir $bdf)/driver_override")" = vfio-pci ] || fail "driver_override of $bdf is not vfio-pci"
line=$(reserve_logged $bdf "reserved by $conf:3: driver_override=vfio-pci; $host took it as it was added, unbinding it") ||
	{ kmsg_since | tail; fail "no kernel log line from iommud-reserve for $bdf"; }
ok "kernel log: ${line#*] }"
if ls "$(dev_dir $bdf)" | grep -q '^virtio'; then fail "$bdf still has a virtio child"; fi
ok "reserved $model hot-added at $bdf: on vfio-pci (host driver $host unbound by the rule)"
hot_remove

# 2. Not listed: the host driver keeps it, nothing is written.
printf '# reserve-hotplug\n[Reserve]\nAddress=0000:00:03.0\n' > $conf
kmsg_mark
hot_add
udevadm settle --timeout=30
wait_for 20 driver_is $bdf $host || fail "unlisted $model at $bdf is on $(driver_of $bdf), not $host"
[ "$(cat "$(dev_dir $bdf)/driver_override")" = "(null)" ] || fail "driver_override of unlisted $bdf was written"
! reserve_logged $bdf "" >/dev/null || fail "iommud-reserve logged about unlisted $bdf"
ok "unlisted $model hot-added at $bdf: stays on $host, no override"
hot_remove

# 3. A coldplug replay (synthetic "add", SYNTH_UUID set) of a listed
#    device on its host driver since boot: left there, override set for
#    its next probe, and a warning.
printf '# reserve-hotplug\n[Reserve]\nAddress=%s\n' "$booted" > $conf
kmsg_mark
udevadm trigger --action=add --settle "$(dev_dir $booted)"
udevadm settle --timeout=30
driver_is $booted $host || fail "coldplug replay moved $booted to $(driver_of $booted)"
[ "$(cat "$(dev_dir $booted)/driver_override")" = vfio-pci ] || fail "driver_override of $booted not set"
line=$(reserve_logged $booted "reserved by $conf:3, but $host has had it since before this coldplug event") ||
	{ kmsg_since | tail; fail "no warning in the kernel log for $booted"; }
ok "kernel log: ${line#*] }"
ok "coldplug replay of $booted on $host: left there, driver_override=vfio-pci"
echo > "$(dev_dir $booted)/driver_override"

# 4. SR-IOV VFs, by Parent=: each VF's "add" is the kernel's own, and the
#    rule binds it as it appears.  Only our kernel has a PF driver for the
#    igb (pci-pf-stub).
pf=0000:02:00.0
if [ -e /sys/bus/pci/drivers/pci-pf-stub ]; then
	pf_driver=$(driver_of $pf)
	[ "$pf_driver" = pci-pf-stub ] || bind_driver $pf pci-pf-stub
	printf '# reserve-hotplug\n[Reserve]\nParent=%s\n' "$pf" > $conf
	kmsg_mark
	echo 2 > "$(dev_dir $pf)/sriov_numvfs" || fail "cannot enable 2 VFs on $pf"
	udevadm settle --timeout=30
	for v in virtfn0 virtfn1; do
		vf=$(basename "$(readlink "$(dev_dir $pf)/$v")")
		wait_for 20 driver_is "$vf" vfio-pci || { kmsg_since | tail; fail "VF $vf is on $(driver_of "$vf"), not vfio-pci"; }
		reserve_logged "$vf" "reserved by $conf:3: driver_override=vfio-pci, unbound, probing" >/dev/null ||
			fail "no kernel log line for VF $vf"
		ok "VF $vf of $pf, reserved by Parent=: on vfio-pci as it appeared"
	done
	echo 0 > "$(dev_dir $pf)/sriov_numvfs" || fail "cannot disable the VFs of $pf"
	[ "$pf_driver" = pci-pf-stub ] || restore_driver $pf
fi
rm -f $conf
