#!/bin/bash
# profiles: custom stock
# [Reserve] at boot: a reserved device comes up on vfio-pci after a guest
# reboot, with no host driver ever bound to it (the kernel log says so).
#
# Debian's kernel (stock): the virtio-net 01:02.0, whose PCI driver
# virtio-pci is a module that the initramfs loads for the root disk, so
# the reservation must hold inside the initramfs (the hook carries the
# policy there), against a driver another device's event loads.  The boot
# after the reboot runs with the driver core's debug messages on, so the
# log shows every probe and bind.
# Our kernel (custom), where every driver is built in: the edu 00:03.0 (no
# host driver at all) comes up on vfio-pci; the e1000e 00:04.0, whose
# built-in driver probes before any userspace runs, stays on e1000e with
# the override set and a warning: the documented limit.
#
# Phase 1 (first boot) installs the policy, then asks tests/vm/run for a
# reboot; phase 2 (second boot) checks and puts everything back.
. /usr/local/bin/vmtest-lib.sh
conf=/etc/iommud/iommud.conf
state=${IOMMUD_TESTBED_STATE:-}
[ -n "$state" ] || skip "the test bed cannot reboot this guest"
phase=$state/reserve-boot.phase
if uname -r | grep -q cloud; then stock=1; else stock=0; fi

if [ ! -e "$phase" ]; then
	[ ! -e $conf ] || fail "$conf exists before the check"
	trap '[ -e "$phase" ] || rm -f $conf' EXIT
	mkdir -p /etc/iommud
	if [ $stock = 1 ]; then
		printf '# reserve-boot\n[Reserve]\nAddress=0000:01:02.0\n' > $conf
		# The hook copies the policy, the rule, iommud-reserve and
		# vfio-pci into the initramfs.
		update-initramfs -u -k "$(uname -r)" >/tmp/update-initramfs.log 2>&1 ||
			{ cat /tmp/update-initramfs.log; fail "update-initramfs failed"; }
		initrd=/boot/initrd.img-$(uname -r)
		lsinitramfs "$initrd" > /tmp/initrd.list
		for f in etc/iommud/iommud.conf usr/libexec/iommud-reserve lib/udev/rules.d/40-iommud-reserve.rules \
			 scripts/init-top/iommud-reserve; do
			grep -q "^\(usr/\)\?$f\$" /tmp/initrd.list || fail "$f is not in the initramfs"
		done
		grep -q '/vfio-pci.ko' /tmp/initrd.list || fail "vfio-pci.ko is not in the initramfs"
		ok "update-initramfs: the policy, the rule, iommud-reserve and vfio-pci are in $initrd"
		printf 'initrd=%s\nappend=dyndbg="file drivers/base/dd.c +p"\n' "$initrd" > "$state/reboot"
	else
		printf '# reserve-boot\n[Reserve]\nAddress=0000:00:03.0\nAddress=0000:00:04.0\n' > $conf
		touch "$state/reboot"
	fi
	echo 1 > "$phase"
	ok "policy installed; rebooting"
	exit 0
fi

# Phase 2: the boot after the reboot.
trap 'rm -f $conf' EXIT
ok "booted again ($(cut -d' ' -f1 /proc/uptime) s ago), boot ${IOMMUD_TESTBED_BOOT:-?}"
klog() { dmesg | grep -E "$1"; }
show() { sed 's/^/    /'; }
if [ $stock = 1 ]; then
	nic=0000:01:02.0 disk=0000:00:0a.0
	[ "$(driver_of $nic)" = vfio-pci ] || { klog "$nic|iommud" | show; fail "$nic is on $(driver_of $nic) after the reboot"; }
	[ "$(cat "$(dev_dir $nic)/driver_override")" = vfio-pci ] || fail "driver_override of $nic is not vfio-pci"
	ok "$nic on vfio-pci after the reboot"
	lines=$(klog "iommud-reserve\[[0-9]+\]: $nic") || fail "no iommud-reserve line for $nic in the kernel log"
	echo "$lines" | show
	echo "$lines" | grep -q "driver_override=vfio-pci before coldplug" || fail "the initramfs pass did not set $nic's override"
	# What the driver core logged (dyndbg): every driver that probed the
	# NIC, and every bind; the root disk shows virtio-pci was loaded.
	klog "driver_bound: bound to device '($nic|$disk)'|really_probe: probing driver .* with device ($nic|$disk)" | show
	binds=$(klog "driver_bound: bound to device '$nic'") || fail "no bind of $nic logged: is dyndbg on?"
	[ "$(echo "$binds" | grep -vc "driver: 'vfio-pci'")" = 0 ] || fail "$nic was bound to a host driver: $binds"
	[ "$(echo "$binds" | wc -l)" = 1 ] || fail "$nic was bound more than once: $binds"
	! klog "probing driver (virtio-pci|virtio_pci) with device $nic" >/dev/null || fail "virtio-pci probed $nic"
	klog "driver: 'virtio-pci': driver_bound: bound to device '$disk'" >/dev/null ||
		fail "the root disk $disk was not bound by virtio-pci: the test proves nothing"
	ok "kernel log: $nic bound once, by vfio-pci; virtio-pci, loaded for the root disk $disk, never probed it"
	# Back as the other checks expect it.
	echo "$nic" > "$(dev_dir $nic)/driver/unbind"
	echo > "$(dev_dir $nic)/driver_override"
	echo "$nic" > /sys/bus/pci/drivers_probe
	[ "$(driver_of $nic)" = virtio-pci ] || fail "$nic did not go back to virtio-pci"
	ok "$nic restored to virtio-pci"
else
	edu=0000:00:03.0 nic=0000:00:04.0
	[ "$(driver_of $edu)" = vfio-pci ] || { klog "iommud" | show; fail "$edu is on $(driver_of $edu) after the reboot"; }
	lines=$(klog "iommud-reserve\[[0-9]+\]: ($edu|$nic)") || fail "no iommud-reserve lines in the kernel log"
	echo "$lines" | show
	echo "$lines" | grep -q "$edu: reserved by $conf:3: driver_override=vfio-pci before coldplug" ||
		fail "iommud-reserve.service did not set $edu's override before coldplug"
	ok "$edu on vfio-pci after the reboot"
	[ "$(driver_of $nic)" = e1000e ] || fail "$nic is on $(driver_of $nic), expected the built-in e1000e"
	[ "$(cat "$(dev_dir $nic)/driver_override")" = vfio-pci ] || fail "driver_override of $nic is not vfio-pci"
	echo "$lines" | grep -q "$nic: reserved by $conf:4, but e1000e has had it since before this coldplug event" ||
		fail "no warning for $nic"
	ok "$nic stays on its built-in driver e1000e, with driver_override=vfio-pci and a warning (the documented limit)"
	echo "$edu" > "$(dev_dir $edu)/driver/unbind"
	echo > "$(dev_dir $edu)/driver_override"
	echo > "$(dev_dir $nic)/driver_override"
fi
# The early pass of the real root ran, and was done before coldplug began.
systemctl is-active --quiet iommud-reserve.service || fail "iommud-reserve.service did not run"
done_at=$(systemctl show -p ExecMainExitTimestampMonotonic --value iommud-reserve.service)
trigger_at=$(systemctl show -p ExecMainStartTimestampMonotonic --value systemd-udev-trigger.service)
[ "$done_at" -gt 0 ] && [ "$done_at" -le "$trigger_at" ] ||
	fail "iommud-reserve.service ended at $done_at us, coldplug started at $trigger_at us"
ok "iommud-reserve.service ended $(( (trigger_at - done_at) / 1000 )) ms before coldplug (systemd-udev-trigger) started"
