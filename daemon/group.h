/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * group.h - an IOMMU group: the smallest set of devices the IOMMU can
 * isolate, and so the unit of assignment.  Its members point into the
 * registry; its viability is recomputed whenever a member changes.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

typedef struct Group {
        uint32_t id;
        char key[12];           /* the id in decimal: the registry's key */
        Device **members;       /* sorted by name */
        size_t n_members;
        size_t n_allocated;
        bool viable;
} Group;

Group *group_new(uint32_t id);
Group *group_free(Group *g);

/** group_add_member() - keeps members sorted; -ENOMEM. */
int group_add_member(Group *g, Device *d);
/** group_remove_member() - -ENOENT if @d is not a member. */
int group_remove_member(Group *g, const Device *d);

/** group_compute_viable() - no member blocks (see device_blocks_group()). */
bool group_compute_viable(const Group *g);

/** group_vfio_node() - whether /dev/vfio/<id> exists (any member knows). */
bool group_has_vfio_node(const Group *g);

/** group_to_json() - {id, devices, viable, blockers[], vfioGroupNode}. */
json_object *group_to_json(const Group *g);

/** device_compare() - order for listings: PCI by address, then mdevs. */
int device_compare(const Device *a, const Device *b);
