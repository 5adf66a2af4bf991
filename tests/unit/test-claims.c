/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * claims.c: the per-group state machine.  Besides the single steps, a
 * seeded random schedule interleaves many claimers' steps (begin, then
 * commit or abort some time later, then release and settle) over a few
 * groups, and checks after every step that no group ever has two owners
 * and that a claim got past begin only when none of its groups was
 * taken by someone else.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "claims.h"

static void test_single_steps(void **state) {
        ClaimTable *t;
        uint32_t conflict = 0;
        uint64_t owner;

        assert_int_equal(claim_table_new(&t), 0);
        assert_int_equal(claim_get(t, 5, &owner), CLAIM_FREE);
        assert_int_equal(owner, 0);
        assert_int_equal(claim_begin(t, (uint32_t[]) { 5, 6, 5 }, 3, 0, NULL), -EINVAL);
        assert_int_equal(claim_begin(t, (uint32_t[]) { 5, 6, 5 }, 3, 1, NULL), 0);
        assert_int_equal(claim_get(t, 5, &owner), CLAIM_CLAIMING);
        assert_int_equal(owner, 1);
        assert_int_equal(claim_count(t, CLAIM_CLAIMING), 2);

        /* Another owner: refused as a whole, told which group. */
        assert_int_equal(claim_begin(t, (uint32_t[]) { 7, 6 }, 2, 2, &conflict), -EBUSY);
        assert_int_equal(conflict, 6);
        assert_int_equal(claim_get(t, 7, NULL), CLAIM_FREE);

        /* The owner itself while claiming: also busy (one claim at a time). */
        assert_int_equal(claim_begin(t, (uint32_t[]) { 5 }, 1, 1, &conflict), -EBUSY);

        assert_int_equal(claim_commit(t, 1), 2);
        assert_int_equal(claim_get(t, 6, NULL), CLAIM_HELD);
        /* Adding to a held lease: its own groups pass, new ones are claimed. */
        assert_int_equal(claim_begin(t, (uint32_t[]) { 6, 8 }, 2, 1, NULL), 0);
        assert_int_equal(claim_get(t, 6, NULL), CLAIM_HELD);
        assert_int_equal(claim_get(t, 8, NULL), CLAIM_CLAIMING);
        /* ... and an abort gives back only the new one. */
        assert_int_equal(claim_abort(t, 1), 1);
        assert_int_equal(claim_get(t, 8, NULL), CLAIM_FREE);
        assert_int_equal(claim_get(t, 6, NULL), CLAIM_HELD);

        assert_int_equal(claim_release(t, 6, 2), -ESRCH);
        assert_int_equal(claim_settle(t, 6), -ESRCH);
        assert_int_equal(claim_release(t, 6, 1), 0);
        assert_int_equal(claim_get(t, 6, &owner), CLAIM_RELEASING);
        assert_int_equal(owner, 1);
        /* Releasing is not free: nobody gets it, not even the old owner. */
        assert_int_equal(claim_begin(t, (uint32_t[]) { 6 }, 1, 3, &conflict), -EBUSY);
        assert_int_equal(claim_begin(t, (uint32_t[]) { 6 }, 1, 1, &conflict), -EBUSY);
        assert_int_equal(claim_settle(t, 6), 0);
        assert_int_equal(claim_get(t, 6, NULL), CLAIM_FREE);
        assert_int_equal(claim_begin(t, (uint32_t[]) { 6 }, 1, 3, NULL), 0);
        assert_string_equal(claim_state_to_string(CLAIM_RELEASING), "releasing");
        claim_table_free(t);
}

#define GROUPS 4
#define CLAIMERS 12
#define STEPS 20000

typedef enum { IDLE, BEGUN, HELD } Phase;

typedef struct Claimer {
        uint64_t id;
        Phase phase;
        uint32_t groups[3];
        size_t n;
} Claimer;

static void check_invariants(ClaimTable *t, const Claimer *c) {
        /* Each group's owner in the table is the one claimer that thinks
         * it has the group, and no two claimers think so. */
        for (uint32_t g = 0; g < GROUPS; g++) {
                uint64_t owner;
                ClaimState s = claim_get(t, g, &owner);
                unsigned holders = 0;

                for (size_t i = 0; i < CLAIMERS; i++) {
                        if (c[i].phase == IDLE)
                                continue;
                        for (size_t k = 0; k < c[i].n; k++)
                                if (c[i].groups[k] == g) {
                                        holders++;
                                        assert_int_equal(owner, c[i].id);
                                        assert_int_equal(s, c[i].phase == BEGUN ? CLAIM_CLAIMING : CLAIM_HELD);
                                        break;
                                }
                }
                assert_true(holders <= 1);
                if (holders == 0)
                        assert_true(s == CLAIM_FREE || s == CLAIM_RELEASING);
        }
}

static void test_random_interleavings(void **state) {
        for (unsigned seed = 1; seed <= 20; seed++) {
                Claimer c[CLAIMERS] = { 0 };
                bool releasing[GROUPS] = { false };
                unsigned granted = 0, refused = 0;
                ClaimTable *t;

                srandom(seed);
                assert_int_equal(claim_table_new(&t), 0);
                for (size_t i = 0; i < CLAIMERS; i++)
                        c[i].id = 100 + i;
                for (unsigned step = 0; step < STEPS; step++) {
                        Claimer *x = &c[random() % CLAIMERS];
                        uint32_t g, conflict;

                        switch (x->phase) {
                        case IDLE: {
                                bool expect_ok = true;
                                x->n = 1 + (size_t) (random() % 3);
                                for (size_t k = 0; k < x->n; k++) {
                                        x->groups[k] = (uint32_t) (random() % GROUPS);
                                        if (claim_get(t, x->groups[k], NULL) != CLAIM_FREE)
                                                expect_ok = false;
                                }
                                int r = claim_begin(t, x->groups, x->n, x->id, &conflict);
                                if (expect_ok) {
                                        assert_int_equal(r, 0);
                                        x->phase = BEGUN;
                                        granted++;
                                } else {
                                        assert_int_equal(r, -EBUSY);
                                        assert_int_not_equal(claim_get(t, conflict, NULL), CLAIM_FREE);
                                        refused++;
                                }
                                break;
                        }
                        case BEGUN:
                                if (random() % 2) {
                                        assert_true(claim_commit(t, x->id) > 0);
                                        x->phase = HELD;
                                } else {
                                        assert_true(claim_abort(t, x->id) > 0);
                                        x->phase = IDLE;
                                }
                                break;
                        case HELD:
                                /* Release every distinct group; some settle later. */
                                for (size_t k = 0; k < x->n; k++)
                                        if (claim_get(t, x->groups[k], NULL) == CLAIM_HELD) {
                                                assert_int_equal(claim_release(t, x->groups[k], x->id), 0);
                                                releasing[x->groups[k]] = true;
                                        }
                                x->phase = IDLE;
                                break;
                        }
                        /* Now and then the kernel reports a group free. */
                        g = (uint32_t) (random() % GROUPS);
                        if (releasing[g] && random() % 3 == 0) {
                                assert_int_equal(claim_settle(t, g), 0);
                                releasing[g] = false;
                        }
                        check_invariants(t, c);
                }
                /* Both outcomes happened: the schedule was not trivial. */
                assert_true(granted > 100 && refused > 100);
                claim_table_free(t);
        }
}

/* Every interleaving of two claims (A takes group 1, B groups 1 and 2;
 * each begins, then commits or aborts) and a release (the release of
 * whichever claim holds group 1, then the kernel reporting it free),
 * with every commit/abort choice: 90 orders x 4 choices.  A model says
 * what each step must do; the table must agree after every step. */
enum { A_BEGIN, A_END, B_BEGIN, B_END, R_RELEASE, R_SETTLE };

typedef struct Model {
        ClaimState state[3];
        uint64_t owner[3];
        bool began[2];
} Model;

static void check_model(const ClaimTable *t, const Model *mo) {
        for (uint32_t g = 1; g <= 2; g++) {
                uint64_t owner;
                assert_int_equal(claim_get(t, g, &owner), mo->state[g]);
                assert_true(owner == mo->owner[g]);
        }
}

static void run_schedule(const int *steps, unsigned choices) {
        static const uint32_t groups_a[] = { 1 }, groups_b[] = { 1, 2 };
        Model mo = { 0 };
        ClaimTable *t;

        assert_int_equal(claim_table_new(&t), 0);
        for (size_t i = 0; i < 6; i++) {
                int st = steps[i];
                int who = st == A_BEGIN || st == A_END ? 0 : 1;
                uint64_t id = who == 0 ? 0xa : 0xb;
                const uint32_t *gs = who == 0 ? groups_a : groups_b;
                size_t ng = who == 0 ? 1 : 2;
                bool commit = (choices >> who) & 1;

                switch (st) {
                case A_BEGIN:
                case B_BEGIN: {
                        bool free_all = true;
                        uint32_t conflict = 0;
                        for (size_t k = 0; k < ng; k++)
                                free_all = free_all && mo.state[gs[k]] == CLAIM_FREE;
                        int r = claim_begin(t, gs, ng, id, &conflict);
                        if (free_all) {
                                assert_int_equal(r, 0);
                                mo.began[who] = true;
                                for (size_t k = 0; k < ng; k++) {
                                        mo.state[gs[k]] = CLAIM_CLAIMING;
                                        mo.owner[gs[k]] = id;
                                }
                        } else {
                                assert_int_equal(r, -EBUSY);
                                assert_int_not_equal(mo.state[conflict], CLAIM_FREE);
                        }
                        break;
                }
                case A_END:
                case B_END:
                        if (!mo.began[who])
                                break;
                        if (commit)
                                assert_int_equal(claim_commit(t, id), ng);
                        else
                                assert_int_equal(claim_abort(t, id), ng);
                        for (size_t k = 0; k < ng; k++) {
                                mo.state[gs[k]] = commit ? CLAIM_HELD : CLAIM_FREE;
                                mo.owner[gs[k]] = commit ? id : 0;
                        }
                        mo.began[who] = false;
                        break;
                case R_RELEASE:
                        if (mo.state[1] == CLAIM_HELD) {
                                uint64_t o = mo.owner[1];
                                assert_int_equal(claim_release(t, 1, o == 0xa ? 0xb : 0xa), -ESRCH);
                                assert_int_equal(claim_release(t, 1, o), 0);
                                mo.state[1] = CLAIM_RELEASING;
                        } else {
                                assert_int_equal(claim_release(t, 1, 0xa), -ESRCH);
                                assert_int_equal(claim_release(t, 1, 0xb), -ESRCH);
                        }
                        break;
                case R_SETTLE:
                        if (mo.state[1] == CLAIM_RELEASING) {
                                assert_int_equal(claim_settle(t, 1), 0);
                                mo.state[1] = CLAIM_FREE;
                                mo.owner[1] = 0;
                        } else
                                assert_int_equal(claim_settle(t, 1), -ESRCH);
                        break;
                }
                check_model(t, &mo);
                /* Never two owners: B holding or claiming group 1 means A does not. */
                assert_false(mo.state[1] != CLAIM_FREE && mo.owner[1] == 0);
        }
        claim_table_free(t);
}

static void test_every_interleaving(void **state) {
        /* Each actor's two steps in order; every merge of the three. */
        unsigned orders = 0, schedules = 0;
        int seq[6];

        for (unsigned mask = 0; mask < 729; mask++) {   /* 3^6 assignments of actors to slots */
                unsigned m = mask, count[3] = { 0 };
                bool ok = true;
                for (int i = 0; i < 6; i++) {
                        unsigned actor = m % 3;
                        m /= 3;
                        if (count[actor] == 2) {
                                ok = false;
                                break;
                        }
                        seq[i] = (int) (actor * 2 + count[actor]++);
                }
                if (!ok)
                        continue;
                orders++;
                for (unsigned choices = 0; choices < 4; choices++, schedules++)
                        run_schedule(seq, choices);
        }
        assert_int_equal(orders, 90);
        assert_int_equal(schedules, 360);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_single_steps),
                cmocka_unit_test(test_every_interleaving),
                cmocka_unit_test(test_random_interleavings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
