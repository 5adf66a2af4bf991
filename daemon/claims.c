/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "shared/macro.h"

/* A few hundred groups at most are ever claimed at once: an array kept
 * in no order is simpler than a map and as fast at this size. */
typedef struct ClaimEntry {
        uint32_t group;
        ClaimState state;
        uint64_t owner;
} ClaimEntry;

struct ClaimTable {
        ClaimEntry *entries;
        size_t n, allocated;
};

int claim_table_new(ClaimTable **ret) {
        ClaimTable *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

ClaimTable *claim_table_free(ClaimTable *t) {
        if (t) {
                free(t->entries);
                free(t);
        }
        return NULL;
}

void claim_table_freep(ClaimTable **t) {
        claim_table_free(*t);
}

static ClaimEntry *find(const ClaimTable *t, uint32_t group) {
        for (size_t i = 0; i < t->n; i++)
                if (t->entries[i].group == group)
                        return &t->entries[i];
        return NULL;
}

static void drop(ClaimTable *t, ClaimEntry *e) {
        *e = t->entries[--t->n];
}

int claim_begin(ClaimTable *t, const uint32_t *groups, size_t n, uint64_t owner, uint32_t *ret_conflict) {
        size_t fresh = 0;

        if (owner == 0)
                return -EINVAL;
        /* Check everything first: all or nothing. */
        for (size_t i = 0; i < n; i++) {
                const ClaimEntry *e = find(t, groups[i]);

                if (!e) {
                        fresh++;
                        continue;
                }
                if (e->state == CLAIM_HELD && e->owner == owner)
                        continue;
                if (ret_conflict)
                        *ret_conflict = groups[i];
                return -EBUSY;
        }
        if (t->n + fresh > t->allocated) {
                size_t a = MAX(t->allocated * 2, t->n + fresh);
                ClaimEntry *p = realloc(t->entries, a * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                t->entries = p;
                t->allocated = a;
        }
        for (size_t i = 0; i < n; i++)
                if (!find(t, groups[i]))
                        t->entries[t->n++] = (ClaimEntry) { groups[i], CLAIM_CLAIMING, owner };
        return 0;
}

size_t claim_commit(ClaimTable *t, uint64_t owner) {
        size_t k = 0;

        for (size_t i = 0; i < t->n; i++)
                if (t->entries[i].owner == owner && t->entries[i].state == CLAIM_CLAIMING) {
                        t->entries[i].state = CLAIM_HELD;
                        k++;
                }
        return k;
}

size_t claim_abort(ClaimTable *t, uint64_t owner) {
        size_t k = 0;

        for (size_t i = 0; i < t->n;)
                if (t->entries[i].owner == owner && t->entries[i].state == CLAIM_CLAIMING) {
                        drop(t, &t->entries[i]);
                        k++;
                } else
                        i++;
        return k;
}

int claim_release(ClaimTable *t, uint32_t group, uint64_t owner) {
        ClaimEntry *e = find(t, group);

        if (!e || e->state != CLAIM_HELD || e->owner != owner)
                return -ESRCH;
        e->state = CLAIM_RELEASING;
        return 0;
}

int claim_settle(ClaimTable *t, uint32_t group) {
        ClaimEntry *e = find(t, group);

        if (!e || e->state != CLAIM_RELEASING)
                return -ESRCH;
        drop(t, e);
        return 0;
}

ClaimState claim_get(const ClaimTable *t, uint32_t group, uint64_t *ret_owner) {
        const ClaimEntry *e = find(t, group);

        if (ret_owner)
                *ret_owner = e ? e->owner : 0;
        return e ? e->state : CLAIM_FREE;
}

size_t claim_count(const ClaimTable *t, ClaimState state) {
        size_t k = 0;

        for (size_t i = 0; i < t->n; i++)
                k += t->entries[i].state == state;
        return k;
}

const char *claim_state_to_string(ClaimState s) {
        static const char *const names[] = {
                [CLAIM_FREE] = "free",
                [CLAIM_CLAIMING] = "claiming",
                [CLAIM_HELD] = "held",
                [CLAIM_RELEASING] = "releasing",
        };
        return (size_t) s < ELEMENTSOF(names) ? names[s] : "?";
}
