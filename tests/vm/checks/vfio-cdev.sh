#!/bin/bash
# profiles: custom
# Binding through driver_override gives the iommufd and VFIO cdev nodes.
. /usr/local/bin/vmtest-lib.sh
bdf=0000:00:03.0
bind_driver "$bdf" vfio-pci
ok "$bdf bound to vfio-pci through driver_override"
[ -c /dev/iommu ] || fail "/dev/iommu missing"
ok "/dev/iommu is a character device"
wait_for 5 test -d "$(dev_dir $bdf)/vfio-dev" || fail "no vfio-dev in sysfs for $bdf"
cdev=$(ls "$(dev_dir $bdf)/vfio-dev")
wait_for 5 test -c "/dev/vfio/devices/$cdev" || fail "/dev/vfio/devices/$cdev missing"
ok "cdev /dev/vfio/devices/$cdev ($(cat "$(dev_dir $bdf)/vfio-dev/$cdev/dev"))"
g=$(group_of $bdf)
wait_for 5 test -c "/dev/vfio/$g" || fail "/dev/vfio/$g missing"
ok "group node /dev/vfio/$g"
restore_driver "$bdf"
[ ! -e "/dev/vfio/devices/$cdev" ] || wait_for 5 test ! -e "/dev/vfio/devices/$cdev" || fail "cdev stayed after unbind"
ok "unbound again, cdev gone"
