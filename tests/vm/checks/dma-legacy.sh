#!/bin/bash
# profiles: custom stock
# The legacy path: a type1 container and the group node, as Debian 12's
# own kernel offers it.  Same DMA proof as dma-iommufd.
. /usr/local/bin/vmtest-lib.sh
if [ ! -e /sys/bus/pci/drivers/vfio-pci ]; then
	modprobe vfio-pci || fail "cannot load vfio-pci"
fi
bdf=0000:00:03.0
bind_driver "$bdf" vfio-pci
dmesg -C
out=$(edu-dma legacy "$bdf") || { echo "$out"; fail "edu-dma legacy failed"; }
echo "$out"
iova=$(sed -n 's/^fault-iova: //p' <<<"$out")
wait_for 5 dmar_fault_logged "$bdf" "$iova" || { dmesg | tail -n 20; fail "no DMAR fault logged for $bdf at $iova"; }
ok "kernel logged: $(dmar_fault_logged "$bdf" "$iova" | head -n1)"
restore_driver "$bdf"
