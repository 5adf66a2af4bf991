#!/bin/bash
# profiles: custom
# The mtty sample driver creates and removes an mdev with its own group.
. /usr/local/bin/vmtest-lib.sh
types=/sys/class/mdev_bus/mtty/mdev_supported_types
[ -d "$types" ] || fail "no mtty parent under /sys/class/mdev_bus"
t=$(ls "$types" | head -n1)
before=$(cat "$types/$t/available_instances")
uuid=3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d01
echo "$uuid" > "$types/$t/create"
d=/sys/bus/mdev/devices/$uuid
[ -d "$d" ] || fail "mdev $uuid not created"
ok "mdev $uuid of type $t created"
[ "$(cat "$types/$t/available_instances")" -lt "$before" ] || fail "available_instances did not drop"
g=$(basename "$(readlink "$d/iommu_group")")
ok "mdev in IOMMU group $g, with $(ls /sys/kernel/iommu_groups/$g/devices | wc -l) member(s)"
wait_for 5 test -d "$d/vfio-dev" || fail "mdev has no VFIO cdev"
ok "mdev cdev /dev/vfio/devices/$(ls "$d/vfio-dev")"
echo 1 > "$d/remove"
[ ! -e "$d" ] || fail "mdev $uuid still present after remove"
[ "$(cat "$types/$t/available_instances")" = "$before" ] || fail "available_instances not restored"
ok "mdev removed, available_instances back to $before"
