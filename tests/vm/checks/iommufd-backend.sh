#!/bin/bash
# profiles: custom
# The iommufd backend a lease will use (daemon/iommufd.c), on the real
# kernel: a device iommud prepared is bound to a fresh iommufd with
# per-process accounting and attached to an empty IOAS, and only then
# answers VFIO_DEVICE_GET_INFO; a device whose group still has a member on
# a host driver is refused at bind with EPERM and the reason.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0 edu2=0000:01:01.0 vnet=0000:01:02.0

use_config <<CONF
[Assignable]
Address=$edu
CONF
iommuctl prepare $edu >/dev/null || fail "prepare $edu failed"
out=$(iommufd-lease $edu) || { echo "$out"; fail "the backend could not bind $edu"; }
echo "$out"
grep -q "opened parked: GET_INFO refused" <<<"$out" || fail "the parked fd was not shown useless"
grep -q "answers GET_INFO" <<<"$out" || fail "the bound fd did not answer GET_INFO"
ok "$edu: iommufd with per-process accounting, parked fd, bind, IOAS, attach, GET_INFO"
iommuctl restore $edu >/dev/null || fail "restore $edu failed"

# edu2 on vfio-pci by hand while its peer stays on virtio-pci: the group
# is not viable, and the kernel refuses the bind.
[ "$(driver_of $vnet)" != vfio-pci ] || fail "$vnet is on vfio-pci already"
bind_driver $edu2 vfio-pci
rc=0; out=$(iommufd-lease $edu2) || rc=$?
echo "$out"
restore_driver $edu2
[ $rc = 1 ] || fail "binding $edu2 with its peer on $(driver_of $vnet) exited $rc, not 1"
grep -q "error: bind the device to iommufd: EPERM: another member of the IOMMU group is on a host driver" <<<"$out" \
	|| fail "not the EPERM refusal with its reason: $out"
ok "$edu2 with $vnet on $(driver_of $vnet): bind refused, EPERM, with the reason"

use_config </dev/null
