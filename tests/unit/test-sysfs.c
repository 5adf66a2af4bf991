/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysfs.c against a fake /sys in a temporary directory: attributes and
 * links are read through the symlinks real sysfs has, and no path or
 * planted symlink leads outside the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "shared/macro.h"
#include "device-sysfs.h"
#include "sysfs.h"

typedef struct Fixture {
        char root[PATH_MAX];
        char outside[PATH_MAX];
        Sysfs *sysfs;
} Fixture;

static void mkdirs(const char *root, const char *rel) {
        char p[2 * PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        for (char *s = p + strlen(root) + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        (void) mkdir(p, 0755);
                        *s = '/';
                }
        (void) mkdir(p, 0755);
}

static void put(const char *root, const char *rel, const char *content) {
        char p[2 * PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static void link_(const char *root, const char *rel, const char *target) {
        char p[2 * PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        const char *r;

        snprintf(f->outside, sizeof(f->outside), "/tmp/iommud-test-outside-XXXXXX");
        assert_non_null(mkdtemp(f->outside));
        put(f->outside, "secret", "outside the root\n");

        snprintf(f->root, sizeof(f->root), "/tmp/iommud-test-sysfs-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        r = f->root;

        /* 0000:00:03.0: in group 7, bound to e1000e, laid out as on a host. */
        mkdirs(r, "devices/pci0000:00/0000:00:03.0");
        mkdirs(r, "kernel/iommu_groups/7/devices");
        mkdirs(r, "bus/pci/drivers/e1000e");
        mkdirs(r, "bus/pci/devices");
        put(r, "devices/pci0000:00/0000:00:03.0/vendor", "0x8086\n");
        link_(r, "devices/pci0000:00/0000:00:03.0/iommu_group", "../../../kernel/iommu_groups/7");
        link_(r, "devices/pci0000:00/0000:00:03.0/driver", "../../../bus/pci/drivers/e1000e");
        link_(r, "bus/pci/devices/0000:00:03.0", "../../../devices/pci0000:00/0000:00:03.0");

        /* 0000:00:04.0: unbound, no IOMMU group. */
        mkdirs(r, "devices/pci0000:00/0000:00:04.0");
        put(r, "devices/pci0000:00/0000:00:04.0/vendor", "0x1b36\n");
        link_(r, "bus/pci/devices/0000:00:04.0", "../../../devices/pci0000:00/0000:00:04.0");

        /* Planted escapes: a device link and an attribute link that point
         * outside the root, absolutely and by "..". */
        {
                char target[PATH_MAX + 64];
                mkdirs(r, "devices/pci0000:00/0000:00:05.0");
                snprintf(target, sizeof(target), "%s/secret", f->outside);
                link_(r, "devices/pci0000:00/0000:00:05.0/vendor", target);
                link_(r, "devices/pci0000:00/0000:00:05.0/device", "../../../../../../../../../../etc/hostname");
                link_(r, "bus/pci/devices/0000:00:05.0", "../../../devices/pci0000:00/0000:00:05.0");
                link_(r, "bus/pci/devices/0000:00:06.0", f->outside);
                snprintf(target, sizeof(target), "../../../../../../../../../..%s", f->outside);
                link_(r, "bus/pci/devices/0000:00:07.0", target);
        }
        /* An attribute larger than a page is not sysfs. */
        {
                char *big = malloc(8192);
                memset(big, 'x', 8191);
                big[8191] = 0;
                put(r, "devices/pci0000:00/0000:00:04.0/big", big);
                free(big);
        }

        assert_int_equal(sysfs_new(f->root, &f->sysfs), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[2 * PATH_MAX + 16];
        sysfs_free(f->sysfs);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", f->root, f->outside);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static PciAddress addr(const char *s) {
        PciAddress a;
        assert_int_equal(pci_address_parse(s, &a), 0);
        return a;
}

/* A VFIO cdev is reported only when it is a character device: Linux 6.1
 * has the vfio-dev class entry, but no "dev" in it and no node. */
static void test_vfio_cdev_needs_a_node(void **state) {
        Fixture *f = *state;
        const char *r = f->root;
        Device *d = NULL;

        mkdirs(r, "devices/pci0000:00/0000:00:03.0/vfio-dev/vfio3");
        mkdirs(r, "class/vfio-dev");
        link_(r, "class/vfio-dev/vfio3", "../../devices/pci0000:00/0000:00:03.0/vfio-dev/vfio3");
        assert_int_equal(device_read_sysfs(f->sysfs, SYSFS_BUS_PCI, "0000:00:03.0", &d), 0);
        assert_null(d->vfio_cdev);
        device_free(d);
        put(r, "devices/pci0000:00/0000:00:03.0/vfio-dev/vfio3/dev", "241:3\n");
        assert_int_equal(device_read_sysfs(f->sysfs, SYSFS_BUS_PCI, "0000:00:03.0", &d), 0);
        assert_non_null(d->vfio_cdev);
        assert_string_equal(d->vfio_cdev, "vfio3");
        device_free(d);
}

static void test_read_through_device_link(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *v = NULL;
        assert_int_equal(sysfs_read_attr(f->sysfs, "bus/pci/devices/0000:00:03.0/vendor", &v), 0);
        assert_string_equal(v, "0x8086");
}

static void test_group_and_driver(void **state) {
        Fixture *f = *state;
        PciAddress a = addr("0000:00:03.0"), b = addr("00:04.0");
        _cleanup_free_ char *drv = NULL, *none = (char *) "untouched";
        uint32_t g = 0;

        assert_int_equal(sysfs_pci_iommu_group(f->sysfs, &a, &g), 0);
        assert_int_equal(g, 7);
        assert_int_equal(sysfs_pci_driver(f->sysfs, &a, &drv), 0);
        assert_string_equal(drv, "e1000e");

        assert_int_equal(sysfs_pci_iommu_group(f->sysfs, &b, &g), -ENOENT);
        assert_int_equal(sysfs_pci_driver(f->sysfs, &b, &none), -ENOENT);
        assert_string_equal(none, "untouched");
        none = NULL;
}

static void test_symlinks_stay_inside(void **state) {
        Fixture *f = *state;
        char *v = NULL;

        /* An attribute is never a symlink: refused, whatever it names. */
        assert_int_equal(sysfs_read_attr(f->sysfs, "bus/pci/devices/0000:00:05.0/vendor", &v), -ELOOP);
        assert_int_equal(sysfs_read_attr(f->sysfs, "bus/pci/devices/0000:00:05.0/device", &v), -ELOOP);
        /* A directory link outside, absolute: resolved inside the root,
         * where nothing is. */
        assert_int_equal(sysfs_read_attr(f->sysfs, "bus/pci/devices/0000:00:06.0/secret", &v), -ENOENT);
        /* The same by "..": climbing stops at the root. */
        assert_int_equal(sysfs_read_attr(f->sysfs, "bus/pci/devices/0000:00:07.0/secret", &v), -ENOENT);
        assert_null(v);
}

static void test_unsafe_paths_refused(void **state) {
        Fixture *f = *state;
        static const char *const bad[] = {
                "", "/etc/passwd", "..", "../secret", "bus/../../secret", "bus/./pci",
                "bus//pci", "bus/pci/", ".",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *v = NULL;
                assert_int_equal(sysfs_read_attr(f->sysfs, bad[i], &v), -EINVAL);
                assert_int_equal(sysfs_read_link_name(f->sysfs, bad[i], &v), -EINVAL);
                assert_int_equal(sysfs_read_link(f->sysfs, bad[i], &v), -EINVAL);
                assert_null(v);
        }
}

static void test_oversized_attr(void **state) {
        Fixture *f = *state;
        char *v = NULL;
        assert_int_equal(sysfs_read_attr(f->sysfs, "bus/pci/devices/0000:00:04.0/big", &v), -EFBIG);
        assert_null(v);
}

static void test_link_of_non_link(void **state) {
        Fixture *f = *state;
        char *v = NULL;
        assert_int_equal(sysfs_read_link_name(f->sysfs, "bus/pci/devices/0000:00:03.0/vendor", &v), -ENOLINK);
        assert_null(v);
}

static void test_link_text(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *t = NULL, *abs = NULL;
        char *v = NULL;

        /* The whole target, as written. */
        assert_int_equal(sysfs_read_link(f->sysfs, "bus/pci/devices/0000:00:03.0", &t), 0);
        assert_string_equal(t, "../../../devices/pci0000:00/0000:00:03.0");
        /* A link through a link: the directory is resolved beneath the
         * root, the last link is read. */
        assert_int_equal(sysfs_read_link(f->sysfs, "bus/pci/devices/0000:00:03.0/iommu_group", &v), 0);
        assert_string_equal(v, "../../../kernel/iommu_groups/7");
        free(v);
        v = NULL;
        /* A link pointing outside is text, read and not followed... */
        assert_int_equal(sysfs_read_link(f->sysfs, "bus/pci/devices/0000:00:06.0", &abs), 0);
        assert_string_equal(abs, f->outside);
        /* ...and a path through it stays inside the root, where nothing is. */
        assert_int_equal(sysfs_read_link(f->sysfs, "bus/pci/devices/0000:00:06.0/secret", &v), -ENOENT);
        assert_int_equal(sysfs_read_link(f->sysfs, "bus/pci/devices/0000:00:03.0/vendor", &v), -ENOLINK);
        assert_null(v);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_read_through_device_link, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vfio_cdev_needs_a_node, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_and_driver, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlinks_stay_inside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unsafe_paths_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversized_attr, setup, teardown),
                cmocka_unit_test_setup_teardown(test_link_of_non_link, setup, teardown),
                cmocka_unit_test_setup_teardown(test_link_text, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
