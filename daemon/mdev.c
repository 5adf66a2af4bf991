/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mdev.h"
#include "shared/macro.h"

static void strvp(char ***v) {
        sysfs_strv_free(*v);
}

static json_object *attr_or_null(Sysfs *s, const char *dir, const char *attr) {
        _cleanup_free_ char *v = NULL;
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", dir, attr);
        if (sysfs_read_attr(s, path, &v) < 0)
                return NULL;
        return json_object_new_string(v);
}

int mdev_list_types(Sysfs *s, json_object **ret) {
        _cleanup_(strvp) char **parents = NULL;
        json_object *out = json_object_new_array();
        int r;

        if (!out)
                return -ENOMEM;
        r = sysfs_list_dir(s, "class/mdev_bus", &parents);
        if (r == -ENOENT) {
                *ret = out;
                return 0;
        }
        if (r < 0) {
                json_object_put(out);
                return r;
        }
        for (char **p = parents; *p; p++) {
                _cleanup_(strvp) char **types = NULL;
                json_object *parent, *tarr;
                char dir[512];

                /* Names come from readdir and were checked by
                 * sysfs_list_dir(): single, valid components. */
                snprintf(dir, sizeof(dir), "class/mdev_bus/%s/mdev_supported_types", *p);
                if (sysfs_list_dir(s, dir, &types) < 0)
                        continue;
                tarr = json_object_new_array();
                for (char **t = types; *t; t++) {
                        _cleanup_free_ char *avail = NULL;
                        json_object *o = json_object_new_object();
                        char tdir[1024];
                        long n = 0;

                        char path[1100];

                        snprintf(tdir, sizeof(tdir), "%s/%s", dir, *t);
                        snprintf(path, sizeof(path), "%s/available_instances", tdir);
                        if (sysfs_read_attr(s, path, &avail) >= 0)
                                n = strtol(avail, NULL, 10);
                        json_object_object_add(o, "id", json_object_new_string(*t));
                        json_object_object_add(o, "name", attr_or_null(s, tdir, "name"));
                        json_object_object_add(o, "description", attr_or_null(s, tdir, "description"));
                        json_object_object_add(o, "deviceApi", attr_or_null(s, tdir, "device_api"));
                        json_object_object_add(o, "availableInstances", json_object_new_int64(n < 0 ? 0 : n));
                        json_object_array_add(tarr, o);
                }
                parent = json_object_new_object();
                json_object_object_add(parent, "parent", json_object_new_string(*p));
                json_object_object_add(parent, "types", tarr);
                json_object_array_add(out, parent);
        }
        *ret = out;
        return 0;
}

static bool listed(char **names, const char *name) {
        for (char **n = names; n && *n; n++)
                if (strcmp(*n, name) == 0)
                        return true;
        return false;
}

int mdev_type_find(Sysfs *s, const char *parent, const char *type, char **ret_dir) {
        _cleanup_(strvp) char **parents = NULL, **types = NULL;
        char dir[512];
        int r;

        r = sysfs_list_dir(s, "class/mdev_bus", &parents);
        if (r == -ENOENT)
                return -ENODEV;
        if (r < 0)
                return r;
        if (!parent || !listed(parents, parent))
                return -ENODEV;
        /* @parent is now one of sysfs's own names: a single component. */
        snprintf(dir, sizeof(dir), "class/mdev_bus/%s/mdev_supported_types", parent);
        r = sysfs_list_dir(s, dir, &types);
        if (r == -ENOENT)
                return -ENODEV;
        if (r < 0)
                return r;
        if (!type || !listed(types, type))
                return -ENOENT;
        if (asprintf(ret_dir, "%s/%s", dir, type) < 0)
                return -ENOMEM;
        return 0;
}

int mdev_type_available(Sysfs *s, const char *type_dir, long *ret) {
        _cleanup_free_ char *v = NULL;
        char path[600], *end;
        long n;
        int r;

        snprintf(path, sizeof(path), "%s/available_instances", type_dir);
        r = sysfs_read_attr(s, path, &v);
        if (r < 0)
                return r;
        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || end == v || n < 0)
                return -EBADMSG;
        *ret = n;
        return 0;
}

int mdev_uuid_new(char buf[static UUID_STRING_MAX]) {
        uint8_t b[16];

        if (getrandom(b, sizeof(b), 0) != sizeof(b))
                return -EIO;
        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);        /* version 4 */
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);        /* variant 1 */
        snprintf(buf, UUID_STRING_MAX,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
                 b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return 0;
}
