/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysfs.h - all of iommud's sysfs access, relative to one directory fd.
 *
 * The root is /sys on a host and a fake tree in tests.  Every path is
 * resolved by openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_XDEV) beneath that root, so neither ".." nor a symlink
 * (relative or absolute) can lead outside it, and paths are only ever
 * built here, from names that were already parsed (PciAddress).
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

/** sysfs_read_link_name() - the last component of a symlink's target. */
int sysfs_read_link_name(Sysfs *s, const char *path, char **ret);

/** sysfs_pci_iommu_group() - the device's IOMMU group; -ENOENT if none. */
int sysfs_pci_iommu_group(Sysfs *s, const PciAddress *a, uint32_t *ret);

/** sysfs_pci_driver() - the bound driver's name; -ENOENT if unbound. */
int sysfs_pci_driver(Sysfs *s, const PciAddress *a, char **ret);
