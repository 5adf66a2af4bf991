#!/bin/bash
# profiles: custom stock
# A group is viable only when no member is left on a DMA-API host driver:
# the edu behind the bridge becomes usable once virtio-net is rebound.
. /usr/local/bin/vmtest-lib.sh
if [ ! -e /sys/bus/pci/drivers/vfio-pci ]; then
	modprobe vfio-pci || fail "cannot load vfio-pci"
fi
edu=0000:01:01.0 nic=0000:01:02.0
bind_driver "$edu" vfio-pci
[ "$(driver_of $nic)" = virtio-pci ] || fail "virtio-net should start on virtio-pci"
if out=$(edu-dma legacy "$edu" 2>&1); then fail "legacy open succeeded on a non-viable group"; fi
grep -q "not viable" <<<"$out" || fail "expected 'not viable', got: $out"
ok "group not viable while $nic is on virtio-pci"
bind_driver "$nic" vfio-pci
out=$(edu-dma legacy "$edu") || { echo "$out"; fail "edu-dma legacy on the shared group failed"; }
echo "$out"
# Faults on a conventional bridge carry the bridge's requester id.
restore_driver "$nic"
restore_driver "$edu"
[ "$(driver_of $nic)" = virtio-pci ] || fail "virtio-net did not return to virtio-pci"
ok "virtio-net back on virtio-pci"
