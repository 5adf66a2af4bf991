/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * registry.h - every PCI function and mdev iommud knows of, and the IOMMU
 * groups they form.  Pure bookkeeping: the scanner (udev.c) feeds it whole
 * Device objects, it works out what changed and tells its owner through
 * callbacks.  Each update costs O(size of the device's group), never
 * O(size of the registry).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "device.h"
#include "group.h"

typedef struct Registry Registry;

typedef enum RegistryChange {
        REGISTRY_ADDED,
        REGISTRY_REMOVED,
        REGISTRY_CHANGED,
} RegistryChange;

typedef struct RegistryCallbacks {
        /* On REGISTRY_REMOVED the device is still valid during the call. */
        void (*device)(Registry *r, RegistryChange what, const Device *d, void *userdata);
        void (*group)(Registry *r, RegistryChange what, const Group *g, void *userdata);
        /* The policy's verdict on a device, for its JSON: whether it may
         * be assigned, and a sentence why (written into @reason). */
        bool (*policy)(const Device *d, char *reason, size_t size, void *userdata);
        /* More fields of the owner's for a device's JSON (optional). */
        void (*annotate)(const Device *d, json_object *o, void *userdata);
        void *userdata;
} RegistryCallbacks;

int registry_new(const RegistryCallbacks *cb, Registry **ret);
Registry *registry_free(Registry *r);
void registry_freep(Registry **r);

/** registry_put_device() - add @d or replace the device of that name;
 * takes @d in all cases.  Returns 1 when something changed, 0 when @d
 * equals what was there, -ENOMEM. */
int registry_put_device(Registry *r, Device *d);

/** registry_remove_device() - -ENOENT if unknown. */
int registry_remove_device(Registry *r, const char *name);

const Device *registry_get_device(const Registry *r, const char *name);
const Group *registry_get_group(const Registry *r, uint32_t id);
size_t registry_n_devices(const Registry *r);
size_t registry_n_groups(const Registry *r);

/** registry_scan_begin()/registry_scan_end() - a full rescan: devices not
 * put between the two are removed at the end. */
void registry_scan_begin(Registry *r);
void registry_scan_end(Registry *r);

/** registry_list_devices()/registry_list_groups() - sorted snapshots; the
 * caller frees the array (not the elements). */
int registry_list_devices(const Registry *r, const Device ***ret, size_t *ret_n);
int registry_list_groups(const Registry *r, const Group ***ret, size_t *ret_n);

/** registry_device_to_json() - device_to_json() with its group's viability. */
json_object *registry_device_to_json(const Registry *r, const Device *d);

/** registry_device_json_text() - the same, serialized, cached until the
 * device or its group's viability changes.  Owned by the registry. */
const char *registry_device_json_text(const Registry *r, const Device *d);

/** registry_invalidate_json() - the policy or annotations of @name (NULL:
 * of every device) changed: drop the cached text. */
void registry_invalidate_json(Registry *r, const char *name);
