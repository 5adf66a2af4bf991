/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "shared/macro.h"

Device *device_new(DeviceKind kind, const char *name) {
        Device *d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        d->name = strdup(name);
        if (!d->name)
                return device_free(d);
        d->kind = kind;
        d->iommu_group = DEVICE_NO_GROUP;
        d->sriov_totalvfs = -1;
        d->sriov_numvfs = -1;
        d->numa_node = -1;
        return d;
}

Device *device_free(Device *d) {
        if (!d)
                return NULL;
        free(d->name);
        free(d->vendor_name);
        free(d->device_name);
        free(d->physfn);
        free(d->parent);
        free(d->mdev_type);
        free(d->driver);
        free(d->driver_override);
        free(d->vfio_cdev);
        free(d->json_text);
        free(d);
        return NULL;
}

void device_freep(Device **d) {
        device_free(*d);
}

static bool streq_ptr(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool device_equal(const Device *a, const Device *b) {
        return a->kind == b->kind &&
               streq_ptr(a->name, b->name) &&
               a->vendor_id == b->vendor_id && a->device_id == b->device_id &&
               a->subsystem_vendor_id == b->subsystem_vendor_id &&
               a->subsystem_device_id == b->subsystem_device_id &&
               a->class_code == b->class_code &&
               streq_ptr(a->vendor_name, b->vendor_name) &&
               streq_ptr(a->device_name, b->device_name) &&
               streq_ptr(a->physfn, b->physfn) &&
               a->sriov_totalvfs == b->sriov_totalvfs &&
               a->sriov_numvfs == b->sriov_numvfs &&
               a->numa_node == b->numa_node &&
               streq_ptr(a->parent, b->parent) &&
               streq_ptr(a->mdev_type, b->mdev_type) &&
               streq_ptr(a->driver, b->driver) &&
               streq_ptr(a->driver_override, b->driver_override) &&
               a->iommu_group == b->iommu_group &&
               streq_ptr(a->vfio_cdev, b->vfio_cdev) &&
               a->vfio_group_node == b->vfio_group_node;
}

bool device_driver_is_vfio(const char *driver) {
        static const char suffix[] = "_vfio_pci";
        size_t n;

        if (!driver)
                return false;
        if (strcmp(driver, "vfio-pci") == 0)
                return true;
        n = strlen(driver);
        return n > sizeof(suffix) - 1 && strcmp(driver + n - (sizeof(suffix) - 1), suffix) == 0;
}

bool device_driver_manages_dma(const char *driver) {
        return !driver || device_driver_is_vfio(driver) || strcmp(driver, "pci-stub") == 0 ||
               strcmp(driver, "pcieport") == 0;
}

bool device_is_bridge(const Device *d) {
        uint32_t sub = d->class_code >> 8;
        return sub == 0x0604 || sub == 0x0609 || (d->driver && strcmp(d->driver, "pcieport") == 0);
}

bool device_blocks_group(const Device *d, const char **ret_reason) {
        const char *reason = NULL;

        if (d->kind == DEVICE_PCI && d->iommu_group >= 0 && d->driver && !device_driver_manages_dma(d->driver))
                reason = "bound to a host driver that uses the kernel's DMA API";
        if (ret_reason)
                *ret_reason = reason;
        return reason != NULL;
}

const char *device_kind_to_string(DeviceKind k) {
        return k == DEVICE_MDEV ? "mdev" : "pci";
}

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static json_object *hex(unsigned v, int digits) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%0*x", digits, v);
        return json_object_new_string(buf);
}

json_object *device_to_json(const Device *d, bool group_viable) {
        json_object *o = json_object_new_object();
        const char *reason;
        char node[64];

        if (!o)
                return NULL;
        json_object_object_add(o, "kind", json_object_new_string(device_kind_to_string(d->kind)));
        json_object_object_add(o, "name", json_object_new_string(d->name));
        if (d->kind == DEVICE_PCI) {
                json_object_object_add(o, "vendorId", hex(d->vendor_id, 4));
                json_object_object_add(o, "deviceId", hex(d->device_id, 4));
                json_object_object_add(o, "subsystemVendorId", hex(d->subsystem_vendor_id, 4));
                json_object_object_add(o, "subsystemDeviceId", hex(d->subsystem_device_id, 4));
                json_object_object_add(o, "classCode", hex(d->class_code, 6));
                json_object_object_add(o, "vendorName", str_or_null(d->vendor_name));
                json_object_object_add(o, "deviceName", str_or_null(d->device_name));
                json_object_object_add(o, "physfn", str_or_null(d->physfn));
                if (d->sriov_totalvfs >= 0) {
                        json_object_object_add(o, "sriovTotalVfs", json_object_new_int(d->sriov_totalvfs));
                        json_object_object_add(o, "sriovNumVfs", json_object_new_int(d->sriov_numvfs));
                }
                json_object_object_add(o, "numaNode", d->numa_node >= 0 ? json_object_new_int(d->numa_node) : NULL);
        } else {
                json_object_object_add(o, "parent", str_or_null(d->parent));
                json_object_object_add(o, "mdevType", str_or_null(d->mdev_type));
        }
        json_object_object_add(o, "driver", str_or_null(d->driver));
        json_object_object_add(o, "driverOverride", str_or_null(d->driver_override));
        json_object_object_add(o, "iommuGroup",
                               d->iommu_group >= 0 ? json_object_new_int64(d->iommu_group) : NULL);
        if (d->vfio_cdev)
                snprintf(node, sizeof(node), "/dev/vfio/devices/%s", d->vfio_cdev);
        json_object_object_add(o, "vfioDevice", d->vfio_cdev ? json_object_new_string(node) : NULL);
        if (d->vfio_group_node && d->iommu_group >= 0)
                snprintf(node, sizeof(node), "/dev/vfio/%" PRId64, d->iommu_group);
        json_object_object_add(o, "vfioGroupNode",
                               d->vfio_group_node && d->iommu_group >= 0 ? json_object_new_string(node) : NULL);
        json_object_object_add(o, "blocksGroup", json_object_new_boolean(device_blocks_group(d, &reason)));
        json_object_object_add(o, "blockReason", str_or_null(reason));
        json_object_object_add(o, "assignable", json_object_new_boolean(d->iommu_group >= 0 && group_viable));
        return o;
}

int device_name_canonicalize(const char *s, char buf[static UUID_STRING_MAX]) {
        if (!s)
                return -EINVAL;
        if (pci_address_canonicalize(s, buf) >= 0)
                return 0;
        return uuid_canonicalize(s, buf);
}
