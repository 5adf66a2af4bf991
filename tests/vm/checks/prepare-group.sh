#!/bin/bash
# profiles: custom
# A group behind a PCI bridge (edu 01:01.0 and virtio-net 01:02.0) is
# prepared as a whole and restored as a whole; the bridge is never
# touched; a peer the policy does not allow stops the whole prepare.
. /usr/local/bin/vmtest-lib.sh
edu=0000:01:01.0 vnet=0000:01:02.0 bridge=0000:00:05.0
g=$(group_of $edu)
[ "$(group_of $vnet)" = "$g" ] || fail "$vnet is not in $edu's group $g"
vnet_drv=$(driver_of $vnet)
bridge_drv=$(driver_of $bridge)

# Only edu allowed: preparing it would take virtio-net from the host too.
use_config <<CONF
[Assignable]
Address=$edu
CONF
before=$(pci_snapshot)
expect_rc 5 iommuctl prepare $edu
grep -q "$vnet" <<<"$err_out" || fail "the refusal does not name the peer $vnet: $err_out"
[ "$(pci_snapshot)" = "$before" ] || fail "a refused prepare changed sysfs"
ok "refused, nothing changed: $(head -n1 <<<"$err_out")"

use_config <<CONF
[Assignable]
Address=$edu
Id=1af4:1000
CONF
out=$(iommuctl --json prepare --group $g) || fail "prepare --group $g failed: $out"
[ "$(driver_of $edu)" = vfio-pci ] && [ "$(driver_of $vnet)" = vfio-pci ] \
	|| fail "after prepare: edu on $(driver_of $edu), virtio-net on $(driver_of $vnet)"
[ "$(driver_of $bridge)" = "$bridge_drv" ] || fail "the bridge moved to $(driver_of $bridge)"
jq -e --arg b $bridge '[.devices[] | select(.name == $b)] | length == 0 or .[0].action == "bridge"' <<<"$out" >/dev/null \
	|| fail "the report does not leave the bridge alone: $out"
jq -e '[.devices[] | select(.action == "rebound")] | length == 2' <<<"$out" >/dev/null || fail "expected 2 rebound: $out"
wait_for 5 sh -c "iommuctl --json group $g | jq -e '.viable'" || fail "group $g is not viable after prepare"
ok "group $g prepared as a whole: edu and virtio-net on vfio-pci, bridge on ${bridge_drv}, group viable"

out=$(iommuctl --json restore --group $g) || fail "restore --group $g failed: $out"
[ "$(driver_of $edu)" = "(none)" ] || fail "edu should be unbound again, is on $(driver_of $edu)"
[ "$(driver_of $vnet)" = "$vnet_drv" ] || fail "virtio-net should be on $vnet_drv, is on $(driver_of $vnet)"
[ -z "$(ls -A /run/iommud/prepared 2>/dev/null)" ] || fail "records left: $(ls /run/iommud/prepared)"
ok "group $g restored as a whole: edu unbound, virtio-net on $vnet_drv again, no records left"

# Preparing edu alone moves its blocking peer with it.
out=$(iommuctl prepare $edu) || fail "prepare $edu failed: $out"
[ "$(driver_of $vnet)" = vfio-pci ] || fail "the blocking peer stayed on $(driver_of $vnet)"
iommuctl restore --group $g >/dev/null || fail "restore failed"
[ "$(driver_of $vnet)" = "$vnet_drv" ] || fail "virtio-net not restored"
ok "preparing edu alone moved the blocking peer virtio-net too; restored"

use_config </dev/null
