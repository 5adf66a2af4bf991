/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sysfs layer and libudev together, against a umockdev testbed: what
 * iommud reads through its /sys dirfd agrees with what libudev enumerates,
 * and hotplugged devices are seen by both.
 */
#include <errno.h>
#include <libudev.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "shared/macro.h"
#include "sysfs.h"
#include "testbed.h"

static int setup(void **state) {
        Testbed *t = testbed_new();
        testbed_add_pci(t, "0000:00:03.0", 0x1234, 0x11e8, 3, NULL);
        testbed_add_pci(t, "0000:00:04.0", 0x8086, 0x10d3, 4, "e1000e");
        testbed_add_pci(t, "0000:00:1f.0", 0x8086, 0x2918, -1, NULL);
        *state = t;
        return 0;
}

static int teardown(void **state) {
        testbed_free(*state);
        return 0;
}

static void test_groups_and_drivers(void **state) {
        _cleanup_(sysfs_freep) Sysfs *s = NULL;
        PciAddress a;
        uint32_t g;
        char *drv = NULL;

        assert_int_equal(sysfs_new("/sys", &s), 0);

        assert_int_equal(pci_address_parse("0000:00:03.0", &a), 0);
        assert_int_equal(sysfs_pci_iommu_group(s, &a, &g), 0);
        assert_int_equal(g, 3);
        assert_int_equal(sysfs_pci_driver(s, &a, &drv), -ENOENT);

        assert_int_equal(pci_address_parse("0000:00:04.0", &a), 0);
        assert_int_equal(sysfs_pci_iommu_group(s, &a, &g), 0);
        assert_int_equal(g, 4);
        assert_int_equal(sysfs_pci_driver(s, &a, &drv), 0);
        assert_string_equal(drv, "e1000e");
        free(drv);

        assert_int_equal(pci_address_parse("0000:00:1f.0", &a), 0);
        assert_int_equal(sysfs_pci_iommu_group(s, &a, &g), -ENOENT);
}

static void test_udev_agrees(void **state) {
        _cleanup_(sysfs_freep) Sysfs *s = NULL;
        struct udev *udev = udev_new();
        struct udev_enumerate *e = udev_enumerate_new(udev);
        struct udev_list_entry *l;
        unsigned n = 0;

        assert_int_equal(sysfs_new("/sys", &s), 0);
        assert_int_equal(udev_enumerate_add_match_subsystem(e, "pci"), 0);
        assert_int_equal(udev_enumerate_scan_devices(e), 0);
        udev_list_entry_foreach(l, udev_enumerate_get_list_entry(e)) {
                struct udev_device *d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(l));
                const char *udrv = udev_device_get_driver(d);
                char *drv = NULL;
                PciAddress a;

                assert_int_equal(pci_address_parse(udev_device_get_sysname(d), &a), 0);
                if (udrv) {
                        assert_int_equal(sysfs_pci_driver(s, &a, &drv), 0);
                        assert_string_equal(drv, udrv);
                        free(drv);
                } else {
                        assert_int_equal(sysfs_pci_driver(s, &a, &drv), -ENOENT);
                }
                udev_device_unref(d);
                n++;
        }
        assert_int_equal(n, 3);
        udev_enumerate_unref(e);
        udev_unref(udev);
}

static void test_hotplug_seen(void **state) {
        Testbed *t = *state;
        _cleanup_(sysfs_freep) Sysfs *s = NULL;
        struct udev *udev = udev_new();
        struct udev_monitor *m = udev_monitor_new_from_netlink(udev, "udev");
        struct udev_device *d;
        struct pollfd p;
        PciAddress a;
        uint32_t g;

        assert_int_equal(udev_monitor_filter_add_match_subsystem_devtype(m, "pci", NULL), 0);
        assert_int_equal(udev_monitor_enable_receiving(m), 0);

        testbed_add_pci(t, "0000:00:05.0", 0x1234, 0x11e8, 9, "vfio-pci");

        p = (struct pollfd) { .fd = udev_monitor_get_fd(m), .events = POLLIN };
        assert_int_equal(poll(&p, 1, 5000), 1);
        d = udev_monitor_receive_device(m);
        assert_non_null(d);
        assert_string_equal(udev_device_get_action(d), "add");
        assert_string_equal(udev_device_get_sysname(d), "0000:00:05.0");

        assert_int_equal(sysfs_new("/sys", &s), 0);
        assert_int_equal(pci_address_parse(udev_device_get_sysname(d), &a), 0);
        assert_int_equal(sysfs_pci_iommu_group(s, &a, &g), 0);
        assert_int_equal(g, 9);

        udev_device_unref(d);
        udev_monitor_unref(m);
        udev_unref(udev);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_groups_and_drivers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_udev_agrees, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hotplug_seen, setup, teardown),
        };
        if (!testbed_preloaded())
                return 77;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
