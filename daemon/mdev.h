/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdev.h - mediated devices: the parents that can create them and the
 * types they offer, read live from sysfs (available_instances changes
 * with every mdev created or removed).
 */
#pragma once

#include <json-c/json.h>

#include "sysfs.h"

/** mdev_list_types() - [{parent, types: [{id, name, description,
 * deviceApi, availableInstances}]}], parents and types sorted by name.
 * A host without mdev support gives an empty array. */
int mdev_list_types(Sysfs *s, json_object **ret);
