/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "shared/pci-address.h"
#include "sriov.h"

/* "virtfn" and a decimal index without leading zeros: the kernel's
 * pci_iov_add_virtfn() names them so; anything else is not a VF link. */
static int virtfn_index(const char *name) {
        const char *p = name + 6;
        long v = 0;

        if (strncmp(name, "virtfn", 6) != 0 || !*p || (p[0] == '0' && p[1]))
                return -1;
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -1;
                v = v * 10 + (*p - '0');
                if (v > SRIOV_VFS_MAX)
                        return -1;
        }
        return (int) v;
}

typedef struct Vf {
        int index;
        char *name;
} Vf;

static int vf_compare(const void *a, const void *b) {
        const Vf *x = a, *y = b;
        return (x->index > y->index) - (x->index < y->index);
}

int sriov_list_vfs(Sysfs *s, const char *pf, char ***ret, size_t *ret_n) {
        char canon[PCI_ADDRESS_STRING_MAX], dir[64];
        char **entries = NULL, **out = NULL;
        Vf *vfs = NULL;
        size_t n = 0, total = 0;
        int r;

        if (pci_address_canonicalize(pf, canon) < 0 || strcmp(canon, pf) != 0)
                return -EINVAL;
        snprintf(dir, sizeof(dir), "bus/pci/devices/%s", canon);
        r = sysfs_list_dir(s, dir, &entries);
        if (r < 0)
                return r;
        for (char **e = entries; *e; e++)
                total++;
        vfs = calloc(total + 1, sizeof(*vfs));
        out = calloc(total + 1, sizeof(*out));
        if (!vfs || !out) {
                r = -ENOMEM;
                goto finish;
        }
        for (char **e = entries; *e; e++) {
                char path[128], vf[PCI_ADDRESS_STRING_MAX];
                _cleanup_free_ char *target = NULL;
                int index = virtfn_index(*e);

                if (index < 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, *e);
                r = sysfs_read_link_name(s, path, &target);
                if (r == -ENOENT)
                        continue;       /* removed while we read */
                if (r < 0)
                        goto finish;
                if (pci_address_canonicalize(target, vf) < 0)
                        continue;
                vfs[n].index = index;
                vfs[n].name = strdup(vf);
                if (!vfs[n].name) {
                        r = -ENOMEM;
                        goto finish;
                }
                n++;
        }
        qsort(vfs, n, sizeof(*vfs), vf_compare);
        for (size_t i = 0; i < n; i++)
                out[i] = TAKE_PTR(vfs[i].name);
        *ret = TAKE_PTR(out);
        if (ret_n)
                *ret_n = n;
        r = 0;
finish:
        if (vfs)
                for (size_t i = 0; i < n; i++)
                        free(vfs[i].name);
        free(vfs);
        sysfs_strv_free(out);
        sysfs_strv_free(entries);
        return r;
}

int sriov_count_vfs(Sysfs *s, const char *pf, size_t *ret) {
        char canon[PCI_ADDRESS_STRING_MAX], dir[64];
        char **entries = NULL;
        size_t n = 0;
        int r;

        if (pci_address_canonicalize(pf, canon) < 0 || strcmp(canon, pf) != 0)
                return -EINVAL;
        snprintf(dir, sizeof(dir), "bus/pci/devices/%s", canon);
        r = sysfs_list_dir(s, dir, &entries);
        if (r < 0)
                return r;
        for (char **e = entries; *e; e++)
                if (virtfn_index(*e) >= 0)
                        n++;
        sysfs_strv_free(entries);
        *ret = n;
        return 0;
}

size_t sriov_plan(int current, int target, int steps[static 2]) {
        if (current == target)
                return 0;
        if (current == 0 || target == 0) {
                steps[0] = target;
                return 1;
        }
        steps[0] = 0;
        steps[1] = target;
        return 2;
}
