/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bus-path.h - D-Bus object paths of iommud's objects, and back.  Plain
 * string work, no sd-bus: the D-Bus face and the tests use it.
 *
 *   /org/iommud1                          the manager
 *   /org/iommud1/device/pci_0000_03_00_0  PCI function 0000:03:00.0
 *   /org/iommud1/device/mdev_83b8f4f2_509f_382f_3c1e_e6bfe0fa1001
 *   /org/iommud1/group/7                  IOMMU group 7
 *   /org/iommud1/lease/3f2a9c0d5e6b7a18   a lease
 *
 * Readable and reversible: a device path is built from the canonical
 * name only, and a path is accepted back only when it decodes to a
 * canonical name that encodes to exactly that path.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define BUS_PATH_MANAGER "/org/iommud1"
#define BUS_PATH_DEVICES "/org/iommud1/device"
#define BUS_PATH_GROUPS "/org/iommud1/group"
#define BUS_PATH_LEASES "/org/iommud1/lease"
#define BUS_PATH_MAX 96

/** bus_device_path() - the path of device @name (a canonical PCI address
 * or mdev UUID).  -EINVAL for anything else. */
int bus_device_path(const char *name, char buf[static BUS_PATH_MAX]);

/** bus_device_from_path() - the canonical device name of @path, which
 * must be a device path as bus_device_path() makes them.  -EINVAL. */
int bus_device_from_path(const char *path, char *buf, size_t size);

/** bus_group_path() / bus_group_from_path() - /org/iommud1/group/N, N
 * decimal without leading zeros.  -EINVAL. */
void bus_group_path(uint32_t id, char buf[static BUS_PATH_MAX]);
int bus_group_from_path(const char *path, uint32_t *ret);

/** bus_lease_path() / bus_lease_from_path() - the lease's 16 hex digits. */
int bus_lease_path(const char *id, char buf[static BUS_PATH_MAX]);
int bus_lease_from_path(const char *path, char *buf, size_t size);
