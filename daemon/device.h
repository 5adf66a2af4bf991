/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * device.h - what iommud knows about one assignable thing: a PCI function
 * or an mdev.  Plain data, filled in by the scanner (udev.c) and kept by
 * the registry; compared as a whole to tell whether a uevent changed
 * anything.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/pci-address.h"
#include "shared/uuid.h"

typedef enum DeviceKind {
        DEVICE_PCI,
        DEVICE_MDEV,
} DeviceKind;

#define DEVICE_NO_GROUP INT64_C(-1)

typedef struct Device {
        DeviceKind kind;
        char *name;             /* canonical PCI address or mdev UUID: the key */

        /* PCI */
        PciAddress address;
        uint16_t vendor_id, device_id, subsystem_vendor_id, subsystem_device_id;
        uint32_t class_code;    /* 24 bits: class, subclass, prog-if */
        char *vendor_name;      /* from the udev hwdb, or NULL */
        char *device_name;
        char *physfn;           /* an SR-IOV VF's PF, or NULL */
        int sriov_totalvfs;     /* -1 unless an SR-IOV PF */
        int sriov_numvfs;
        int numa_node;          /* -1: none or unknown */

        /* mdev */
        char *parent;           /* the parent device's name */
        char *mdev_type;        /* e.g. "mtty-2" */

        /* both */
        char *driver;           /* bound driver, NULL when unbound */
        char *driver_override;  /* NULL when unset */
        int64_t iommu_group;    /* DEVICE_NO_GROUP when none */
        char *vfio_cdev;        /* "vfio0" when the VFIO cdev exists */
        bool vfio_group_node;   /* /dev/vfio/<group> exists */

        /* The registry's bookkeeping, not state: device_equal() ignores it. */
        uint64_t scan_generation;
        char *json_text;        /* cached registry_device_json_text() */
} Device;

Device *device_new(DeviceKind kind, const char *name);
Device *device_free(Device *d);
void device_freep(Device **d);

/** device_equal() - the same name and the same state, field by field. */
bool device_equal(const Device *a, const Device *b);

/** device_blocks_group() - whether this member keeps its IOMMU group from
 * being handed to userspace, with a sentence saying why in @ret_reason
 * (static or NULL).  The kernel's rule: a group may go to userspace only
 * when no member is bound to a driver that uses the kernel's DMA API.
 * Unbound devices do not block, nor do drivers that manage DMA themselves
 * (driver_managed_dma in Linux 6.12): vfio-pci and its variant drivers
 * (named *_vfio_pci), pci-stub and pcieport.  mdevs never block: their
 * groups are emulated and their drivers are VFIO drivers.  A device with
 * no group has nothing to block. */
bool device_blocks_group(const Device *d, const char **ret_reason);

/** device_driver_manages_dma() - @driver claims no DMA API ownership. */
bool device_driver_manages_dma(const char *driver);

/** device_driver_is_vfio() - vfio-pci or a VFIO variant driver (named
 * *_vfio_pci: mlx5_vfio_pci, ...). */
bool device_driver_is_vfio(const char *driver);

/** device_is_bridge() - a PCI-to-PCI (class 0604) or semi-transparent
 * (0609) bridge, or a function on pcieport: never handed to vfio-pci,
 * which cannot drive bridges, and everything behind one hangs off it. */
bool device_is_bridge(const Device *d);

/** device_name_canonicalize() - a device name from a client: a PCI
 * address in any spelling pci_address_parse() takes, or an mdev UUID,
 * written canonical into @buf.  -EINVAL for anything else. */
int device_name_canonicalize(const char *s, char buf[static UUID_STRING_MAX]);

/** device_to_json() - the stable JSON form (see data/org.iommud.Manager.varlink). */
json_object *device_to_json(const Device *d, bool group_viable);

const char *device_kind_to_string(DeviceKind k);
