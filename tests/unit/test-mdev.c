/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdev.c on a fake sysfs tree: a parent and a type are found only among
 * the names sysfs lists (never as a path from the caller), available
 * instances are parsed strictly, and new UUIDs are random version-4 ones
 * in canonical form.
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

#include "mdev.h"
#include "shared/uuid.h"

typedef struct Fixture {
        char root[64];
        Sysfs *s;
} Fixture;

static void put(const char *root, const char *path, const char *text) {
        char p[512], cmd[700];
        FILE *f;

        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s/%s')\"", root, path);
        assert_int_equal(system(cmd), 0);
        snprintf(p, sizeof(p), "%s/%s", root, path);
        f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->root, sizeof(f->root), "/tmp/iommud-test-mdev-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        put(f->root, "class/mdev_bus/mtty/mdev_supported_types/mtty-1/available_instances", "24\n");
        put(f->root, "class/mdev_bus/mtty/mdev_supported_types/mtty-2/available_instances", "0\n");
        put(f->root, "class/mdev_bus/0000:03:00.0/mdev_supported_types/nvidia-63/available_instances", "x\n");
        /* A type directory elsewhere, that a path from a client could reach. */
        put(f->root, "devices/evil/mdev_supported_types/mtty-1/available_instances", "1\n");
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

static void test_find(void **state) {
        Fixture *f = *state;
        char *dir = NULL;
        long n = -1;

        assert_int_equal(mdev_type_find(f->s, "mtty", "mtty-1", &dir), 0);
        assert_string_equal(dir, "class/mdev_bus/mtty/mdev_supported_types/mtty-1");
        assert_int_equal(mdev_type_available(f->s, dir, &n), 0);
        assert_int_equal(n, 24);
        free(dir);
        assert_int_equal(mdev_type_find(f->s, "mtty", "mtty-2", &dir), 0);
        assert_int_equal(mdev_type_available(f->s, dir, &n), 0);
        assert_int_equal(n, 0);
        free(dir);
        assert_int_equal(mdev_type_find(f->s, "0000:03:00.0", "nvidia-63", &dir), 0);
        assert_int_equal(mdev_type_available(f->s, dir, &n), -EBADMSG);
        free(dir);

        /* Unknown parents and types; paths are not names. */
        assert_int_equal(mdev_type_find(f->s, "mtty2", "mtty-1", &dir), -ENODEV);
        assert_int_equal(mdev_type_find(f->s, "mtty", "mtty-3", &dir), -ENOENT);
        assert_int_equal(mdev_type_find(f->s, "../../devices/evil", "mtty-1", &dir), -ENODEV);
        assert_int_equal(mdev_type_find(f->s, "mtty", "../mtty-1", &dir), -ENOENT);
        assert_int_equal(mdev_type_find(f->s, "mtty", "mtty-1/available_instances", &dir), -ENOENT);
        assert_int_equal(mdev_type_find(f->s, "", "mtty-1", &dir), -ENODEV);
        assert_int_equal(mdev_type_find(f->s, NULL, "mtty-1", &dir), -ENODEV);
        assert_int_equal(mdev_type_find(f->s, "mtty", NULL, &dir), -ENOENT);
}

static void test_no_mdev_support(void **state) {
        Sysfs *s;
        char *dir = NULL;
        char root[] = "/tmp/iommud-test-mdev-none-XXXXXX";

        assert_non_null(mkdtemp(root));
        assert_int_equal(sysfs_new(root, &s), 0);
        assert_int_equal(mdev_type_find(s, "mtty", "mtty-1", &dir), -ENODEV);
        sysfs_free(s);
        assert_int_equal(rmdir(root), 0);
}

static void test_uuid_new(void **state) {
        char a[UUID_STRING_MAX], b[UUID_STRING_MAX], canon[UUID_STRING_MAX];

        assert_int_equal(mdev_uuid_new(a), 0);
        assert_int_equal(mdev_uuid_new(b), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(uuid_canonicalize(a, canon), 0);
        assert_string_equal(a, canon);
        assert_int_equal(a[14], '4');                           /* version 4 */
        assert_non_null(strchr("89ab", a[19]));                 /* variant 1 */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_find, setup, teardown),
                cmocka_unit_test(test_no_mdev_support),
                cmocka_unit_test(test_uuid_new),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
