#!/bin/bash
# profiles: custom stock
# The fixed device set makes the IOMMU groups tests rely on.
. /usr/local/bin/vmtest-lib.sh

members() { ls "/sys/kernel/iommu_groups/$1/devices" | sort | tr '\n' ' ' | sed 's/ $//'; }

[ -d /sys/kernel/iommu_groups ] && [ -n "$(ls /sys/kernel/iommu_groups)" ] || fail "no IOMMU groups: is the IOMMU on?"
g=$(group_of 0000:00:03.0)
[ "$(members "$g")" = "0000:00:03.0" ] || fail "edu 00:03.0 is not alone in group $g: $(members "$g")"
ok "edu 0000:00:03.0 alone in group $g"
g=$(group_of 0000:00:04.0)
[ "$(members "$g")" = "0000:00:04.0" ] || fail "e1000e 00:04.0 is not alone in group $g: $(members "$g")"
ok "e1000e 0000:00:04.0 alone in group $g"
g=$(group_of 0000:01:01.0)
want="0000:00:05.0 0000:01:01.0 0000:01:02.0"
[ "$(members "$g")" = "$want" ] || fail "bridge group $g is '$(members "$g")', expected '$want'"
[ "$(group_of 0000:01:02.0)" = "$g" ] || fail "virtio-net is not in the bridge's group"
ok "bridge group $g: $want"
# The kernel's host drivers own the shared group's NIC and the e1000e.
[ "$(driver_of 0000:01:02.0)" = virtio-pci ] || fail "virtio-net 01:02.0 driver is $(driver_of 0000:01:02.0)"
ok "virtio-net 0000:01:02.0 on its host driver virtio-pci"
# Debian's cloud kernel has no e1000e driver; ours builds it in.
if [ "$(uname -r | grep -c cloud)" = 0 ]; then
	[ "$(driver_of 0000:00:04.0)" = e1000e ] || fail "e1000e 00:04.0 driver is $(driver_of 0000:00:04.0)"
	ok "e1000e 0000:00:04.0 on its host driver e1000e"
fi
igb=$(grep -l 0x10c9 /sys/bus/pci/devices/*/device | head -n1 || true)
[ -n "$igb" ] || fail "no igb (8086:10c9) SR-IOV PF"
ok "igb SR-IOV PF at $(basename "$(dirname "$igb")"), sriov_totalvfs $(cat "$(dirname "$igb")/sriov_totalvfs" 2>/dev/null || echo '?')"
for g in /sys/kernel/iommu_groups/*; do echo "  group $(basename "$g"): $(members "$(basename "$g")")"; done
