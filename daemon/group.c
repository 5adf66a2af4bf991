/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

Group *group_new(uint32_t id) {
        Group *g = calloc(1, sizeof(*g));
        if (!g)
                return NULL;
        g->id = id;
        snprintf(g->key, sizeof(g->key), "%u", (unsigned) id);
        g->viable = true;
        return g;
}

Group *group_free(Group *g) {
        if (g) {
                free(g->members);
                free(g);
        }
        return NULL;
}

int device_compare(const Device *a, const Device *b) {
        if (a->kind != b->kind)
                return a->kind < b->kind ? -1 : 1;
        if (a->kind == DEVICE_PCI) {
                const PciAddress *x = &a->address, *y = &b->address;
                if (x->domain != y->domain)
                        return x->domain < y->domain ? -1 : 1;
                if (x->bus != y->bus)
                        return x->bus < y->bus ? -1 : 1;
                if (x->device != y->device)
                        return x->device < y->device ? -1 : 1;
                if (x->function != y->function)
                        return x->function < y->function ? -1 : 1;
                return 0;
        }
        return strcmp(a->name, b->name);
}

int group_add_member(Group *g, Device *d) {
        size_t i;

        if (g->n_members == g->n_allocated) {
                size_t n = g->n_allocated ? g->n_allocated * 2 : 4;
                Device **m = realloc(g->members, n * sizeof(*m));
                if (!m)
                        return -ENOMEM;
                g->members = m;
                g->n_allocated = n;
        }
        for (i = g->n_members; i > 0 && device_compare(g->members[i - 1], d) > 0; i--)
                g->members[i] = g->members[i - 1];
        g->members[i] = d;
        g->n_members++;
        return 0;
}

int group_remove_member(Group *g, const Device *d) {
        for (size_t i = 0; i < g->n_members; i++)
                if (g->members[i] == d) {
                        memmove(g->members + i, g->members + i + 1,
                                (g->n_members - i - 1) * sizeof(*g->members));
                        g->n_members--;
                        return 0;
                }
        return -ENOENT;
}

bool group_compute_viable(const Group *g) {
        for (size_t i = 0; i < g->n_members; i++)
                if (device_blocks_group(g->members[i], NULL))
                        return false;
        return true;
}

bool group_has_vfio_node(const Group *g) {
        for (size_t i = 0; i < g->n_members; i++)
                if (g->members[i]->vfio_group_node)
                        return true;
        return false;
}

json_object *group_to_json(const Group *g) {
        json_object *o = json_object_new_object(), *devs = json_object_new_array(),
                    *blockers = json_object_new_array();
        char node[32];

        if (!o || !devs || !blockers) {
                json_object_put(o);
                json_object_put(devs);
                json_object_put(blockers);
                return NULL;
        }
        for (size_t i = 0; i < g->n_members; i++) {
                const Device *d = g->members[i];
                const char *reason;

                json_object_array_add(devs, json_object_new_string(d->name));
                if (device_blocks_group(d, &reason)) {
                        json_object *b = json_object_new_object();
                        json_object_object_add(b, "device", json_object_new_string(d->name));
                        json_object_object_add(b, "driver", json_object_new_string(d->driver));
                        json_object_object_add(b, "reason", json_object_new_string(reason));
                        json_object_array_add(blockers, b);
                }
        }
        json_object_object_add(o, "id", json_object_new_int64(g->id));
        json_object_object_add(o, "devices", devs);
        json_object_object_add(o, "viable", json_object_new_boolean(g->viable));
        json_object_object_add(o, "blockers", blockers);
        snprintf(node, sizeof(node), "/dev/vfio/%u", (unsigned) g->id);
        json_object_object_add(o, "vfioGroupNode", group_has_vfio_node(g) ? json_object_new_string(node) : NULL);
        return o;
}
