/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "testbed.h"

bool testbed_preloaded(void) {
        const char *p = getenv("LD_PRELOAD");
        return p && strstr(p, "libumockdev-preload");
}

Testbed *testbed_new(void) {
        Testbed *t = calloc(1, sizeof(*t));
        assert_non_null(t);
        t->tb = umockdev_testbed_new();
        assert_non_null(t->tb);
        /* Only after the testbed exists (umockdev caches the answer). */
        assert_true(umockdev_in_mock_environment());
        t->root = umockdev_testbed_get_root_dir(t->tb);
        return t;
}

void testbed_free(Testbed *t) {
        if (!t)
                return;
        g_object_unref(t->tb);
        g_free(t->root);
        free(t);
}

/* Make /sys/kernel/iommu_groups/@group and link /sys/devices/@devdir
 * into it, as the kernel lays a group out. */
static void group_link(Testbed *t, int group, const char *devdir) {
        char path[64], name[128], link[192];
        const char *base = strrchr(devdir, '/');

        snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d", group);
        snprintf(name, sizeof(name), "iommu_groups/%d/type", group);
        umockdev_testbed_set_attribute(t->tb, "/sys/kernel", name, "DMA");
        snprintf(link, sizeof(link), "../../../../devices/%s", devdir);
        snprintf(name, sizeof(name), "devices/%s", base ? base + 1 : devdir);
        umockdev_testbed_set_attribute_link(t->tb, path, name, link);
}

void testbed_add_pci(Testbed *t, const char *bdf, uint16_t vendor, uint16_t device,
                     int group, const char *driver) {
        char desc[2048], grp[256] = "", drv[256] = "", drvprop[128] = "";
        GError *err = NULL;

        if (group >= 0) {
                char devdir[64];
                snprintf(grp, sizeof(grp), "L: iommu_group=../../../kernel/iommu_groups/%d\n", group);
                snprintf(devdir, sizeof(devdir), "pci0000:00/%s", bdf);
                group_link(t, group, devdir);
        }
        if (driver) {
                char drvdir[128];
                snprintf(drv, sizeof(drv), "L: driver=../../../bus/pci/drivers/%s\n", driver);
                snprintf(drvprop, sizeof(drvprop), "E: DRIVER=%s\n", driver);
                snprintf(drvdir, sizeof(drvdir), "drivers/%s/uevent", driver);
                umockdev_testbed_set_attribute(t->tb, "/sys/bus/pci", drvdir, "");
        }
        snprintf(desc, sizeof(desc),
                 "P: /devices/pci0000:00/%s\n"
                 "E: SUBSYSTEM=pci\n"
                 "E: PCI_SLOT_NAME=%s\n"
                 "E: PCI_ID=%04X:%04X\n"
                 "%s"
                 "A: vendor=0x%04x\n"
                 "A: device=0x%04x\n"
                 "%s%s",
                 bdf, bdf, vendor, device, drvprop, vendor, device, grp, drv);
        assert_true(umockdev_testbed_add_from_string(t->tb, desc, &err));
        assert_null(err);
}

void testbed_add_vf(Testbed *t, const char *bdf, const char *pf, int group) {
        char desc[1024], devdir[64], pfdir[96], link[32], target[64];
        GError *err = NULL;

        snprintf(devdir, sizeof(devdir), "pci0000:00/%s", bdf);
        group_link(t, group, devdir);
        snprintf(desc, sizeof(desc),
                 "P: /devices/pci0000:00/%s\n"
                 "E: SUBSYSTEM=pci\n"
                 "E: PCI_SLOT_NAME=%s\n"
                 "A: vendor=0x8086\n"
                 "A: device=0x10ca\n"
                 "A: class=0x020000\n"
                 "L: iommu_group=../../../kernel/iommu_groups/%d\n"
                 "L: physfn=../%s\n",
                 bdf, bdf, group, pf);
        /* The PF's virtfnN link, as pci_iov_add_virtfn() makes it, before
         * the "add" goes out: the kernel makes it microseconds after its
         * uevent, which reaches iommud only once udevd ran its rules. */
        snprintf(pfdir, sizeof(pfdir), "/sys/devices/pci0000:00/%s", pf);
        snprintf(link, sizeof(link), "virtfn%u", t->n_vfs++);
        snprintf(target, sizeof(target), "../%s", bdf);
        umockdev_testbed_set_attribute_link(t->tb, pfdir, link, target);
        assert_true(umockdev_testbed_add_from_string(t->tb, desc, &err));
        assert_null(err);
}

void testbed_remove_vf(Testbed *t, const char *bdf, const char *pf, unsigned index, bool bound) {
        char path[512], dev[96];

        /* As pci_iov_remove_virtfn(): both links first, then the VF,
         * whose driver (if any) lets go before it goes. */
        snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/%s/virtfn%u", t->root, pf, index);
        assert_int_equal(unlink(path), 0);
        snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/%s/physfn", t->root, bdf);
        assert_int_equal(unlink(path), 0);
        snprintf(dev, sizeof(dev), "/sys/devices/pci0000:00/%s", bdf);
        if (bound)
                umockdev_testbed_uevent(t->tb, dev, "unbind");
        umockdev_testbed_uevent(t->tb, dev, "remove");
        umockdev_testbed_remove_device(t->tb, dev);
}

void testbed_set_driver(Testbed *t, const char *bdf, const char *driver) {
        char path[512], target[256];

        snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/%s/driver", t->root, bdf);
        (void) unlink(path);
        if (driver) {
                char drvdir[128];
                snprintf(drvdir, sizeof(drvdir), "drivers/%s/uevent", driver);
                umockdev_testbed_set_attribute(t->tb, "/sys/bus/pci", drvdir, "");
                snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", driver);
                assert_int_equal(symlink(target, path), 0);
        }
}

/* The fake host: a root port, a conventional bridge with two devices in
 * one group, an SR-IOV PF with two VFs, a device with no IOMMU group. */
void testbed_add_sample_host(Testbed *t) {
        testbed_add_pci(t, "0000:00:01.0", 0x1b36, 0x000c, 1, "pcieport");
        testbed_add_pci(t, "0000:00:02.0", 0x1b36, 0x0001, 2, NULL);
        testbed_add_pci(t, "0000:01:00.0", 0x8086, 0x10d3, 2, "e1000e");
        testbed_add_pci(t, "0000:01:01.0", 0x1234, 0x11e8, 2, NULL);
        testbed_add_pci(t, "0000:03:00.0", 0x8086, 0x10c9, 3, "pci-pf-stub");
        umockdev_testbed_set_attribute(t->tb, "/sys/devices/pci0000:00/0000:03:00.0", "sriov_totalvfs", "4096");
        umockdev_testbed_set_attribute(t->tb, "/sys/devices/pci0000:00/0000:03:00.0", "sriov_numvfs", "2");
        umockdev_testbed_set_attribute(t->tb, "/sys/devices/pci0000:00/0000:03:00.0", "sriov_drivers_autoprobe", "1");
        testbed_add_vf(t, "0000:03:10.0", "0000:03:00.0", 4);
        testbed_add_vf(t, "0000:03:10.2", "0000:03:00.0", 5);
        testbed_add_pci(t, "0000:00:1f.0", 0x8086, 0x2918, -1, NULL);
}


void testbed_add_mtty(Testbed *t, const char *uuid, int group) {
        static const char *const parent = "/sys/devices/virtual/mtty/mtty";
        char desc[1024], devdir[96];
        GError *err = NULL;

        umockdev_testbed_set_attribute(t->tb, parent, "mdev_supported_types/mtty-1/name", "Single port serial");
        umockdev_testbed_set_attribute(t->tb, parent, "mdev_supported_types/mtty-1/available_instances", "24");
        umockdev_testbed_set_attribute(t->tb, parent, "mdev_supported_types/mtty-1/device_api", "vfio-pci");
        umockdev_testbed_set_attribute(t->tb, parent, "mdev_supported_types/mtty-2/name", "Dual port serial");
        umockdev_testbed_set_attribute(t->tb, parent, "mdev_supported_types/mtty-2/available_instances", "11");
        umockdev_testbed_set_attribute(t->tb, parent, "mdev_supported_types/mtty-2/device_api", "vfio-pci");
        umockdev_testbed_set_attribute_link(t->tb, "/sys/class", "mdev_bus/mtty", "../../devices/virtual/mtty/mtty");
        if (!uuid)
                return;
        snprintf(devdir, sizeof(devdir), "virtual/mtty/mtty/%s", uuid);
        group_link(t, group, devdir);
        snprintf(desc, sizeof(desc),
                 "P: /devices/virtual/mtty/mtty/%s\n"
                 "E: SUBSYSTEM=mdev\n"
                 "E: MDEV_TYPE=mtty-2\n"
                 "L: mdev_type=../mdev_supported_types/mtty-2\n"
                 "L: iommu_group=../../../../../kernel/iommu_groups/%d\n",
                 uuid, group);
        assert_true(umockdev_testbed_add_from_string(t->tb, desc, &err));
        assert_null(err);
}

void testbed_add_rebind_files(Testbed *t, const char *bdf) {
        char dev[96], path[512];
        ssize_t n;

        snprintf(dev, sizeof(dev), "/sys/devices/pci0000:00/%s", bdf);
        umockdev_testbed_set_attribute(t->tb, dev, "driver_override", "(null)");
        umockdev_testbed_set_attribute(t->tb, "/sys/bus/pci", "drivers_probe", "");
        snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/%s/driver", t->root, bdf);
        {
                char target[256], unbind[160];
                n = readlink(path, target, sizeof(target) - 1);
                if (n > 0) {
                        target[n] = 0;
                        snprintf(unbind, sizeof(unbind), "drivers/%s/unbind", strrchr(target, '/') + 1);
                        umockdev_testbed_set_attribute(t->tb, "/sys/bus/pci", unbind, "");
                }
        }
}

bool testbed_wait_file(Testbed *t, const char *path, const char *text, int seconds) {
        char p[512];
        static char buf[65536];

        snprintf(p, sizeof(p), "%s/%s", t->root, path);
        for (int i = 0; i < seconds * 100; i++) {
                FILE *f = fopen(p, "re");
                size_t n = 0;

                if (f) {
                        n = fread(buf, 1, sizeof(buf) - 1, f);
                        fclose(f);
                }
                buf[n] = 0;
                if (strstr(buf, text))
                        return true;
                usleep(10000);
        }
        return false;
}

void testbed_bind(Testbed *t, const char *bdf, const char *driver) {
        char dev[96];

        testbed_set_driver(t, bdf, driver);
        snprintf(dev, sizeof(dev), "/sys/devices/pci0000:00/%s", bdf);
        umockdev_testbed_uevent(t->tb, dev, "bind");
}

void testbed_expect_file(Testbed *t, const char *path, const char *text, int seconds) {
        char full[512], *content;
        FILE *f;
        size_t n;

        if (testbed_wait_file(t, path, text, seconds))
                return;
        snprintf(full, sizeof(full), "%s/%s", t->root, path);
        content = calloc(1, 65536);
        assert_non_null(content);
        f = fopen(full, "re");
        if (f) {
                n = fread(content, 1, 65535, f);
                content[n] = 0;
                fclose(f);
        }
        print_message("%s:\n%s\n", path, content);
        free(content);
        fail_msg("not in %s: %s", path, text);
}
