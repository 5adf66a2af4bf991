/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * claims.h - who owns each IOMMU group: one explicit state machine per
 * group, and the only place a group changes hands.
 *
 *     free --begin--> claiming --commit--> held --release--> releasing
 *      ^                 |                                      |
 *      +------abort------+                                      |
 *      +--------------------------settle------------------------+
 *
 * A group not in the table is free.  claim_begin() takes every group a
 * claim needs in one step, or none: so of any number of claims for one
 * group, in any order, exactly one gets past claim_begin() and the others
 * are told who has it, whatever the interleaving of their later (async)
 * steps.  "claiming" covers the time a claim prepares and binds; "releasing"
 * the time after a lease ended until the kernel says nobody holds the
 * group's devices any more.  An owner is a lease id (never 0).
 *
 * Plain logic, no I/O: the lease layer drives it from the event loop
 * (single-threaded, like everything in iommud's core).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ClaimState {
        CLAIM_FREE,
        CLAIM_CLAIMING,
        CLAIM_HELD,
        CLAIM_RELEASING,
} ClaimState;

typedef struct ClaimTable ClaimTable;

int claim_table_new(ClaimTable **ret);
ClaimTable *claim_table_free(ClaimTable *t);
void claim_table_freep(ClaimTable **t);

/** claim_begin() - every group of @groups (duplicates allowed) goes from
 * free to claiming by @owner; groups @owner already holds are left as
 * they are (a lease adding devices of a group it has).  If any group is
 * neither free nor held by @owner, nothing changes: -EBUSY, with that
 * group in *@ret_conflict.  -EINVAL for owner 0, -ENOMEM. */
int claim_begin(ClaimTable *t, const uint32_t *groups, size_t n, uint64_t owner, uint32_t *ret_conflict);

/** claim_commit() - every group @owner is claiming becomes held.  Returns
 * how many. */
size_t claim_commit(ClaimTable *t, uint64_t owner);

/** claim_abort() - every group @owner is claiming becomes free again;
 * held ones stay held.  Returns how many. */
size_t claim_abort(ClaimTable *t, uint64_t owner);

/** claim_release() - @group, held by @owner, is releasing.  -ESRCH if
 * @owner does not hold it. */
int claim_release(ClaimTable *t, uint32_t group, uint64_t owner);

/** claim_settle() - @group, releasing, is free.  -ESRCH if it is not
 * releasing. */
int claim_settle(ClaimTable *t, uint32_t group);

/** claim_get() - @group's state, and its owner (0 when free). */
ClaimState claim_get(const ClaimTable *t, uint32_t group, uint64_t *ret_owner);

/** claim_count() - groups in @state (not CLAIM_FREE). */
size_t claim_count(const ClaimTable *t, ClaimState state);

const char *claim_state_to_string(ClaimState s);
