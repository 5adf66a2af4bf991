#!/bin/bash
# profiles: custom
# edu DMA through iommufd: bytes verified, an unmapped IOVA blocked and
# reported by the IOMMU as a DMAR fault for the edu's requester id.
. /usr/local/bin/vmtest-lib.sh
bdf=0000:00:03.0
bind_driver "$bdf" vfio-pci
dmesg -C
out=$(edu-dma iommufd "$bdf") || { echo "$out"; fail "edu-dma iommufd failed"; }
echo "$out"
iova=$(sed -n 's/^fault-iova: //p' <<<"$out")
wait_for 5 dmar_fault_logged "$bdf" "$iova" || { dmesg | tail -n 20; fail "no DMAR fault logged for $bdf at $iova"; }
ok "kernel logged: $(dmar_fault_logged "$bdf" "$iova" | head -n1)"
restore_driver "$bdf"
