#!/bin/bash
# profiles: custom stock
# Binding changes reach iommud as driver and viability changes, and its
# verdict on the bridged group agrees with the kernel's VFIO_GROUP_GET_STATUS
# in each state.
. /usr/local/bin/vmtest-lib.sh
[ -e /sys/bus/pci/drivers/vfio-pci ] || modprobe vfio-pci || fail "cannot load vfio-pci"
systemctl start iommud.socket
edu=0000:01:01.0 nic=0000:01:02.0
g=$(group_of $edu)

viable_says() { iommuctl --json group "$g" | jq -r 'if .viable then "viable" else "not-viable" end'; }
driver_says() { iommuctl --json show "$1" | jq -r '.driver // "(none)"'; }
viable_is() { [ "$(viable_says)" = "$1" ]; }
driver_is() { [ "$(driver_says "$1")" = "$2" ]; }
agree() {	# agree EXPECTED: iommud (after the uevents) and the kernel
	wait_for 20 viable_is "$1" || fail "iommud says group $g is $(viable_says), expected $1"
	k=$(vfio-group-status "$g") || fail "VFIO_GROUP_GET_STATUS failed"
	[ "$k" = "$1" ] || fail "the kernel says group $g is $k, expected $1"
}

bind_driver $edu vfio-pci
wait_for 20 driver_is $edu vfio-pci || fail "iommud did not see $edu bind to vfio-pci"
agree not-viable
blocker=$(iommuctl --json group "$g" | jq -r '.blockers[0].device + " " + .blockers[0].driver')
[ "$blocker" = "$nic virtio-pci" ] || fail "blocker is '$blocker'"
ok "edu on vfio-pci, virtio-net on virtio-pci: not viable for iommud and the kernel, blocked by $blocker"

bind_driver $nic vfio-pci
wait_for 20 driver_is $nic vfio-pci || fail "iommud did not see $nic bind to vfio-pci"
agree viable
ok "both on vfio-pci: viable for iommud and the kernel"

bind_driver $nic ""
wait_for 20 driver_is $nic "(none)" || fail "iommud did not see $nic unbind"
agree viable
ok "virtio-net unbound: still viable for both"

restore_driver $nic
restore_driver $edu
wait_for 20 driver_is $nic virtio-pci || fail "iommud did not see $nic return to virtio-pci"
ok "restored; iommud followed"
