/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bus-path.c: D-Bus object paths of devices, groups and leases, and back.
 * Every path comes from a canonical name and goes back only to it; what
 * a client sends is never trusted to be a path iommud made.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bus-path.h"

static void test_devices(void **state) {
        static const char *const names[] = { "0000:00:03.0", "ffff:ff:1f.7", "0000:03:10.2",
                                             "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001" };
        char path[BUS_PATH_MAX], back[64];

        assert_int_equal(bus_device_path("0000:03:00.0", path), 0);
        assert_string_equal(path, "/org/iommud1/device/pci_0000_03_00_0");
        assert_int_equal(bus_device_path("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", path), 0);
        assert_string_equal(path, "/org/iommud1/device/mdev_83b8f4f2_509f_382f_3c1e_e6bfe0fa1001");
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                assert_int_equal(bus_device_path(names[i], path), 0);
                assert_int_equal(bus_device_from_path(path, back, sizeof(back)), 0);
                assert_string_equal(back, names[i]);
        }
        /* Only canonical names: one path per device. */
        assert_int_equal(bus_device_path("00:03.0", path), -EINVAL);
        assert_int_equal(bus_device_path("0000:00:03.0 ", path), -EINVAL);
        assert_int_equal(bus_device_path("83B8F4F2-509F-382F-3C1E-E6BFE0FA1001", path), -EINVAL);
        assert_int_equal(bus_device_path("../../etc", path), -EINVAL);
        assert_int_equal(bus_device_path("", path), -EINVAL);
        assert_int_equal(bus_device_path(NULL, path), -EINVAL);
}

static void test_device_paths_refused(void **state) {
        static const char *const bad[] = {
                "/org/iommud1/device/pci_0000_03_00",          /* short */
                "/org/iommud1/device/pci_0000_03_00_00",       /* long */
                "/org/iommud1/device/pci_0000_03_00_8",        /* function 8 */
                "/org/iommud1/device/pci_0000_03_20_0",        /* device 0x20 */
                "/org/iommud1/device/pci_0000_0g_00_0",        /* not hex */
                "/org/iommud1/device/pci_0000_03_00_0/x",      /* below it */
                "/org/iommud1/device/PCI_0000_03_00_0",
                "/org/iommud1/device/pci_0000a03_00_0",        /* separators where they belong */
                "/org/iommud1/device/mdev_83b8f4f2_509f_382f_3c1e_e6bfe0fa100",
                "/org/iommud1/device/mdev_83B8F4F2_509F_382F_3C1E_E6BFE0FA1001",
                "/org/iommud1/device/mdev_83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
                "/org/iommud1/device/",
                "/org/iommud1/device",
                "/org/iommud1/group/pci_0000_03_00_0",
                "",
        };
        char back[64];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (bus_device_from_path(bad[i], back, sizeof(back)) != -EINVAL)
                        fail_msg("accepted %s", bad[i]);
        assert_int_equal(bus_device_from_path(NULL, back, sizeof(back)), -EINVAL);
        assert_int_equal(bus_device_from_path("/org/iommud1/device/pci_0000_03_00_0", back, 12), -ENOBUFS);
}

static void test_groups_and_leases(void **state) {
        char path[BUS_PATH_MAX], id[32];
        uint32_t g;

        bus_group_path(7, path);
        assert_string_equal(path, "/org/iommud1/group/7");
        assert_int_equal(bus_group_from_path(path, &g), 0);
        assert_int_equal(g, 7);
        bus_group_path(UINT32_MAX, path);
        assert_int_equal(bus_group_from_path(path, &g), 0);
        assert_true(g == UINT32_MAX);
        assert_int_equal(bus_group_from_path("/org/iommud1/group/0", &g), 0);
        assert_int_equal(g, 0);
        assert_int_equal(bus_group_from_path("/org/iommud1/group/07", &g), -EINVAL);
        assert_int_equal(bus_group_from_path("/org/iommud1/group/4294967296", &g), -EINVAL);
        assert_int_equal(bus_group_from_path("/org/iommud1/group/-1", &g), -EINVAL);
        assert_int_equal(bus_group_from_path("/org/iommud1/group/", &g), -EINVAL);
        assert_int_equal(bus_group_from_path("/org/iommud1/group/1/2", &g), -EINVAL);
        assert_int_equal(bus_group_from_path("/org/iommud1/lease/1", &g), -EINVAL);

        assert_int_equal(bus_lease_path("3f2a9c0d5e6b7a18", path), 0);
        assert_string_equal(path, "/org/iommud1/lease/3f2a9c0d5e6b7a18");
        assert_int_equal(bus_lease_from_path(path, id, sizeof(id)), 0);
        assert_string_equal(id, "3f2a9c0d5e6b7a18");
        assert_int_equal(bus_lease_path("3F2A9C0D5E6B7A18", path), -EINVAL);
        assert_int_equal(bus_lease_path("0000000000000000", path), -EINVAL);
        assert_int_equal(bus_lease_path("../3f2a9c0d5e6b7", path), -EINVAL);
        assert_int_equal(bus_lease_from_path("/org/iommud1/lease/3f2a9c0d5e6b7a1", id, sizeof(id)), -EINVAL);
        assert_int_equal(bus_lease_from_path("/org/iommud1/lease/3f2a9c0d5e6b7a18/x", id, sizeof(id)), -EINVAL);
        assert_int_equal(bus_lease_from_path("/org/iommud1/group/3f2a9c0d5e6b7a18", id, sizeof(id)), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_devices),
                cmocka_unit_test(test_device_paths_refused),
                cmocka_unit_test(test_groups_and_leases),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
