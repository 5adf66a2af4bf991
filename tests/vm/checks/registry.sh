#!/bin/bash
# profiles: custom stock
# iommud as users run it (socket-activated systemd service) lists what the
# kernel has: compared field by field with sysfs read here, and with the
# checked-in expectation of the fixed device set.
. /usr/local/bin/vmtest-lib.sh

systemctl start iommud.socket || fail "cannot start iommud.socket"
iommuctl status >/dev/null || { journalctl -u iommud --no-pager | tail -20; fail "iommuctl status failed"; }
systemctl is-active --quiet iommud.service || fail "iommud.service did not start on the first connection"
ok "iommud.service socket-activated: $(systemctl show -p MainPID --value iommud.service)"

list=$(iommuctl --json list) || fail "iommuctl --json list failed"
n_sys=$(ls /sys/bus/pci/devices | wc -l)
n_list=$(jq '[.[] | select(.kind == "pci")] | length' <<<"$list")
[ "$n_sys" = "$n_list" ] || fail "sysfs has $n_sys PCI functions, iommud lists $n_list"
ok "iommud lists all $n_list PCI functions"

# What sysfs says, one line per function, read here with cat and readlink;
# then what iommud says, in the same form, in one jq pass (processes are
# slow under TCG).
for d in /sys/bus/pci/devices/*; do
	drv=$(readlink "$d/driver" 2>/dev/null) && drv=$(basename "$drv") || drv=null
	grp=$(readlink "$d/iommu_group" 2>/dev/null) && grp=$(basename "$grp") || grp=null
	# A cdev only when it is a character device (6.1 has the entry, no node).
	cdev=null; [ -e "$d/vfio-dev/$(ls "$d/vfio-dev" 2>/dev/null)/dev" ] && cdev="/dev/vfio/devices/$(ls "$d/vfio-dev")"
	v=$(cat "$d/vendor" "$d/device" "$d/class" | sed 's/^0x//' | tr '\n' ' ')
	echo "$(basename "$d") $v$drv $grp $cdev"
done > /tmp/sysfs-view
jq -r '.[] | select(.kind == "pci") | [.name, .vendorId, .deviceId, .classCode, (.driver // "null"),
	(.iommuGroup // "null" | tostring), (.vfioDevice // "null")] | join(" ")' <<<"$list" > /tmp/iommud-view
diff -u /tmp/sysfs-view /tmp/iommud-view || fail "iommud and sysfs disagree (- sysfs, + iommud)"
ok "vendor, device, class, driver, group and cdev agree with sysfs for every function"

# The checked-in expectation: ids, classes and who shares a group.
groups=$(iommuctl --json groups) || fail "iommuctl --json groups failed"
jq -r --argjson groups "$groups" '.[] | select(.kind == "pci") | . as $d
	| ($groups[] | select(.id == $d.iommuGroup) | [.devices[] | select(. != $d.name)] | join(" ")) as $peers
	| [$d.name, $d.vendorId, $d.deviceId, $d.classCode, $peers] | join(" ") | sub(" +$"; "")' <<<"$list" > /tmp/iommud-set
grep -v '^#' /usr/local/lib/iommud-vm-expected/devices > /tmp/expected-set
diff -u /tmp/expected-set /tmp/iommud-set || fail "the device set differs from tests/vm/expected/devices (- expected, + iommud)"
ok "the fixed device set matches tests/vm/expected/devices"

# Groups: members as the kernel has them.
for g in /sys/kernel/iommu_groups/*; do
	echo "$(basename "$g") $(ls "$g/devices" | sort | tr '\n' ' ' | sed 's/ $//')"
done | sort -n > /tmp/kernel-groups
jq -r '.[] | "\(.id) \(.devices | join(" "))"' <<<"$groups" | sort -n > /tmp/iommud-groups
diff -u /tmp/kernel-groups /tmp/iommud-groups || fail "groups differ (- kernel, + iommud)"
ok "every group's members agree with /sys/kernel/iommu_groups"

# No iommud.conf in the guest: the policy denies everything, and says so.
jq -e 'all(.[]; (.policyAllows | not) and (.policyReason | test("^no /etc/iommud/iommud.conf")))' <<<"$list" >/dev/null \
	|| fail "without iommud.conf every device must be refused with the reason"
ok "no iommud.conf: every device refused, with the reason"

# show and its errors.
iommuctl --json show 00:03.0 | jq -e '.name == "0000:00:03.0"' >/dev/null || fail "show with the short address form"
rc=0; iommuctl show 0000:00:1f.7 >/dev/null 2>&1 || rc=$?
[ $rc = 4 ] || fail "show of a missing device exited $rc, not 4"
rc=0; iommuctl show 0000:00:20.0 >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "show of a malformed address exited $rc, not 2"
rc=0; IOMMUD_SOCKET=/run/nowhere iommuctl list >/dev/null 2>&1 || rc=$?
[ $rc = 3 ] || fail "list with no daemon exited $rc, not 3"
ok "show: short form accepted; exit 4 for a missing device, 2 for a malformed address, 3 without a daemon"
