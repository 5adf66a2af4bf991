#!/bin/bash
# profiles: custom stock
# The legacy path: a type1 container and the group node, as Debian 12's
# own kernel offers it.  Same DMA proof as dma-iommufd.
. /usr/local/bin/vmtest-lib.sh
if [ ! -e /sys/bus/pci/drivers/vfio-pci ]; then
	modprobe vfio-pci || fail "cannot load vfio-pci"
fi
edu_dma_check legacy 0000:00:03.0
