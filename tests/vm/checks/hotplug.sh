#!/bin/bash
# profiles: custom stock
# QMP from inside the guest: hot-add an edu into the empty root port rp2,
# see it appear with its own IOMMU group, hot-remove it, see it go.
. /usr/local/bin/vmtest-lib.sh
rp=/sys/bus/pci/devices/0000:00:07.0
bus=$(cat "$rp/secondary_bus_number" 2>/dev/null) || fail "rp2 has no secondary bus number"
bdf=$(printf '0000:%02x:00.0' "$bus")
[ ! -e "/sys/bus/pci/devices/$bdf" ] || fail "$bdf present before the hot-add"
qmp '{"execute":"device_add","arguments":{"driver":"edu","bus":"rp2","id":"hp-edu"}}' >/dev/null || fail "QMP device_add failed"
wait_for 10 test -e "/sys/bus/pci/devices/$bdf" || fail "$bdf did not appear after device_add"
ok "hot-added edu appeared at $bdf in IOMMU group $(group_of "$bdf")"
[ "$(cat "/sys/bus/pci/devices/$bdf/device")" = 0x11e8 ] || fail "$bdf is not an edu"
qmp '{"execute":"device_del","arguments":{"id":"hp-edu"}}' >/dev/null || fail "QMP device_del failed"
wait_for 10 test ! -e "/sys/bus/pci/devices/$bdf" || fail "$bdf still present after device_del"
ok "hot-removed, $bdf gone"
