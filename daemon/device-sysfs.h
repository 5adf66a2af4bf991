/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * device-sysfs.h - a Device read from sysfs, through the /sys dirfd
 * (sysfs.h), with no libudev: what the scanner keeps in the registry, and
 * what iommud-reserve decides on before the daemon (or udev's database)
 * is there.
 *
 * Everything but the hwdb names (vendor_name, device_name), which the
 * scanner adds from the udev hwdb.
 */
#pragma once

#include "device.h"
#include "sysfs.h"

/** device_read_sysfs() - a Device for @name on @bus, read from sysfs.
 * @name must be canonical (a PCI address as pci_address_format() makes
 * it, an mdev UUID as uuid_canonicalize() does): anything else is -EINVAL
 * before any filesystem access.  -ENOENT when the device is gone (a PCI
 * function without its vendor attribute, an mdev without its type),
 * -EINVAL for an attribute the kernel would not write, -ENOMEM, other
 * -errno from sysfs. */
int device_read_sysfs(Sysfs *s, SysfsBus bus, const char *name, Device **ret);

/** device_set_driver_override() - write @driver to the driver_override
 * attribute of PCI function @name (canonical, as above), so that only
 * @driver matches it at its next probe.  The attribute is opened beneath
 * the sysfs root with no symlink followed at its end and is never
 * created; one write(2).  -EINVAL for a bad @name or @driver (not a
 * single printable name of at most 64 bytes), -ENOENT when the device or
 * the attribute is not there, other -errno from the kernel. */
int device_set_driver_override(Sysfs *s, const char *name, const char *driver);
