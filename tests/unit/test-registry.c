/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry and the viability rule: group membership follows devices,
 * viability follows drivers, and the owner hears of every change once.
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
#include "shared/macro.h"

typedef struct Events {
        unsigned dev[3], grp[3];
        char last_device[64];
        int64_t last_group;
} Events;

static void on_device(Registry *r, RegistryChange what, const Device *d, void *userdata) {
        Events *e = userdata;
        e->dev[what]++;
        snprintf(e->last_device, sizeof(e->last_device), "%s", d->name);
}

static void on_group(Registry *r, RegistryChange what, const Group *g, void *userdata) {
        Events *e = userdata;
        e->grp[what]++;
        e->last_group = g->id;
}

static Device *pci(const char *bdf, int64_t group, const char *driver) {
        Device *d = device_new(DEVICE_PCI, bdf);
        assert_non_null(d);
        assert_int_equal(pci_address_parse(bdf, &d->address), 0);
        d->iommu_group = group;
        d->driver = driver ? strdup(driver) : NULL;
        return d;
}

static void test_driver_rule(void **state) {
        static const struct { const char *driver; bool blocks; } t[] = {
                { NULL, false }, { "vfio-pci", false }, { "pci-stub", false }, { "pcieport", false },
                { "mlx5_vfio_pci", false }, { "hisi_acc_vfio_pci", false }, { "virtio_vfio_pci", false },
                { "e1000e", true }, { "virtio-pci", true }, { "pci-pf-stub", true }, { "nvme", true },
                { "vfio_pci", true },   /* the suffix needs something in front */
                { "vfio-pci-core", true }, { "xvfio-pci", true },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(device_freep) Device *d = pci("0000:00:03.0", 1, t[i].driver);
                const char *reason = "x";
                if (device_blocks_group(d, &reason) != t[i].blocks)
                        fail_msg("driver %s: expected blocks=%d", t[i].driver ? t[i].driver : "(none)", t[i].blocks);
                if (t[i].blocks)
                        assert_non_null(reason);
                else
                        assert_null(reason);
        }
        /* Without a group there is nothing to block. */
        _cleanup_(device_freep) Device *nogroup = pci("0000:00:1f.0", DEVICE_NO_GROUP, "e1000e");
        assert_false(device_blocks_group(nogroup, NULL));

        /* mdevs never block. */
        _cleanup_(device_freep) Device *m = device_new(DEVICE_MDEV, "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d01");
        m->driver = strdup("mtty");
        assert_false(device_blocks_group(m, NULL));
}

static void test_bridged_group_viability(void **state) {
        Events e = { 0 };
        RegistryCallbacks cb = { .device = on_device, .group = on_group, .userdata = &e };
        _cleanup_(registry_freep) Registry *r = NULL;
        const Group *g;

        assert_int_equal(registry_new(&cb, &r), 0);
        assert_int_equal(registry_put_device(r, pci("0000:00:05.0", 3, NULL)), 1);
        assert_int_equal(registry_put_device(r, pci("0000:01:02.0", 3, "virtio-pci")), 1);
        assert_int_equal(registry_put_device(r, pci("0000:01:01.0", 3, NULL)), 1);
        assert_int_equal(e.dev[REGISTRY_ADDED], 3);
        assert_int_equal(e.grp[REGISTRY_ADDED], 1);
        assert_int_equal(e.grp[REGISTRY_CHANGED], 2);

        g = registry_get_group(r, 3);
        assert_non_null(g);
        assert_int_equal(g->n_members, 3);
        /* Members sorted by address, whatever the arrival order. */
        assert_string_equal(g->members[0]->name, "0000:00:05.0");
        assert_string_equal(g->members[1]->name, "0000:01:01.0");
        assert_string_equal(g->members[2]->name, "0000:01:02.0");
        assert_false(g->viable);

        /* The edu goes to vfio-pci: still blocked by virtio-net. */
        assert_int_equal(registry_put_device(r, pci("0000:01:01.0", 3, "vfio-pci")), 1);
        assert_false(registry_get_group(r, 3)->viable);
        /* virtio-net goes to vfio-pci: viable. */
        assert_int_equal(registry_put_device(r, pci("0000:01:02.0", 3, "vfio-pci")), 1);
        g = registry_get_group(r, 3);
        assert_true(g->viable);
        assert_int_equal(g->n_members, 3);
        assert_int_equal(e.dev[REGISTRY_CHANGED], 2);

        /* JSON agrees. */
        json_object *o = group_to_json(g), *v;
        assert_true(json_object_object_get_ex(o, "viable", &v));
        assert_true(json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(o, "blockers", &v));
        assert_int_equal(json_object_array_length(v), 0);
        json_object_put(o);

        /* Back to virtio-pci: the blocker is named. */
        assert_int_equal(registry_put_device(r, pci("0000:01:02.0", 3, "virtio-pci")), 1);
        o = group_to_json(registry_get_group(r, 3));
        assert_true(json_object_object_get_ex(o, "blockers", &v));
        assert_int_equal(json_object_array_length(v), 1);
        v = json_object_array_get_idx(v, 0);
        json_object *dev, *drv;
        assert_true(json_object_object_get_ex(v, "device", &dev));
        assert_string_equal(json_object_get_string(dev), "0000:01:02.0");
        assert_true(json_object_object_get_ex(v, "driver", &drv));
        assert_string_equal(json_object_get_string(drv), "virtio-pci");
        json_object_put(o);
}

static void test_unchanged_is_silent(void **state) {
        Events e = { 0 };
        RegistryCallbacks cb = { .device = on_device, .group = on_group, .userdata = &e };
        _cleanup_(registry_freep) Registry *r = NULL;

        assert_int_equal(registry_new(&cb, &r), 0);
        assert_int_equal(registry_put_device(r, pci("0000:00:03.0", 1, "e1000e")), 1);
        memset(&e, 0, sizeof(e));
        assert_int_equal(registry_put_device(r, pci("0000:00:03.0", 1, "e1000e")), 0);
        assert_int_equal(e.dev[0] + e.dev[1] + e.dev[2] + e.grp[0] + e.grp[1] + e.grp[2], 0);
}

static void test_group_follows_device(void **state) {
        Events e = { 0 };
        RegistryCallbacks cb = { .device = on_device, .group = on_group, .userdata = &e };
        _cleanup_(registry_freep) Registry *r = NULL;

        assert_int_equal(registry_new(&cb, &r), 0);
        assert_int_equal(registry_put_device(r, pci("0000:00:03.0", 1, NULL)), 1);
        assert_int_equal(registry_put_device(r, pci("0000:00:1f.0", DEVICE_NO_GROUP, "lpc_ich")), 1);
        assert_int_equal(registry_n_groups(r), 1);
        /* A device with no group joins none and blocks nothing. */
        assert_true(registry_get_group(r, 1)->viable);

        /* Moving to another group (a rescan after an ACS change) empties
         * and drops the old one. */
        memset(&e, 0, sizeof(e));
        assert_int_equal(registry_put_device(r, pci("0000:00:03.0", 9, NULL)), 1);
        assert_null(registry_get_group(r, 1));
        assert_non_null(registry_get_group(r, 9));
        assert_int_equal(e.grp[REGISTRY_REMOVED], 1);
        assert_int_equal(e.grp[REGISTRY_ADDED], 1);

        assert_int_equal(registry_remove_device(r, "0000:00:03.0"), 0);
        assert_null(registry_get_group(r, 9));
        assert_int_equal(registry_remove_device(r, "0000:00:03.0"), -ENOENT);
        assert_int_equal(registry_n_devices(r), 1);
        assert_string_equal(e.last_device, "0000:00:03.0");
}

static void test_rescan_sweeps(void **state) {
        Events e = { 0 };
        RegistryCallbacks cb = { .device = on_device, .group = on_group, .userdata = &e };
        _cleanup_(registry_freep) Registry *r = NULL;
        const Device **list = NULL;
        size_t n;

        assert_int_equal(registry_new(&cb, &r), 0);
        for (int i = 0; i < 4096; i++) {
                char bdf[PCI_ADDRESS_STRING_MAX];
                snprintf(bdf, sizeof(bdf), "0000:%02x:%02x.%d", 0x10 + i / 256, (i / 8) % 32, i % 8);
                assert_int_equal(registry_put_device(r, pci(bdf, 100 + i, NULL)), 1);
        }
        assert_int_equal(registry_n_devices(r), 4096);
        assert_int_equal(registry_n_groups(r), 4096);

        /* A rescan that finds only two of them. */
        registry_scan_begin(r);
        assert_int_equal(registry_put_device(r, pci("0000:10:00.0", 100, NULL)), 0);
        assert_int_equal(registry_put_device(r, pci("0000:1f:1f.7", 4195, "vfio-pci")), 1);
        memset(&e, 0, sizeof(e));
        registry_scan_end(r);
        assert_int_equal(e.dev[REGISTRY_REMOVED], 4094);
        assert_int_equal(registry_n_devices(r), 2);
        assert_int_equal(registry_n_groups(r), 2);

        assert_int_equal(registry_list_devices(r, &list, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(list[0]->name, "0000:10:00.0");
        assert_string_equal(list[1]->name, "0000:1f:1f.7");
        free(list);
}

static bool deny_all_but_edu(const Device *d, char *reason, size_t size, void *userdata) {
        bool ok = d->device_id == 0x11e8;
        snprintf(reason, size, ok ? "allowed by test:1" : "not listed");
        return ok;
}

static void test_policy_in_json(void **state) {
        RegistryCallbacks cb = { .policy = deny_all_but_edu };
        _cleanup_(registry_freep) Registry *r = NULL;
        Device *edu = pci("0000:00:03.0", 1, NULL), *nic = pci("0000:00:04.0", 2, "e1000e");
        json_object *o;

        edu->device_id = 0x11e8;
        nic->device_id = 0x10d3;
        assert_int_equal(registry_new(&cb, &r), 0);
        assert_int_equal(registry_put_device(r, edu), 1);
        assert_int_equal(registry_put_device(r, nic), 1);
        o = registry_device_to_json(r, registry_get_device(r, "0000:00:03.0"));
        assert_true(json_object_get_boolean(json_object_object_get(o, "policyAllows")));
        assert_string_equal(json_object_get_string(json_object_object_get(o, "policyReason")), "allowed by test:1");
        json_object_put(o);
        o = registry_device_to_json(r, registry_get_device(r, "0000:00:04.0"));
        assert_false(json_object_get_boolean(json_object_object_get(o, "policyAllows")));
        assert_string_equal(json_object_get_string(json_object_object_get(o, "policyReason")), "not listed");
        json_object_put(o);
        /* Without a policy nothing is allowed. */
        registry_free(TAKE_PTR(r));
        assert_int_equal(registry_new(NULL, &r), 0);
        assert_int_equal(registry_put_device(r, pci("0000:00:03.0", 1, NULL)), 1);
        o = registry_device_to_json(r, registry_get_device(r, "0000:00:03.0"));
        assert_false(json_object_get_boolean(json_object_object_get(o, "policyAllows")));
        json_object_put(o);
}

static void test_device_json(void **state) {
        _cleanup_(registry_freep) Registry *r = NULL;
        Device *d = pci("0000:00:03.0", 1, "vfio-pci");
        json_object *o, *v;

        d->vendor_id = 0x1234;
        d->device_id = 0x11e8;
        d->class_code = 0x00ff00;
        d->vfio_cdev = strdup("vfio0");
        d->vfio_group_node = true;
        assert_int_equal(registry_new(NULL, &r), 0);
        assert_int_equal(registry_put_device(r, d), 1);
        o = registry_device_to_json(r, registry_get_device(r, "0000:00:03.0"));
        assert_string_equal(json_object_get_string(json_object_object_get(o, "vendorId")), "1234");
        assert_string_equal(json_object_get_string(json_object_object_get(o, "classCode")), "00ff00");
        assert_string_equal(json_object_get_string(json_object_object_get(o, "vfioDevice")), "/dev/vfio/devices/vfio0");
        assert_string_equal(json_object_get_string(json_object_object_get(o, "vfioGroupNode")), "/dev/vfio/1");
        assert_int_equal(json_object_get_int(json_object_object_get(o, "iommuGroup")), 1);
        assert_true(json_object_get_boolean(json_object_object_get(o, "assignable")));
        assert_true(json_object_object_get_ex(o, "driverOverride", &v));
        assert_null(v);
        json_object_put(o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_driver_rule),
                cmocka_unit_test(test_bridged_group_viability),
                cmocka_unit_test(test_unchanged_is_silent),
                cmocka_unit_test(test_group_follows_device),
                cmocka_unit_test(test_rescan_sweeps),
                cmocka_unit_test(test_device_json),
                cmocka_unit_test(test_policy_in_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
