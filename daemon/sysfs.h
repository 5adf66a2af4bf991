/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysfs.h - all of iommud's sysfs access, relative to one directory fd.
 *
 * The root is /sys on a host and a fake tree in tests.  Every path is
 * resolved by openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_XDEV) beneath that root, so neither ".." nor a symlink
 * (relative or absolute) can lead outside it, and paths are only ever
 * built here, from names that were already parsed (PciAddress).  Where
 * openat2() answers ENOSYS (kernels before 5.6, seccomp filters that
 * predate it, such as the one udevd and the programs its rules run are
 * under on Debian 12) the same resolution is done component by component
 * with O_NOFOLLOW.
 *
 * Errors: -ENOENT when the attribute or link does not exist, -EINVAL for a
 * path this module refuses to build, -EFBIG for an attribute larger than a
 * page, other -errno from the kernel.
 */
#pragma once

#include <stdint.h>

#include "shared/pci-address.h"

typedef struct Sysfs Sysfs;

/** sysfs_new() - open @root ("/sys" on a host) as the root of all access. */
int sysfs_new(const char *root, Sysfs **ret);
Sysfs *sysfs_free(Sysfs *s);
void sysfs_freep(Sysfs **s);

/** sysfs_open_at() - open @path (relative, no "..") beneath the root. */
int sysfs_open_at(Sysfs *s, const char *path, int flags);

/** sysfs_read_attr() - an attribute's contents without its trailing newline. */
int sysfs_read_attr(Sysfs *s, const char *path, char **ret);

/** sysfs_read_link() - a symlink's target text, as readlink(2) gives it:
 * read, never followed, so it may name anything; callers parse it (e.g.
 * "../../devices/pci0000:00/0000:00:0a.0/virtio2/block/vda") and build
 * any further path themselves.  -ENOLINK if @path is not a symlink,
 * -ENAMETOOLONG if the target does not fit PATH_MAX. */
int sysfs_read_link(Sysfs *s, const char *path, char **ret);

/** sysfs_read_link_name() - the last component of a symlink's target. */
int sysfs_read_link_name(Sysfs *s, const char *path, char **ret);

/** sysfs_pci_iommu_group() - the device's IOMMU group; -ENOENT if none. */
int sysfs_pci_iommu_group(Sysfs *s, const PciAddress *a, uint32_t *ret);

/** sysfs_pci_driver() - the bound driver's name; -ENOENT if unbound. */
int sysfs_pci_driver(Sysfs *s, const PciAddress *a, char **ret);

/* A device's directory: "bus/pci/devices/<address>" or
 * "bus/mdev/devices/<uuid>".  @name must be canonical (as
 * pci_address_format() or uuid_canonicalize() make it): anything else is
 * -EINVAL before any filesystem access. */
typedef enum SysfsBus {
        SYSFS_BUS_PCI,
        SYSFS_BUS_MDEV,
} SysfsBus;

/** sysfs_device_read_attr() - an attribute of a device (see above). */
int sysfs_device_read_attr(Sysfs *s, SysfsBus bus, const char *name, const char *attr, char **ret);

/** sysfs_device_read_link_name() - the last component of a device's link. */
int sysfs_device_read_link_name(Sysfs *s, SysfsBus bus, const char *name, const char *link, char **ret);

/** sysfs_device_dir_entry() - the first entry in the device's subdirectory
 * @subdir whose name starts with @prefix ("vfio-dev", "vfio"); -ENOENT. */
int sysfs_device_dir_entry(Sysfs *s, SysfsBus bus, const char *name, const char *subdir,
                           const char *prefix, char **ret);

/** sysfs_exists() - whether @path exists beneath the root (0 or 1). */
int sysfs_exists(Sysfs *s, const char *path);

/** sysfs_name_is_valid() - a single path component the kernel could have
 * made: not empty, not "." or "..", no '/', printable, under NAME_MAX. */
int sysfs_name_is_valid(const char *name);

/** sysfs_list_dir() - the valid names in directory @path, sorted, as a
 * NULL-terminated array the caller frees with sysfs_strv_free(). */
int sysfs_list_dir(Sysfs *s, const char *path, char ***ret);
char **sysfs_strv_free(char **v);

/** sysfs_mdev_parent_name() - the name of the device an mdev was created
 * on: the directory its device directory sits in. */
int sysfs_mdev_parent_name(Sysfs *s, const char *uuid, char **ret);
