/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The [Persistent] planner: every outcome, from a state given as plain
 * data.  What must hold: nothing that exists is touched, a missing
 * parent defers, VFs in use keep their count, a count beyond
 * sriov_totalvfs or a type the parent does not offer is refused, VF counts
 * come before mdevs, and a UUID counts once.
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

#include "persistent.h"
#include "shared/macro.h"

#define U1 "6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0b"
#define U2 "0b1a2f3e-4d5c-4b6a-8b7a-6c5d4e3f2a1b"
#define U3 "11111111-2222-4333-8444-555555555555"
#define PF "0000:02:00.0"

#define MDEV(src, p, t, u) { .kind = PERSISTENT_MDEV, .source = src, .parent = p, .type = t, .uuid = u }
#define SRIOV(src, a, n) { .kind = PERSISTENT_SRIOV, .source = src, .pf = a, .numvfs = n }

static const PersistentTypeState types[] = {
        { "mtty", "mtty-1", 24 },
        { "mtty", "mtty-2", 2 },
        { "0000:03:00.0", "nvidia-63", -1 },
};

static PersistentPlan *plan(const PersistentDef *defs, size_t n, const PersistentState *st) {
        PersistentPlan *p = NULL;

        assert_int_equal(persistent_plan(defs, n, st, &p), 0);
        assert_non_null(p);
        assert_int_equal(p->n, n);
        return p;
}

static void test_mdev_created_when_missing(void **state) {
        const PersistentDef defs[] = { MDEV("iommud.conf:2", "mtty", "mtty-2", U1) };
        PersistentState st = { .types = types, .n_types = ELEMENTSOF(types) };
        PersistentPlan *p = plan(defs, ELEMENTSOF(defs), &st);
        char buf[512];

        assert_int_equal(p->steps[0].outcome, PERSISTENT_CREATE_MDEV);
        assert_int_equal(p->steps[0].kind, PERSISTENT_MDEV);
        assert_string_equal(p->steps[0].parent, "mtty");
        assert_string_equal(p->steps[0].type, "mtty-2");
        assert_string_equal(p->steps[0].uuid, U1);
        assert_string_equal(p->steps[0].source, "iommud.conf:2");
        assert_string_equal(persistent_step_describe(&p->steps[0], buf, sizeof(buf)),
                            "mdev " U1 " (mtty-2 of mtty, iommud.conf:2): creating it");
        persistent_plan_free(p);
}

static void test_mdev_present_is_left_alone(void **state) {
        const PersistentDef defs[] = { MDEV("iommud.conf:2", "mtty", "mtty-2", U1) };
        const PersistentMdevState mdevs[] = { { U1, "mtty", "mtty-2" } };
        PersistentState st = { .mdevs = mdevs, .n_mdevs = 1, .types = types, .n_types = ELEMENTSOF(types) };
        PersistentPlan *p = plan(defs, ELEMENTSOF(defs), &st);

        assert_int_equal(p->steps[0].outcome, PERSISTENT_PRESENT);
        assert_int_equal(persistent_plan_count(p, PERSISTENT_CREATE_MDEV), 0);
        persistent_plan_free(p);
}

/* The UUID is taken by another mdev: reported, never removed or recreated. */
static void test_mdev_conflict(void **state) {
        const PersistentDef defs[] = {
                MDEV("iommud.conf:2", "mtty", "mtty-2", U1),
                MDEV("iommud.conf:3", "mtty", "mtty-1", U2),
        };
        const PersistentMdevState mdevs[] = { { U1, "mtty", "mtty-1" }, { U2, "0000:03:00.0", "mtty-1" } };
        PersistentState st = { .mdevs = mdevs, .n_mdevs = 2, .types = types, .n_types = ELEMENTSOF(types) };
        PersistentPlan *p = plan(defs, ELEMENTSOF(defs), &st);
        char buf[512];

        assert_int_equal(p->steps[0].outcome, PERSISTENT_CONFLICT);
        assert_string_equal(p->steps[0].reason, "an mdev " U1 " exists already as mtty-1 of mtty: left as it is");
        assert_int_equal(p->steps[1].outcome, PERSISTENT_CONFLICT);
        assert_string_equal(persistent_step_describe(&p->steps[1], buf, sizeof(buf)),
                            "mdev " U2 " (mtty-1 of mtty, iommud.conf:3): an mdev " U2
                            " exists already as mtty-1 of 0000:03:00.0: left as it is");
        persistent_plan_free(p);
}

static void test_mdev_parent_missing_is_deferred(void **state) {
        const PersistentDef defs[] = { MDEV("iommud.conf:2", "0000:04:00.0", "nvidia-63", U1) };
        PersistentState st = { .types = types, .n_types = ELEMENTSOF(types) };
        PersistentPlan *p = plan(defs, ELEMENTSOF(defs), &st);

        assert_int_equal(p->steps[0].outcome, PERSISTENT_DEFERRED);
        assert_string_equal(p->steps[0].reason,
                            "there is no mdev parent 0000:04:00.0 (yet): the mdev is created when it appears");
        persistent_plan_free(p);

        /* No mdev support at all: the same. */
        st = (PersistentState) { 0 };
        p = plan(defs, ELEMENTSOF(defs), &st);
        assert_int_equal(p->steps[0].outcome, PERSISTENT_DEFERRED);
        persistent_plan_free(p);
}

static void test_mdev_unknown_type_is_invalid(void **state) {
        const PersistentDef defs[] = { MDEV("iommud.conf:2", "mtty", "mtty-9", U1) };
        PersistentState st = { .types = types, .n_types = ELEMENTSOF(types) };
        PersistentPlan *p = plan(defs, ELEMENTSOF(defs), &st);

        assert_int_equal(p->steps[0].outcome, PERSISTENT_INVALID);
        assert_string_equal(p->steps[0].reason, "mtty offers no mdev type mtty-9");
        persistent_plan_free(p);
}

/* mtty-2 has 2 instances: the third creation is refused before the
 * kernel is asked; an unknown count (-1) never refuses. */
static void test_mdev_instances_are_counted(void **state) {
        const PersistentDef defs[] = {
                MDEV("a:1", "mtty", "mtty-2", U1),
                MDEV("a:2", "mtty", "mtty-2", U2),
                MDEV("a:3", "mtty", "mtty-2", U3),
                MDEV("a:4", "0000:03:00.0", "nvidia-63", "22222222-2222-4333-8444-555555555555"),
        };
        PersistentState st = { .types = types, .n_types = ELEMENTSOF(types) };
        PersistentPlan *p = plan(defs, ELEMENTSOF(defs), &st);

        assert_int_equal(p->steps[0].outcome, PERSISTENT_CREATE_MDEV);
        assert_int_equal(p->steps[1].outcome, PERSISTENT_CREATE_MDEV);
        assert_int_equal(p->steps[2].outcome, PERSISTENT_INVALID);
        assert_string_equal(p->steps[2].reason, "mtty-2 of mtty has no instances left");
        assert_int_equal(p->steps[3].outcome, PERSISTENT_CREATE_MDEV);
        persistent_plan_free(p);
}

/* The same UUID from iommud.conf and from mdevctl: the first counts. */
static void test_uuid_defined_twice(void **state) {
        const PersistentDef defs[] = {
                MDEV("iommud.conf:2", "mtty", "mtty-2", U1),
                MDEV("/etc/mdevctl.d/mtty/" U1, "mtty", "mtty-2", U1),
                MDEV("/etc/mdevctl.d/mtty/" U1 "x", "mtty", "mtty-1", U1),
        };
        PersistentState st = { .types = types, .n_types = ELEMENTSOF(types) };
        PersistentPlan *p = plan(defs, ELEMENTSOF(defs), &st);

        assert_int_equal(p->steps[0].outcome, PERSISTENT_CREATE_MDEV);
        assert_int_equal(p->steps[1].outcome, PERSISTENT_CONFLICT);
        assert_string_equal(p->steps[1].reason,
                            "UUID " U1 " is defined by iommud.conf:2 already (the same mdev): this one is ignored");
        assert_int_equal(p->steps[2].outcome, PERSISTENT_CONFLICT);
        assert_string_equal(p->steps[2].reason,
                            "UUID " U1 " is defined by iommud.conf:2 already, as another mdev: this one is ignored");
        assert_int_equal(persistent_plan_count(p, PERSISTENT_CREATE_MDEV), 1);
        persistent_plan_free(p);
}

static void test_sriov(void **state) {
        const PersistentDef defs[] = { SRIOV("iommud.conf:5", PF, 4) };
        PersistentPfState pf = { PF, 7, 0, NULL };
        PersistentState st = { .pfs = &pf, .n_pfs = 1 };
        PersistentPlan *p;
        char buf[512];

        /* 0 -> 4 */
        p = plan(defs, 1, &st);
        assert_int_equal(p->steps[0].outcome, PERSISTENT_SET_NUMVFS);
        assert_string_equal(p->steps[0].pf, PF);
        assert_int_equal(p->steps[0].numvfs, 4);
        assert_int_equal(p->steps[0].current_numvfs, 0);
        assert_string_equal(persistent_step_describe(&p->steps[0], buf, sizeof(buf)),
                            "4 VFs on " PF " (iommud.conf:5): setting sriov_numvfs from 0 to 4");
        persistent_plan_free(p);

        /* 0 -> 4 with a VF "in use" cannot be: there is none to lose. */
        pf.in_use = "VF 0000:02:10.0 is leased";
        p = plan(defs, 1, &st);
        assert_int_equal(p->steps[0].outcome, PERSISTENT_SET_NUMVFS);
        persistent_plan_free(p);

        /* 4 already. */
        pf.numvfs = 4;
        p = plan(defs, 1, &st);
        assert_int_equal(p->steps[0].outcome, PERSISTENT_PRESENT);
        persistent_plan_free(p);

        /* 2 -> 4 while a VF is in use: not touched. */
        pf.numvfs = 2;
        p = plan(defs, 1, &st);
        assert_int_equal(p->steps[0].outcome, PERSISTENT_IN_USE);
        assert_string_equal(p->steps[0].reason, PF " has 2 VFs, not 4, and they stay: VF 0000:02:10.0 is leased");
        persistent_plan_free(p);

        /* 2 -> 4 with no VF in use: set. */
        pf.in_use = NULL;
        p = plan(defs, 1, &st);
        assert_int_equal(p->steps[0].outcome, PERSISTENT_SET_NUMVFS);
        assert_int_equal(p->steps[0].current_numvfs, 2);
        persistent_plan_free(p);

        /* More than sriov_totalvfs. */
        pf.totalvfs = 3;
        p = plan(defs, 1, &st);
        assert_int_equal(p->steps[0].outcome, PERSISTENT_INVALID);
        assert_string_equal(p->steps[0].reason, PF " supports at most 3 VFs (sriov_totalvfs), not 4");
        persistent_plan_free(p);

        /* A count that cannot be read is not guessed at. */
        pf.totalvfs = 7;
        pf.numvfs = -1;
        p = plan(defs, 1, &st);
        assert_int_equal(p->steps[0].outcome, PERSISTENT_INVALID);
        assert_string_equal(p->steps[0].reason, "the sriov_numvfs of " PF " cannot be read");
        persistent_plan_free(p);

        /* Not a PF. */
        pf.totalvfs = -1;
        p = plan(defs, 1, &st);
        assert_int_equal(p->steps[0].outcome, PERSISTENT_INVALID);
        assert_string_equal(p->steps[0].reason, PF " is not an SR-IOV physical function (no sriov_totalvfs)");
        persistent_plan_free(p);

        /* Not there. */
        st.n_pfs = 0;
        p = plan(defs, 1, &st);
        assert_int_equal(p->steps[0].outcome, PERSISTENT_DEFERRED);
        persistent_plan_free(p);
}

/* SR-IOV steps come first whatever the order of the definitions, each
 * kind in the order given; one PF twice counts once. */
static void test_order(void **state) {
        const PersistentDef defs[] = {
                MDEV("c:1", "mtty", "mtty-1", U1),
                SRIOV("c:2", PF, 2),
                MDEV("c:3", "0000:02:10.0", "nvidia-63", U2),
                SRIOV("c:4", "0000:05:00.0", 1),
                SRIOV("c:5", PF, 3),
        };
        const PersistentPfState pfs[] = { { PF, 8, 0, NULL }, { "0000:05:00.0", 1, 0, NULL } };
        PersistentState st = { .types = types, .n_types = ELEMENTSOF(types), .pfs = pfs, .n_pfs = 2 };
        PersistentPlan *p = plan(defs, ELEMENTSOF(defs), &st);

        assert_string_equal(p->steps[0].source, "c:2");
        assert_int_equal(p->steps[0].outcome, PERSISTENT_SET_NUMVFS);
        assert_string_equal(p->steps[1].source, "c:4");
        assert_int_equal(p->steps[1].outcome, PERSISTENT_SET_NUMVFS);
        assert_string_equal(p->steps[2].source, "c:5");
        assert_int_equal(p->steps[2].outcome, PERSISTENT_CONFLICT);
        assert_string_equal(p->steps[2].reason, "the VF count of " PF " is defined by c:2 already");
        assert_string_equal(p->steps[3].source, "c:1");
        assert_int_equal(p->steps[3].outcome, PERSISTENT_CREATE_MDEV);
        /* On a VF still to come: deferred until it appears. */
        assert_string_equal(p->steps[4].source, "c:3");
        assert_int_equal(p->steps[4].outcome, PERSISTENT_DEFERRED);
        assert_int_equal(persistent_plan_count(p, PERSISTENT_SET_NUMVFS), 2);
        persistent_plan_free(p);
}

static void test_refusals(void **state) {
        const PersistentDef nameless[] = { MDEV("c:1", "mtty", NULL, U1) };
        const PersistentDef no_pf[] = { SRIOV("c:1", NULL, 1) };
        PersistentState st = { 0 };
        PersistentPlan *p = (PersistentPlan *) 0x1;

        assert_int_equal(persistent_plan(nameless, 1, &st, &p), -EINVAL);
        assert_int_equal(persistent_plan(no_pf, 1, &st, &p), -EINVAL);
        assert_ptr_equal(p, (PersistentPlan *) 0x1);
        /* Nothing defined: an empty plan. */
        assert_int_equal(persistent_plan(NULL, 0, &st, &p), 0);
        assert_int_equal(p->n, 0);
        persistent_plan_free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mdev_created_when_missing),
                cmocka_unit_test(test_mdev_present_is_left_alone),
                cmocka_unit_test(test_mdev_conflict),
                cmocka_unit_test(test_mdev_parent_missing_is_deferred),
                cmocka_unit_test(test_mdev_unknown_type_is_invalid),
                cmocka_unit_test(test_mdev_instances_are_counted),
                cmocka_unit_test(test_uuid_defined_twice),
                cmocka_unit_test(test_sriov),
                cmocka_unit_test(test_order),
                cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
