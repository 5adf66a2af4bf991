/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device-sysfs.h"
#include "shared/macro.h"
#include "shared/uuid.h"
#include "sriov.h"

/* Attributes are read through the /sys dirfd (sysfs.c), never through
 * libudev: libudev refuses trees that are not sysfs, which would keep the
 * benchmark's synthetic host out, and reading ourselves keeps every path
 * built from a name validated here. */
static int read_hex(Sysfs *s, SysfsBus bus, const char *name, const char *attr, uint32_t max, uint32_t *ret) {
        _cleanup_free_ char *v = NULL;
        char *end;
        unsigned long x;
        int r;

        r = sysfs_device_read_attr(s, bus, name, attr, &v);
        if (r < 0)
                return r;
        errno = 0;
        x = strtoul(v, &end, 16);
        if (errno || end == v || *end || x > max)
                return -EINVAL;
        *ret = (uint32_t) x;
        return 0;
}

static int read_int(Sysfs *s, SysfsBus bus, const char *name, const char *attr, int *ret) {
        _cleanup_free_ char *v = NULL;
        char *end;
        long x;
        int r;

        r = sysfs_device_read_attr(s, bus, name, attr, &v);
        if (r < 0)
                return r;
        errno = 0;
        x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < -1 || x > INT32_MAX)
                return -EINVAL;
        *ret = (int) x;
        return 0;
}

static int read_common(Sysfs *s, SysfsBus bus, Device *d) {
        _cleanup_free_ char *group = NULL, *ovr = NULL;
        char path[320];
        int r;

        r = sysfs_device_read_link_name(s, bus, d->name, "driver", &d->driver);
        if (r < 0 && r != -ENOENT)
                return r;
        r = sysfs_device_read_link_name(s, bus, d->name, "iommu_group", &group);
        if (r >= 0) {
                char *end;
                unsigned long g;
                errno = 0;
                g = strtoul(group, &end, 10);
                if (errno || *end || end == group || g > UINT32_MAX)
                        return -EINVAL;
                d->iommu_group = (int64_t) g;
                snprintf(path, sizeof(path), "class/vfio/%lu", g);
                d->vfio_group_node = sysfs_exists(s, path) > 0;
        } else if (r != -ENOENT)
                return r;
        r = sysfs_device_dir_entry(s, bus, d->name, "vfio-dev", "vfio", &d->vfio_cdev);
        if (r < 0 && r != -ENOENT)
                return r;
        if (d->vfio_cdev) {
                /* A cdev only when it is a character device: Linux 6.1 has
                 * the vfio-dev class entry but no node (no "dev"). */
                snprintf(path, sizeof(path), "class/vfio-dev/%s/dev", d->vfio_cdev);
                if (sysfs_exists(s, path) <= 0) {
                        free(d->vfio_cdev);
                        d->vfio_cdev = NULL;
                }
        }
        r = sysfs_device_read_attr(s, bus, d->name, "driver_override", &ovr);
        if (r >= 0 && strcmp(ovr, "(null)") != 0 && *ovr)
                d->driver_override = TAKE_PTR(ovr);
        return 0;
}

static int read_pci(Sysfs *s, Device *d) {
        _cleanup_free_ char *physfn = NULL;
        char canon[PCI_ADDRESS_STRING_MAX];
        uint32_t v;
        int r;

        (void) pci_address_parse(d->name, &d->address);
        /* vendor is always there: its absence means the device is gone. */
        r = read_hex(s, SYSFS_BUS_PCI, d->name, "vendor", 0xffff, &v);
        if (r < 0)
                return r;
        d->vendor_id = (uint16_t) v;
        if (read_hex(s, SYSFS_BUS_PCI, d->name, "device", 0xffff, &v) >= 0)
                d->device_id = (uint16_t) v;
        if (read_hex(s, SYSFS_BUS_PCI, d->name, "subsystem_vendor", 0xffff, &v) >= 0)
                d->subsystem_vendor_id = (uint16_t) v;
        if (read_hex(s, SYSFS_BUS_PCI, d->name, "subsystem_device", 0xffff, &v) >= 0)
                d->subsystem_device_id = (uint16_t) v;
        if (read_hex(s, SYSFS_BUS_PCI, d->name, "class", 0xffffff, &v) >= 0)
                d->class_code = v;
        if (read_int(s, SYSFS_BUS_PCI, d->name, "sriov_totalvfs", &d->sriov_totalvfs) >= 0) {
                /* The VFs there are, by their virtfnN links: reading
                 * sriov_numvfs would wait for a numvfs write in progress
                 * (sriov.h), and this runs on the event loop. */
                size_t n = 0;
                r = sriov_count_vfs(s, d->name, &n);
                if (r == -ENOMEM)
                        return r;
                d->sriov_numvfs = r < 0 ? -1 : (int) n;
        } else
                d->sriov_totalvfs = -1;
        if (read_int(s, SYSFS_BUS_PCI, d->name, "numa_node", &d->numa_node) < 0)
                d->numa_node = -1;
        if (sysfs_device_read_link_name(s, SYSFS_BUS_PCI, d->name, "physfn", &physfn) >= 0 &&
            pci_address_canonicalize(physfn, canon) >= 0) {
                d->physfn = strdup(canon);
                if (!d->physfn)
                        return -ENOMEM;
        }
        return 0;
}

static int read_mdev(Sysfs *s, Device *d) {
        int r;

        r = sysfs_device_read_link_name(s, SYSFS_BUS_MDEV, d->name, "mdev_type", &d->mdev_type);
        if (r < 0)
                return r;
        r = sysfs_mdev_parent_name(s, d->name, &d->parent);
        if (r < 0 && r != -ENOENT)
                return r;
        return 0;
}

int device_read_sysfs(Sysfs *s, SysfsBus bus, const char *name, Device **ret) {
        _cleanup_(device_freep) Device *d = NULL;
        char canon[UUID_STRING_MAX];
        int r;

        r = bus == SYSFS_BUS_PCI ? pci_address_canonicalize(name, canon) : uuid_canonicalize(name, canon);
        if (r < 0 || strcmp(canon, name) != 0)
                return -EINVAL;
        d = device_new(bus == SYSFS_BUS_PCI ? DEVICE_PCI : DEVICE_MDEV, canon);
        if (!d)
                return -ENOMEM;
        r = bus == SYSFS_BUS_PCI ? read_pci(s, d) : read_mdev(s, d);
        if (r < 0)
                return r;
        r = read_common(s, bus, d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

/* The kernel's limit for a driver name in driver_override is a page; ours
 * are the names of real drivers. */
#define DRIVER_NAME_MAX 64

int device_set_driver_override(Sysfs *s, const char *name, const char *driver) {
        _cleanup_close_ int fd = -EBADF;
        char canon[PCI_ADDRESS_STRING_MAX], path[64];
        size_t n;
        ssize_t k;

        if (pci_address_canonicalize(name, canon) < 0 || strcmp(canon, name) != 0)
                return -EINVAL;
        if (!sysfs_name_is_valid(driver) || (n = strlen(driver)) > DRIVER_NAME_MAX)
                return -EINVAL;
        snprintf(path, sizeof(path), "bus/pci/devices/%s/driver_override", canon);
        /* O_TRUNC: sysfs ignores it; a test's plain file must not keep a
         * longer old value's tail. */
        fd = sysfs_open_at(s, path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return fd;
        k = write(fd, driver, n);
        if (k < 0)
                return -errno;
        return (size_t) k == n ? 0 : -EIO;
}
