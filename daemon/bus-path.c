/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus-path.h"
#include "lease.h"
#include "shared/pci-address.h"
#include "shared/uuid.h"

/* "0000:03:00.0" -> "pci_0000_03_00_0"; UUID -> "mdev_" + '-' as '_'. */
int bus_device_path(const char *name, char buf[static BUS_PATH_MAX]) {
        char canon[UUID_STRING_MAX > PCI_ADDRESS_STRING_MAX ? UUID_STRING_MAX : PCI_ADDRESS_STRING_MAX];
        const char *prefix;
        size_t len;
        char *p;

        if (!name)
                return -EINVAL;
        if (pci_address_canonicalize(name, canon) >= 0)
                prefix = "pci_";
        else if (uuid_canonicalize(name, canon) >= 0)
                prefix = "mdev_";
        else
                return -EINVAL;
        if (strcmp(canon, name) != 0)
                return -EINVAL;         /* canonical names only: one path per device */
        len = (size_t) snprintf(buf, BUS_PATH_MAX, BUS_PATH_DEVICES "/%s%s", prefix, canon);
        if (len >= BUS_PATH_MAX)
                return -EINVAL;
        for (p = buf + strlen(BUS_PATH_DEVICES) + 1 + strlen(prefix); *p; p++)
                if (*p == ':' || *p == '.' || *p == '-')
                        *p = '_';
        return 0;
}

int bus_device_from_path(const char *path, char *buf, size_t size) {
        static const char dir[] = BUS_PATH_DEVICES "/";
        char name[UUID_STRING_MAX], again[BUS_PATH_MAX];
        const char *c;
        size_t n;

        if (!path || strncmp(path, dir, sizeof(dir) - 1) != 0)
                return -EINVAL;
        c = path + sizeof(dir) - 1;
        if (strncmp(c, "pci_", 4) == 0) {
                /* DDDD_BB_DD_F: the separators are at fixed places. */
                c += 4;
                if (strlen(c) != 12 || c[4] != '_' || c[7] != '_' || c[10] != '_')
                        return -EINVAL;
                snprintf(name, sizeof(name), "%.4s:%.2s:%.2s.%c", c, c + 5, c + 8, c[11]);
        } else if (strncmp(c, "mdev_", 5) == 0) {
                c += 5;
                n = strlen(c);
                if (n != 36)
                        return -EINVAL;
                memcpy(name, c, n + 1);
                for (size_t i = 0; i < n; i++)
                        if (name[i] == '_')
                                name[i] = '-';
        } else
                return -EINVAL;
        /* Only what encodes back to this very path. */
        if (bus_device_path(name, again) < 0 || strcmp(again, path) != 0)
                return -EINVAL;
        if (strlen(name) >= size)
                return -ENOBUFS;
        strcpy(buf, name);
        return 0;
}

void bus_group_path(uint32_t id, char buf[static BUS_PATH_MAX]) {
        snprintf(buf, BUS_PATH_MAX, BUS_PATH_GROUPS "/%u", id);
}

int bus_group_from_path(const char *path, uint32_t *ret) {
        static const char dir[] = BUS_PATH_GROUPS "/";
        uint64_t v = 0;
        const char *c;

        if (!path || strncmp(path, dir, sizeof(dir) - 1) != 0)
                return -EINVAL;
        c = path + sizeof(dir) - 1;
        if (!*c || (c[0] == '0' && c[1]) || strlen(c) > 10)
                return -EINVAL;
        for (; *c; c++) {
                if (*c < '0' || *c > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*c - '0');
        }
        if (v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

int bus_lease_path(const char *id, char buf[static BUS_PATH_MAX]) {
        uint64_t v;

        if (lease_id_from_string(id, &v) < 0)
                return -EINVAL;
        snprintf(buf, BUS_PATH_MAX, BUS_PATH_LEASES "/%s", id);
        return 0;
}

int bus_lease_from_path(const char *path, char *buf, size_t size) {
        static const char dir[] = BUS_PATH_LEASES "/";
        uint64_t v;

        if (!path || strncmp(path, dir, sizeof(dir) - 1) != 0)
                return -EINVAL;
        path += sizeof(dir) - 1;
        if (lease_id_from_string(path, &v) < 0)
                return -EINVAL;
        if (strlen(path) >= size)
                return -ENOBUFS;
        strcpy(buf, path);
        return 0;
}
