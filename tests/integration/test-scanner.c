/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scanner against a umockdev testbed: a realistic fake host is
 * enumerated right, and hotplug, bind and unbind uevents keep the registry
 * equal to the fake sysfs, through a storm of 4096 VF additions and their
 * removal (the PF's VF count following, with no uevent of its own).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "registry.h"
#include "scanner.h"
#include "shared/macro.h"
#include "testbed.h"

typedef struct Fixture {
        Testbed *t;
        sd_event *e;
        Sysfs *sysfs;
        Registry *reg;
        Scanner *scanner;
        unsigned changes;
} Fixture;

static void on_device(Registry *r, RegistryChange what, const Device *d, void *userdata) {
        ((Fixture *) userdata)->changes++;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        RegistryCallbacks cb = { .device = on_device, .userdata = f };

        f->t = testbed_new();
        testbed_add_sample_host(f->t);
        assert_int_equal(sd_event_new(&f->e), 0);
        assert_int_equal(sysfs_new("/sys", &f->sysfs), 0);
        assert_int_equal(registry_new(&cb, &f->reg), 0);
        assert_int_equal(scanner_new(f->e, f->sysfs, f->reg, &f->scanner), 0);
        assert_int_equal(scanner_start(f->scanner), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        scanner_free(f->scanner);
        registry_free(f->reg);
        sysfs_free(f->sysfs);
        sd_event_unref(f->e);
        testbed_free(f->t);
        free(f);
        return 0;
}

/* Run the loop until @cond holds or 5 s pass. */
#define RUN_UNTIL(f, cond)                                                      \
        do {                                                                    \
                for (int _i = 0; _i < 500 && !(cond); _i++)                     \
                        assert_true(sd_event_run((f)->e, 10 * 1000) >= 0);      \
                assert_true(cond);                                              \
        } while (0)

static const char *driver_of(Fixture *f, const char *name) {
        const Device *d = registry_get_device(f->reg, name);
        return d && d->driver ? d->driver : "(none)";
}

static void test_enumeration(void **state) {
        Fixture *f = *state;
        const Group *g;
        const Device *d;

        assert_int_equal(registry_n_devices(f->reg), 8);
        assert_int_equal(registry_n_groups(f->reg), 5);
        g = registry_get_group(f->reg, 2);
        assert_int_equal(g->n_members, 3);
        assert_false(g->viable);        /* e1000e */
        assert_true(registry_get_group(f->reg, 1)->viable);     /* pcieport manages DMA */
        assert_false(registry_get_group(f->reg, 3)->viable);    /* pci-pf-stub does not */
        d = registry_get_device(f->reg, "0000:03:10.2");
        assert_non_null(d);
        assert_string_equal(d->physfn, "0000:03:00.0");
        d = registry_get_device(f->reg, "0000:03:00.0");
        assert_int_equal(d->sriov_totalvfs, 4096);
        assert_int_equal(d->sriov_numvfs, 2);
        assert_int_equal(d->vendor_id, 0x8086);
        assert_int_equal(registry_get_device(f->reg, "0000:00:1f.0")->iommu_group, DEVICE_NO_GROUP);
}

static void test_bind_unbind_remove(void **state) {
        Fixture *f = *state;
        const char *dev = "/sys/devices/pci0000:00/0000:01:00.0";

        /* e1000e -> vfio-pci, as the kernel does it: the link, then "bind". */
        testbed_set_driver(f->t, "0000:01:00.0", "vfio-pci");
        umockdev_testbed_uevent(f->t->tb, dev, "bind");
        RUN_UNTIL(f, strcmp(driver_of(f, "0000:01:00.0"), "vfio-pci") == 0);
        assert_true(registry_get_group(f->reg, 2)->viable);

        testbed_set_driver(f->t, "0000:01:00.0", NULL);
        umockdev_testbed_uevent(f->t->tb, dev, "unbind");
        RUN_UNTIL(f, strcmp(driver_of(f, "0000:01:00.0"), "(none)") == 0);
        assert_true(registry_get_group(f->reg, 2)->viable);

        /* Removal: the uevent first (it reads the device), then the files. */
        umockdev_testbed_uevent(f->t->tb, dev, "remove");
        umockdev_testbed_remove_device(f->t->tb, dev);
        RUN_UNTIL(f, registry_get_device(f->reg, "0000:01:00.0") == NULL);
        assert_int_equal(registry_get_group(f->reg, 2)->n_members, 2);

        /* A hot-added device in a new group. */
        testbed_add_pci(f->t, "0000:04:00.0", 0x1234, 0x11e8, 7, NULL);
        RUN_UNTIL(f, registry_get_device(f->reg, "0000:04:00.0") != NULL);
        assert_non_null(registry_get_group(f->reg, 7));
}

static void test_vf_storm(void **state) {
        Fixture *f = *state;
        const int n = 4096;

        /* umockdev delivers uevents over a unix datagram socket, whose
         * queue holds net.unix.max_dgram_qlen (10 by default) messages
         * and the sender does not wait: drain after every 8. */
        for (int i = 0; i < n; i++) {
                char bdf[PCI_ADDRESS_STRING_MAX];
                snprintf(bdf, sizeof(bdf), "0000:%02x:%02x.%d", 0x20 + i / 256, (i / 8) % 32, i % 8);
                testbed_add_vf(f->t, bdf, "0000:03:00.0", 100 + i);
                if (i % 8 == 7)
                        while (sd_event_run(f->e, 0) > 0)
                                ;
        }
        RUN_UNTIL(f, registry_n_devices(f->reg) == (size_t) (8 + n));
        assert_int_equal(registry_n_groups(f->reg), 5 + n);

        /* The registry equals the fake sysfs, device by device. */
        for (int i = 0; i < n; i++) {
                char bdf[PCI_ADDRESS_STRING_MAX];
                const Device *d;
                snprintf(bdf, sizeof(bdf), "0000:%02x:%02x.%d", 0x20 + i / 256, (i / 8) % 32, i % 8);
                d = registry_get_device(f->reg, bdf);
                assert_non_null(d);
                assert_int_equal(d->iommu_group, 100 + i);
                assert_string_equal(d->physfn, "0000:03:00.0");
        }
        /* The PF counts them, though no uevent of its own said so. */
        assert_int_equal(registry_get_device(f->reg, "0000:03:00.0")->sriov_numvfs, 2 + n);

        /* And back: every one removed, the PF's count follows, though each
         * VF was re-read without its physfn link first (an "unbind" after
         * the kernel took the links, as for VFs on vfio-pci). */
        for (int i = 0; i < n; i++) {
                char bdf[PCI_ADDRESS_STRING_MAX];
                snprintf(bdf, sizeof(bdf), "0000:%02x:%02x.%d", 0x20 + i / 256, (i / 8) % 32, i % 8);
                testbed_remove_vf(f->t, bdf, "0000:03:00.0", (unsigned) (2 + i), true);
                if (i % 4 == 3)         /* 8 uevents */
                        while (sd_event_run(f->e, 0) > 0)
                                ;
        }
        RUN_UNTIL(f, registry_n_devices(f->reg) == 8);
        assert_int_equal(registry_n_groups(f->reg), 5);
        assert_int_equal(registry_get_device(f->reg, "0000:03:00.0")->sriov_numvfs, 2);
        assert_int_equal(scanner_get_stats(f->scanner)->rescans, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_enumeration, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bind_unbind_remove, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vf_storm, setup, teardown),
        };
        if (!testbed_preloaded())
                return 77;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
