#!/bin/bash
# profiles: custom
# An mtty mdev appears in iommud with its parent, type and group, and goes.
. /usr/local/bin/vmtest-lib.sh
systemctl start iommud.socket
types=/sys/class/mdev_bus/mtty/mdev_supported_types
iommuctl --json mdev-types | jq -e '.[] | select(.parent == "mtty") | .types | map(.id) | index("mtty-2")' >/dev/null \
	|| fail "mdev-types does not list mtty-2"
before=$(iommuctl --json mdev-types | jq '.[] | select(.parent == "mtty") | .types[] | select(.id == "mtty-2") | .availableInstances')
uuid=6b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d02
echo $uuid > $types/mtty-2/create
wait_for 10 iommuctl show $uuid || fail "iommud did not see mdev $uuid"
got=$(iommuctl --json show $uuid | jq -r '[.kind, .parent, .mdevType, (.iommuGroup | tostring)] | join(" ")')
want="mdev mtty mtty-2 $(basename "$(readlink /sys/bus/mdev/devices/$uuid/iommu_group)")"
[ "$got" = "$want" ] || fail "mdev: iommud '$got', sysfs '$want'"
after=$(iommuctl --json mdev-types | jq '.[] | select(.parent == "mtty") | .types[] | select(.id == "mtty-2") | .availableInstances')
[ "$after" -lt "$before" ] || fail "availableInstances $before -> $after"
ok "mdev $uuid listed: $got; available $before -> $after"
echo 1 > /sys/bus/mdev/devices/$uuid/remove
wait_for 10 sh -c "! iommuctl show $uuid" || fail "mdev still listed after remove"
ok "mdev removed from the registry"
