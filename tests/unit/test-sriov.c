/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sriov.c on a fake sysfs tree: a PF's VFs are its virtfnN links, in the
 * order of N (not of their names), anything else in its directory is
 * ignored, the PF's name is never a path; and the writes that change a
 * VF count go through 0 when both counts are nonzero.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "sriov.h"

typedef struct Fixture {
        char root[64];
        Sysfs *s;
} Fixture;

/* devices/pci0000:00/@name, linked from bus/pci/devices. */
static void device(const char *root, const char *name) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "mkdir -p '%s/devices/pci0000:00/%s' '%s/bus/pci/devices' && "
                 "ln -s '../../../devices/pci0000:00/%s' '%s/bus/pci/devices/%s'",
                 root, name, root, name, root, name);
        assert_int_equal(system(cmd), 0);
}

static void link_(const char *root, const char *pf, const char *link, const char *target) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "ln -s '%s' '%s/devices/pci0000:00/%s/%s'", target, root, pf, link);
        assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        char vf[32], name[32];

        assert_non_null(f);
        snprintf(f->root, sizeof(f->root), "/tmp/iommud-test-sriov-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        device(f->root, "0000:02:00.0");
        device(f->root, "0000:01:00.0");        /* no PF */
        /* Twelve VFs, created in an order unlike their names' */
        for (int i = 11; i >= 0; i--) {
                snprintf(vf, sizeof(vf), "0000:02:%02x.%d", 0x10 + i / 8, i % 8);
                device(f->root, vf);
                snprintf(name, sizeof(name), "virtfn%d", i);
                snprintf(vf, sizeof(vf), "../0000:02:%02x.%d", 0x10 + i / 8, i % 8);
                link_(f->root, "0000:02:00.0", name, vf);
        }
        /* Not VF links. */
        link_(f->root, "0000:02:00.0", "virtfn01", "../0000:01:00.0");
        link_(f->root, "0000:02:00.0", "virtfnx", "../0000:01:00.0");
        link_(f->root, "0000:02:00.0", "virtfn", "../0000:01:00.0");
        link_(f->root, "0000:02:00.0", "virtfn99999", "../0000:01:00.0");
        link_(f->root, "0000:02:00.0", "driver", "../../bus/pci/drivers/pci-pf-stub");
        /* A link that names no PCI function is skipped. */
        link_(f->root, "0000:02:00.0", "virtfn12", "../../../etc");
        assert_int_equal(sysfs_new(f->root, &f->s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        sysfs_free(f->s);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", f->root);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static void test_list(void **state) {
        Fixture *f = *state;
        char **vfs = NULL;
        size_t n = 0;

        assert_int_equal(sriov_list_vfs(f->s, "0000:02:00.0", &vfs, &n), 0);
        assert_int_equal(n, 12);
        /* virtfn0..11 in that order: virtfn10 after virtfn9, not after virtfn1. */
        assert_string_equal(vfs[0], "0000:02:10.0");
        assert_string_equal(vfs[1], "0000:02:10.1");
        assert_string_equal(vfs[9], "0000:02:11.1");
        assert_string_equal(vfs[10], "0000:02:11.2");
        assert_string_equal(vfs[11], "0000:02:11.3");
        assert_null(vfs[12]);
        sysfs_strv_free(vfs);
        /* virtfn12 is a link, but not to a PCI function: counted as a
         * link, never listed as a VF. */
        assert_int_equal(sriov_count_vfs(f->s, "0000:02:00.0", &n), 0);
        assert_int_equal(n, 13);

        /* A function with no VFs. */
        assert_int_equal(sriov_list_vfs(f->s, "0000:01:00.0", &vfs, &n), 0);
        assert_int_equal(n, 0);
        assert_null(vfs[0]);
        sysfs_strv_free(vfs);
        assert_int_equal(sriov_count_vfs(f->s, "0000:01:00.0", &n), 0);
        assert_int_equal(n, 0);
}

static void test_names_are_not_paths(void **state) {
        Fixture *f = *state;
        char **vfs = NULL;
        size_t n = 7;

        assert_int_equal(sriov_list_vfs(f->s, "0000:09:00.0", &vfs, &n), -ENOENT);
        assert_int_equal(sriov_list_vfs(f->s, "02:00.0", &vfs, &n), -EINVAL);  /* not canonical */
        assert_int_equal(sriov_list_vfs(f->s, "../../devices/pci0000:00/0000:02:00.0", &vfs, &n), -EINVAL);
        assert_int_equal(sriov_list_vfs(f->s, "0000:02:00.0/..", &vfs, &n), -EINVAL);
        assert_int_equal(sriov_count_vfs(f->s, "", &n), -EINVAL);
        assert_int_equal(n, 7);
        assert_null(vfs);
}

static void test_plan(void **state) {
        int steps[2] = { -1, -1 };

        assert_int_equal(sriov_plan(0, 0, steps), 0);
        assert_int_equal(sriov_plan(7, 7, steps), 0);
        assert_int_equal(steps[0], -1);
        assert_int_equal(sriov_plan(0, 7, steps), 1);
        assert_int_equal(steps[0], 7);
        assert_int_equal(sriov_plan(7, 0, steps), 1);
        assert_int_equal(steps[0], 0);
        /* nonzero to nonzero: the kernel says EBUSY unless 0 comes first */
        assert_int_equal(sriov_plan(7, 3, steps), 2);
        assert_int_equal(steps[0], 0);
        assert_int_equal(steps[1], 3);
        assert_int_equal(sriov_plan(3, 64, steps), 2);
        assert_int_equal(steps[0], 0);
        assert_int_equal(steps[1], 64);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_list, setup, teardown),
                cmocka_unit_test_setup_teardown(test_names_are_not_paths, setup, teardown),
                cmocka_unit_test(test_plan),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
