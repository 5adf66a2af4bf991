/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdev.h - mediated devices: the parents that can create them and the
 * types they offer, read live from sysfs (available_instances changes
 * with every mdev created or removed).
 */
#pragma once

#include <json-c/json.h>

#include "shared/uuid.h"
#include "sysfs.h"

/** mdev_list_types() - [{parent, types: [{id, name, description,
 * deviceApi, availableInstances}]}], parents and types sorted by name.
 * A host without mdev support gives an empty array. */
int mdev_list_types(Sysfs *s, json_object **ret);

/** mdev_type_find() - the sysfs directory ("class/mdev_bus/PARENT/
 * mdev_supported_types/TYPE", relative to the root) of type @type of
 * parent @parent.  Both names are looked up among what sysfs lists, never
 * used as given.  -ENODEV: no such parent (or no mdev support);
 * -ENOENT: the parent offers no such type; -ENOMEM. */
int mdev_type_find(Sysfs *s, const char *parent, const char *type, char **ret_dir);

/** mdev_type_available() - the type's available_instances (0 or more). */
int mdev_type_available(Sysfs *s, const char *type_dir, long *ret);

/** mdev_uuid_new() - a random (version 4) UUID in canonical form. */
int mdev_uuid_new(char buf[static UUID_STRING_MAX]);
