/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "shared/hashmap.h"
#include "shared/macro.h"

struct Registry {
        Hashmap *devices;       /* name -> Device */
        Hashmap *groups;        /* decimal id -> Group */
        RegistryCallbacks cb;
        uint64_t generation;
};

int registry_new(const RegistryCallbacks *cb, Registry **ret) {
        Registry *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->devices = hashmap_new();
        r->groups = hashmap_new();
        if (!r->devices || !r->groups) {
                registry_free(r);
                return -ENOMEM;
        }
        if (cb)
                r->cb = *cb;
        *ret = r;
        return 0;
}

Registry *registry_free(Registry *r) {
        size_t i = 0;
        void *v;

        if (!r)
                return NULL;
        while (hashmap_iterate(r->devices, &i, &v, NULL))
                device_free(v);
        i = 0;
        while (hashmap_iterate(r->groups, &i, &v, NULL))
                group_free(v);
        hashmap_free(r->devices);
        hashmap_free(r->groups);
        free(r);
        return NULL;
}

void registry_freep(Registry **r) {
        registry_free(*r);
}

static Group *find_group(const Registry *r, int64_t id) {
        char key[24];
        if (id < 0)
                return NULL;
        snprintf(key, sizeof(key), "%lld", (long long) id);
        return hashmap_get(r->groups, key);
}

/* Recompute viability; a change alters every member's "assignable", so
 * their cached JSON goes. */
static void update_viable(Group *g) {
        bool v = group_compute_viable(g);

        if (v != g->viable)
                for (size_t i = 0; i < g->n_members; i++) {
                        free(g->members[i]->json_text);
                        g->members[i]->json_text = NULL;
                }
        g->viable = v;
}

static void notify_group(Registry *r, RegistryChange what, const Group *g) {
        if (r->cb.group)
                r->cb.group(r, what, g, r->cb.userdata);
}

/* Take @d out of its group; drop the group when it empties. */
static void group_leave(Registry *r, Device *d) {
        Group *g = find_group(r, d->iommu_group);
        if (!g)
                return;
        (void) group_remove_member(g, d);
        if (g->n_members == 0) {
                notify_group(r, REGISTRY_REMOVED, g);
                hashmap_remove(r->groups, g->key);
                group_free(g);
                return;
        }
        update_viable(g);
        notify_group(r, REGISTRY_CHANGED, g);
}

static int group_join(Registry *r, Device *d) {
        Group *g;
        bool added = false;
        int k;

        if (d->iommu_group < 0)
                return 0;
        g = find_group(r, d->iommu_group);
        if (!g) {
                g = group_new((uint32_t) d->iommu_group);
                if (!g)
                        return -ENOMEM;
                k = hashmap_put(r->groups, g->key, g);
                if (k < 0) {
                        group_free(g);
                        return k;
                }
                added = true;
        }
        k = group_add_member(g, d);
        if (k < 0) {
                if (added) {
                        hashmap_remove(r->groups, g->key);
                        group_free(g);
                }
                return k;
        }
        update_viable(g);
        notify_group(r, added ? REGISTRY_ADDED : REGISTRY_CHANGED, g);
        return 0;
}

int registry_put_device(Registry *r, Device *d) {
        _cleanup_(device_freep) Device *owned = d;
        Device *old = hashmap_get(r->devices, d->name);
        int k;

        d->scan_generation = r->generation;
        if (old && device_equal(old, d)) {
                old->scan_generation = r->generation;
                return 0;
        }
        if (old) {
                Group *g = find_group(r, old->iommu_group);

                /* Replace in place in the map (the key moves to the new
                 * object). */
                k = hashmap_replace(r->devices, d->name, d);
                if (k < 0)
                        return k;
                TAKE_PTR(owned);
                if (g && old->iommu_group == d->iommu_group) {
                        /* Same group: swap the member, same sort position. */
                        for (size_t i = 0; i < g->n_members; i++)
                                if (g->members[i] == old)
                                        g->members[i] = d;
                        update_viable(g);
                        notify_group(r, REGISTRY_CHANGED, g);
                        k = 0;
                } else {
                        group_leave(r, old);
                        k = group_join(r, d);
                }
                if (r->cb.device)
                        r->cb.device(r, REGISTRY_CHANGED, d, r->cb.userdata);
                device_free(old);
                return k < 0 ? k : 1;
        }
        k = hashmap_put(r->devices, d->name, d);
        if (k < 0)
                return k;
        TAKE_PTR(owned);
        k = group_join(r, d);
        if (r->cb.device)
                r->cb.device(r, REGISTRY_ADDED, d, r->cb.userdata);
        return k < 0 ? k : 1;
}

int registry_remove_device(Registry *r, const char *name) {
        Device *d = hashmap_get(r->devices, name);
        if (!d)
                return -ENOENT;
        if (r->cb.device)
                r->cb.device(r, REGISTRY_REMOVED, d, r->cb.userdata);
        hashmap_remove(r->devices, d->name);
        group_leave(r, d);
        device_free(d);
        return 0;
}

const Device *registry_get_device(const Registry *r, const char *name) {
        return hashmap_get(r->devices, name);
}

const Group *registry_get_group(const Registry *r, uint32_t id) {
        return find_group(r, id);
}

size_t registry_n_devices(const Registry *r) {
        return hashmap_size(r->devices);
}

size_t registry_n_groups(const Registry *r) {
        return hashmap_size(r->groups);
}

void registry_scan_begin(Registry *r) {
        r->generation++;
}

void registry_scan_end(Registry *r) {
        _cleanup_free_ Device **gone = NULL;
        size_t n = 0, i = 0;
        void *v;

        gone = calloc(hashmap_size(r->devices) + 1, sizeof(*gone));
        if (!gone)
                return;
        while (hashmap_iterate(r->devices, &i, &v, NULL))
                if (((Device *) v)->scan_generation != r->generation)
                        gone[n++] = v;
        for (i = 0; i < n; i++)
                (void) registry_remove_device(r, gone[i]->name);
}

static int cmp_devices(const void *a, const void *b) {
        return device_compare(*(const Device *const *) a, *(const Device *const *) b);
}

static int cmp_groups(const void *a, const void *b) {
        uint32_t x = (*(const Group *const *) a)->id, y = (*(const Group *const *) b)->id;
        return x < y ? -1 : x > y;
}

static int list(const Hashmap *h, int (*cmp)(const void *, const void *), const void ***ret, size_t *ret_n) {
        size_t n = hashmap_size(h), i = 0, k = 0;
        const void **a = calloc(n + 1, sizeof(*a));
        void *v;

        if (!a)
                return -ENOMEM;
        while (hashmap_iterate(h, &i, &v, NULL))
                a[k++] = v;
        qsort(a, k, sizeof(*a), cmp);
        *ret = a;
        *ret_n = k;
        return 0;
}

int registry_list_devices(const Registry *r, const Device ***ret, size_t *ret_n) {
        return list(r->devices, cmp_devices, (const void ***) ret, ret_n);
}

int registry_list_groups(const Registry *r, const Group ***ret, size_t *ret_n) {
        return list(r->groups, cmp_groups, (const void ***) ret, ret_n);
}

json_object *registry_device_to_json(const Registry *r, const Device *d) {
        const Group *g = find_group(r, d->iommu_group);
        json_object *o = device_to_json(d, g && g->viable);
        char reason[256] = "no policy";
        bool allowed = false;

        if (!o)
                return NULL;
        if (r->cb.policy)
                allowed = r->cb.policy(d, reason, sizeof(reason), r->cb.userdata);
        json_object_object_add(o, "policyAllows", json_object_new_boolean(allowed));
        json_object_object_add(o, "policyReason", json_object_new_string(reason));
        if (r->cb.annotate)
                r->cb.annotate(d, o, r->cb.userdata);
        return o;
}

const char *registry_device_json_text(const Registry *r, const Device *d) {
        Device *dd = (Device *) d; /* the cache is ours to fill */
        json_object *o;
        const char *s;

        if (dd->json_text)
                return dd->json_text;
        o = registry_device_to_json(r, d);
        if (!o)
                return NULL;
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        dd->json_text = s ? strdup(s) : NULL;
        json_object_put(o);
        return dd->json_text;
}

void registry_invalidate_json(Registry *r, const char *name) {
        size_t i = 0;
        void *v;

        if (name) {
                Device *d = hashmap_get(r->devices, name);
                if (d) {
                        free(d->json_text);
                        d->json_text = NULL;
                }
                return;
        }
        while (hashmap_iterate(r->devices, &i, &v, NULL)) {
                Device *d = v;
                free(d->json_text);
                d->json_text = NULL;
        }
}
