#!/bin/bash
# profiles: custom stock
# The legacy backend a lease will use (daemon/vfio-legacy.c), on the real
# kernel, with and without iommufd: root opens container, group and
# device for an edu iommud prepared and hands them to uid 1000, which
# cannot open the nodes itself but runs the DMA test through them; a
# second open of the group node is EBUSY; root's unmap-all cuts uid
# 1000's DMA (the kernel logs the fault).  Access mode: an ACL entry lets
# uid 1000 open the group node itself, and revoking takes exactly that
# entry away (fds it holds stay valid).  A group with a member on a host
# driver is refused as not viable.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0 edu2=0000:01:01.0 vnet=0000:01:02.0
if [ ! -e /sys/bus/pci/drivers/vfio-pci ]; then
	modprobe vfio-pci || fail "cannot load vfio-pci"
fi

use_config <<CONF
[Assignable]
Address=$edu
CONF
iommuctl prepare $edu >/dev/null || fail "prepare $edu failed"
g=$(group_of $edu)
ok "$(uname -r): /dev/vfio/vfio $(stat -c '%a %U:%G' /dev/vfio/vfio), /dev/vfio/$g $(stat -c '%a %U:%G' /dev/vfio/$g)"

dmesg -C
out=$(legacy-lease pass $edu) || { echo "$out"; fail "the backend could not hand $edu to uid 1000"; }
echo "$out"
grep -q "^uid 1000: open /dev/vfio/$g: EACCES" <<<"$out" || fail "uid 1000 could open /dev/vfio/$g itself"
grep -q "^second open: open the group node: EBUSY: the group node is already open elsewhere" <<<"$out" \
	|| fail "a second open of the group was not EBUSY with the reason"
grep -q "DMA round trip" <<<"$out" || fail "no DMA round trip by uid 1000"
grep -q "after root's unmap-all, DMA to IOVA .* was blocked" <<<"$out" || fail "the unmap-all did not cut the DMA"
iova=$(sed -n 's/^cut-iova: //p' <<<"$out")
wait_for 5 dmar_fault_logged $edu "$iova" || { dmesg | tail -n 20; fail "no DMAR fault logged for $edu at $iova"; }
ok "after the cut the kernel logged: $(dmar_fault_logged $edu "$iova" | head -n1)"

# Access mode: the VMM opens the nodes itself, through an ACL entry.
out=$(legacy-lease acl $edu) || { echo "$out"; fail "access mode failed"; }
echo "$out"
grep -q "^uid 1000 before the grant: open /dev/vfio/$g: EACCES" <<<"$out" || fail "uid 1000 could open the node before the grant"
acls=$(grep "^acl /dev/vfio/$g " <<<"$out")
[ "$(wc -l <<<"$acls")" = 3 ] || fail "expected 3 ACL readings: $acls"
sed -n 2p <<<"$acls" | grep -q " user:1000:rw- " || fail "the grant left no user:1000:rw- entry"
sed -n 3p <<<"$acls" | grep -q "user:1000" && fail "the revoke left the entry"
[ "$(sed -n 1p <<<"$acls")" = "$(sed -n 3p <<<"$acls")" ] || fail "the node is not as it was after the revoke: $acls"
grep -q "^ok: uid 1000 opened the container, group $g and device itself" <<<"$out" || fail "uid 1000 did not open the nodes"
grep -q "fds it holds still work" <<<"$out" || fail "the held fds stopped working"
grep -q "^uid 1000 after the revoke, fds closed: open /dev/vfio/$g: EACCES" <<<"$out" || fail "uid 1000 could open the node after the revoke"
ok "ACL on devtmpfs: grant, open and DMA as uid 1000, revoke (held fds stay valid, new opens EACCES)"

# Each call out of order: the errnos the kernel gives, as the reasons
# name them.
out=$(legacy-lease refusals $edu $edu2) || { echo "$out"; fail "refusals run failed"; }
echo "$out"
while IFS='|' read -r what errno; do
	grep -q "^refusal: $what: .*: $errno: " <<<"$out" || fail "$what: not $errno"
done <<'LIST'
type1v2 on an empty container|EINVAL
unmap-all on an empty container|EINVAL
device before the group is in a container|EINVAL
the same container twice|EINVAL
device before the IOMMU is set|EINVAL
unmap-all before the IOMMU is set|EINVAL
type1v2 a second time|EINVAL
a device of another group|ENODEV
unmap-all with nothing mapped|none
LIST
# EBADFD since iommufd (6.2); Debian 12's 6.1 says EINVAL.
grep -qE "^refusal: /dev/null as the container: .*: (EBADFD|EINVAL): .*not a VFIO container" <<<"$out" \
	|| fail "/dev/null as the container: not EBADFD/EINVAL"
ok "calls out of order refused with the errnos the reasons name"
iommuctl restore $edu >/dev/null || fail "restore $edu failed"

# edu2 on vfio-pci by hand while its peer stays on virtio-pci: the group
# node exists but the group is not viable.
[ "$(driver_of $vnet)" != vfio-pci ] || fail "$vnet is on vfio-pci already"
bind_driver $edu2 vfio-pci
rc=0; out=$(legacy-lease open $edu2) || rc=$?
echo "$out"
raw=$(legacy-lease set-container-raw $edu2) || true
echo "$raw"
restore_driver $edu2
[ $rc = 1 ] || fail "opening $edu2's group with its peer on $(driver_of $vnet) exited $rc, not 1"
grep -q "^error: check the group is viable: EADDRNOTAVAIL: the group is not viable: a member is on a host driver" <<<"$out" \
	|| fail "not the not-viable refusal with its reason: $out"
grep -q "^refusal: a group that is not viable: put the group in the container: EPERM: " <<<"$raw" \
	|| fail "the kernel did not refuse SET_CONTAINER with EPERM: $raw"
ok "$edu2 with $vnet on $(driver_of $vnet): group refused as not viable, with the reason (the kernel's SET_CONTAINER: EPERM)"

use_config </dev/null
