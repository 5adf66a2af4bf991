/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rebind planner (rebind.c, pure logic): which members of an IOMMU
 * group move, from where to where, the plan that undoes a prefix of
 * another, and the names a step may carry.  Groups are built in memory;
 * nothing touches sysfs.
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

#include "device.h"
#include "group.h"
#include "rebind.h"
#include "shared/macro.h"

#define MAX_DEVICES 8

typedef struct Fixture {
        Group *g;
        Device *d[MAX_DEVICES];
        size_t n;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->g = group_new(7);
        assert_non_null(f->g);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        group_free(f->g);
        for (size_t i = 0; i < f->n; i++)
                device_free(f->d[i]);
        free(f);
        return 0;
}

/* A PCI function of group 7, as the scanner would have filled it in. */
static Device *add_pci(Fixture *f, const char *name, uint32_t class_code, const char *driver, const char *override) {
        Device *d = device_new(DEVICE_PCI, name);

        assert_non_null(d);
        assert_true(f->n < MAX_DEVICES);
        assert_int_equal(pci_address_parse(name, &d->address), 0);
        d->class_code = class_code;
        d->iommu_group = f->g->id;
        if (driver)
                assert_non_null(d->driver = strdup(driver));
        if (override)
                assert_non_null(d->driver_override = strdup(override));
        assert_int_equal(group_add_member(f->g, d), 0);
        f->d[f->n++] = d;
        return d;
}

static RebindPlan *prepare(Fixture *f, const Device *const *targets, size_t n, RebindVariantFn variant, void *ud) {
        RebindPlan *p = NULL;
        assert_int_equal(rebind_plan_prepare(f->g, targets, n, variant, ud, &p), 0);
        assert_non_null(p);
        return p;
}

static void assert_str_or_null(const char *got, const char *want) {
        if (want)
                assert_string_equal(got, want);
        else
                assert_null(got);
}

static void assert_step(const RebindStep *s, const char *name, const char *from_driver, const char *from_override,
                        const char *to_driver, const char *to_override) {
        assert_string_equal(s->name, name);
        assert_str_or_null(s->from_driver, from_driver);
        assert_str_or_null(s->from_override, from_override);
        assert_str_or_null(s->to_driver, to_driver);
        assert_str_or_null(s->to_override, to_override);
}

static void test_lone_nic(void **state) {
        Fixture *f = *state;
        const Device *nic = add_pci(f, "0000:00:04.0", 0x020000, "e1000e", NULL);
        _cleanup_(rebind_plan_freep) RebindPlan *p = prepare(f, &nic, 1, NULL, NULL);

        assert_int_equal(p->n, 1);
        assert_step(&p->steps[0], "0000:00:04.0", "e1000e", NULL, "vfio-pci", "vfio-pci");
}

static void test_group_with_bridge(void **state) {
        Fixture *f = *state;
        /* The bridge is on a driver that would block (not pcieport): its
         * class alone keeps it where it is. */
        add_pci(f, "0000:00:1c.0", 0x060400, "shpchp", NULL);
        const Device *edu = add_pci(f, "0000:01:00.0", 0x00ff00, NULL, NULL);
        add_pci(f, "0000:01:00.1", 0x020000, "virtio-pci", NULL);
        _cleanup_(rebind_plan_freep) RebindPlan *p = prepare(f, &edu, 1, NULL, NULL);

        /* In the group's order: the target (unbound, so from nowhere) and
         * the member that blocks the group. */
        assert_int_equal(p->n, 2);
        assert_step(&p->steps[0], "0000:01:00.0", NULL, NULL, "vfio-pci", "vfio-pci");
        assert_step(&p->steps[1], "0000:01:00.1", "virtio-pci", NULL, "vfio-pci", "vfio-pci");
}

static void test_semi_transparent_bridge(void **state) {
        Fixture *f = *state;
        const Device *b = add_pci(f, "0000:00:1e.0", 0x060901, "shpchp", NULL);
        _cleanup_(rebind_plan_freep) RebindPlan *p = prepare(f, &b, 1, NULL, NULL);

        assert_true(device_is_bridge(b));
        assert_int_equal(p->n, 0);
}

static void test_members_left_alone(void **state) {
        Fixture *f = *state;
        /* Each a target: even so, none moves. */
        static const struct {
                const char *name, *driver;
        } cases[] = {
                { "0000:00:02.0", "pci-stub" },
                { "0000:00:03.0", "vfio-pci" },
                { "0000:00:04.0", "mlx5_vfio_pci" },
                { "0000:00:05.0", "pcieport" },
        };
        const Device *targets[ELEMENTSOF(cases)];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                targets[i] = add_pci(f, cases[i].name, 0x020000, cases[i].driver, NULL);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(rebind_plan_freep) RebindPlan *p = prepare(f, &targets[i], 1, NULL, NULL);
                assert_int_equal(p->n, 0);
        }
        {
                _cleanup_(rebind_plan_freep) RebindPlan *p = prepare(f, targets, ELEMENTSOF(targets), NULL, NULL);
                assert_int_equal(p->n, 0);
        }
}

static void test_variant_suffix_must_be_a_suffix(void **state) {
        Fixture *f = *state;
        /* "_vfio_pci" alone is no variant driver name: it blocks, and moves. */
        const Device *d = add_pci(f, "0000:00:04.0", 0x020000, "_vfio_pci", NULL);
        _cleanup_(rebind_plan_freep) RebindPlan *p = prepare(f, &d, 1, NULL, NULL);

        assert_int_equal(p->n, 1);
        assert_step(&p->steps[0], "0000:00:04.0", "_vfio_pci", NULL, "vfio-pci", "vfio-pci");
}

static void test_unbound_non_target(void **state) {
        Fixture *f = *state;
        const Device *nic = add_pci(f, "0000:00:04.0", 0x020000, "e1000e", NULL);
        add_pci(f, "0000:00:04.1", 0x020000, NULL, NULL);
        add_pci(f, "0000:00:04.2", 0x020000, NULL, "e1000e");
        _cleanup_(rebind_plan_freep) RebindPlan *p = prepare(f, &nic, 1, NULL, NULL);

        assert_int_equal(p->n, 1);
        assert_string_equal(p->steps[0].name, "0000:00:04.0");
}

static void test_original_override_kept(void **state) {
        Fixture *f = *state;
        const Device *nic = add_pci(f, "0000:00:04.0", 0x020000, "e1000e", "e1000e");
        _cleanup_(rebind_plan_freep) RebindPlan *p = prepare(f, &nic, 1, NULL, NULL);

        assert_int_equal(p->n, 1);
        assert_step(&p->steps[0], "0000:00:04.0", "e1000e", "e1000e", "vfio-pci", "vfio-pci");
}

static void test_mdev_member_skipped(void **state) {
        Fixture *f = *state;
        Device *m = device_new(DEVICE_MDEV, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
        _cleanup_(rebind_plan_freep) RebindPlan *p = NULL;

        assert_non_null(m);
        assert_non_null(m->driver = strdup("vfio_mdev"));
        m->iommu_group = f->g->id;
        assert_int_equal(group_add_member(f->g, m), 0);
        f->d[f->n++] = m;
        p = prepare(f, (const Device *const *) &m, 1, NULL, NULL);
        assert_int_equal(p->n, 0);
}

typedef struct VariantCalls {
        unsigned calls;
} VariantCalls;

static const char *variant_mlx5(const Device *d, void *userdata) {
        VariantCalls *c = userdata;
        c->calls++;
        return d->vendor_id == 0x15b3 ? "mlx5_vfio_pci" : NULL;
}

static void test_variant_answer_used(void **state) {
        Fixture *f = *state;
        Device *mlx = add_pci(f, "0000:03:00.0", 0x020000, "mlx5_core", NULL);
        Device *other = add_pci(f, "0000:03:00.1", 0x020000, "e1000e", NULL);
        VariantCalls c = { 0 };
        const Device *targets[] = { mlx, other };
        _cleanup_(rebind_plan_freep) RebindPlan *p = NULL;

        mlx->vendor_id = 0x15b3;
        other->vendor_id = 0x8086;
        p = prepare(f, targets, 2, variant_mlx5, &c);
        assert_int_equal(c.calls, 2);
        assert_int_equal(p->n, 2);
        assert_step(&p->steps[0], "0000:03:00.0", "mlx5_core", NULL, "mlx5_vfio_pci", "mlx5_vfio_pci");
        /* No answer: vfio-pci. */
        assert_step(&p->steps[1], "0000:03:00.1", "e1000e", NULL, "vfio-pci", "vfio-pci");
}

static const char *variant_bad(const Device *d, void *userdata) {
        return "../evil";
}

static void test_variant_bad_name_refused(void **state) {
        Fixture *f = *state;
        const Device *nic = add_pci(f, "0000:00:04.0", 0x020000, "e1000e", NULL);
        RebindPlan *p = NULL;

        assert_int_equal(rebind_plan_prepare(f->g, &nic, 1, variant_bad, NULL, &p), -EINVAL);
        assert_null(p);
}

static void test_reverse(void **state) {
        _cleanup_(rebind_plan_freep) RebindPlan *p = calloc(1, sizeof(*p));
        _cleanup_(rebind_plan_freep) RebindPlan *r2 = NULL, *rall = NULL, *r0 = NULL;

        assert_non_null(p);
        assert_int_equal(rebind_plan_add(p, "0000:00:04.0", "e1000e", NULL, "vfio-pci", "vfio-pci"), 0);
        assert_int_equal(rebind_plan_add(p, "0000:00:05.0", NULL, "virtio-pci", "vfio-pci", "vfio-pci"), 0);
        assert_int_equal(rebind_plan_add(p, "0000:00:06.0", "virtio-pci", NULL, "mlx5_vfio_pci", NULL), 0);

        /* The first two, last first, each from where it went back to
         * where it came from. */
        assert_int_equal(rebind_plan_reverse(p, 2, &r2), 0);
        assert_int_equal(r2->n, 2);
        assert_step(&r2->steps[0], "0000:00:05.0", "vfio-pci", "vfio-pci", NULL, "virtio-pci");
        assert_step(&r2->steps[1], "0000:00:04.0", "vfio-pci", "vfio-pci", "e1000e", NULL);

        /* More than there are: all of them. */
        assert_int_equal(rebind_plan_reverse(p, 10, &rall), 0);
        assert_int_equal(rall->n, 3);
        assert_step(&rall->steps[0], "0000:00:06.0", "mlx5_vfio_pci", NULL, "virtio-pci", NULL);
        assert_string_equal(rall->steps[2].name, "0000:00:04.0");

        assert_int_equal(rebind_plan_reverse(p, 0, &r0), 0);
        assert_int_equal(r0->n, 0);

        /* The original is untouched. */
        assert_int_equal(p->n, 3);
        assert_step(&p->steps[0], "0000:00:04.0", "e1000e", NULL, "vfio-pci", "vfio-pci");
}

static void test_add_rejects_bad_names(void **state) {
        _cleanup_(rebind_plan_freep) RebindPlan *p = calloc(1, sizeof(*p));
        static const char *const bad_addresses[] = {
                "00:04.0", "0000:00:04.0/..", "", "0000:00:04.0\n", " 0000:00:04.0", "0000:00:1F.0",
                "0000:00:20.0", "../0000:00:04.0",
        };
        static const char *const bad_drivers[] = {
                "../x", "a/b", "..", ".", "", "e1000e\n", "a b",
                /* 64 characters: one too many */
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        };

        assert_non_null(p);
        for (size_t i = 0; i < ELEMENTSOF(bad_addresses); i++)
                assert_int_equal(rebind_plan_add(p, bad_addresses[i], "e1000e", NULL, "vfio-pci", "vfio-pci"),
                                 -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(bad_drivers); i++) {
                const char *b = bad_drivers[i];
                assert_int_equal(rebind_plan_add(p, "0000:00:04.0", b, NULL, "vfio-pci", "vfio-pci"), -EINVAL);
                assert_int_equal(rebind_plan_add(p, "0000:00:04.0", NULL, b, "vfio-pci", "vfio-pci"), -EINVAL);
                assert_int_equal(rebind_plan_add(p, "0000:00:04.0", "e1000e", NULL, b, "vfio-pci"), -EINVAL);
                assert_int_equal(rebind_plan_add(p, "0000:00:04.0", "e1000e", NULL, "vfio-pci", b), -EINVAL);
        }
        /* Nothing was added by a refused call. */
        assert_int_equal(p->n, 0);

        /* The longest allowed, the long domain form and NULLs are fine. */
        assert_int_equal(rebind_plan_add(p, "0000:00:04.0", NULL, NULL, NULL, NULL), 0);
        assert_int_equal(rebind_plan_add(p, "10000:e1:1f.7", "e1000e", NULL,
                                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL), 0);
        assert_int_equal(p->n, 2);
        assert_step(&p->steps[0], "0000:00:04.0", NULL, NULL, NULL, NULL);
        assert_string_equal(p->steps[1].name, "10000:e1:1f.7");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_lone_nic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_with_bridge, setup, teardown),
                cmocka_unit_test_setup_teardown(test_semi_transparent_bridge, setup, teardown),
                cmocka_unit_test_setup_teardown(test_members_left_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_variant_suffix_must_be_a_suffix, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unbound_non_target, setup, teardown),
                cmocka_unit_test_setup_teardown(test_original_override_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mdev_member_skipped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_variant_answer_used, setup, teardown),
                cmocka_unit_test_setup_teardown(test_variant_bad_name_refused, setup, teardown),
                cmocka_unit_test(test_reverse),
                cmocka_unit_test(test_add_rejects_bad_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
