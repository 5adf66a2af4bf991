/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persistent.h"
#include "shared/macro.h"

PersistentPlan *persistent_plan_free(PersistentPlan *p) {
        if (!p)
                return NULL;
        free(p->steps);
        free(p);
        return NULL;
}

void persistent_plan_freep(PersistentPlan **p) {
        persistent_plan_free(*p);
}

static bool streq(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

static _printf_(2, 3) void why(PersistentStep *s, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
        va_end(ap);
}

static const PersistentPfState *find_pf(const PersistentState *st, const char *pf) {
        for (size_t i = 0; i < st->n_pfs; i++)
                if (streq(st->pfs[i].pf, pf))
                        return &st->pfs[i];
        return NULL;
}

static const PersistentMdevState *find_mdev(const PersistentState *st, const char *uuid) {
        for (size_t i = 0; i < st->n_mdevs; i++)
                if (streq(st->mdevs[i].uuid, uuid))
                        return &st->mdevs[i];
        return NULL;
}

static void plan_sriov(const PersistentDef *d, const PersistentState *st, const PersistentStep *done, size_t n_done,
                       PersistentStep *s) {
        const PersistentPfState *pf = find_pf(st, d->pf);

        for (size_t i = 0; i < n_done; i++)
                if (done[i].kind == PERSISTENT_SRIOV && streq(done[i].pf, d->pf)) {
                        s->outcome = PERSISTENT_CONFLICT;
                        why(s, "the VF count of %s is defined by %s already", d->pf, done[i].source);
                        return;
                }
        if (!pf) {
                s->outcome = PERSISTENT_DEFERRED;
                why(s, "PF %s is not there (yet): its VF count is set when it appears", d->pf);
                return;
        }
        s->current_numvfs = pf->numvfs;
        if (pf->totalvfs < 0) {
                s->outcome = PERSISTENT_INVALID;
                why(s, "%s is not an SR-IOV physical function (no sriov_totalvfs)", d->pf);
                return;
        }
        if (d->numvfs > (unsigned) pf->totalvfs) {
                s->outcome = PERSISTENT_INVALID;
                why(s, "%s supports at most %d VFs (sriov_totalvfs), not %u", d->pf, pf->totalvfs, d->numvfs);
                return;
        }
        if (pf->numvfs < 0) {
                s->outcome = PERSISTENT_INVALID;
                why(s, "the sriov_numvfs of %s cannot be read", d->pf);
                return;
        }
        if ((unsigned) pf->numvfs == d->numvfs) {
                s->outcome = PERSISTENT_PRESENT;
                why(s, "%s has %u VFs already", d->pf, d->numvfs);
                return;
        }
        /* Any change of a non-zero count removes every VF first (the
         * kernel's rule), so a VF in use keeps the count as it is. */
        if (pf->numvfs > 0 && pf->in_use) {
                s->outcome = PERSISTENT_IN_USE;
                why(s, "%s has %d VFs, not %u, and they stay: %s", d->pf, pf->numvfs, d->numvfs, pf->in_use);
                return;
        }
        s->outcome = PERSISTENT_SET_NUMVFS;
}

static void plan_mdev(const PersistentDef *d, const PersistentState *st, const PersistentStep *done, size_t n_done,
                      long *available, PersistentStep *s) {
        const PersistentMdevState *m = find_mdev(st, d->uuid);
        bool parent_there = false;
        size_t t;

        for (size_t i = 0; i < n_done; i++)
                if (done[i].kind == PERSISTENT_MDEV && streq(done[i].uuid, d->uuid)) {
                        s->outcome = PERSISTENT_CONFLICT;
                        why(s, "UUID %s is defined by %s already%s", d->uuid, done[i].source,
                            streq(done[i].parent, d->parent) && streq(done[i].type, d->type)
                                    ? " (the same mdev): this one is ignored"
                                    : ", as another mdev: this one is ignored");
                        return;
                }
        if (m) {
                if (streq(m->parent, d->parent) && streq(m->type, d->type)) {
                        s->outcome = PERSISTENT_PRESENT;
                        why(s, "mdev %s exists already", d->uuid);
                } else {
                        s->outcome = PERSISTENT_CONFLICT;
                        why(s, "an mdev %s exists already as %s of %s: left as it is", d->uuid,
                            m->type ? m->type : "(unknown type)", m->parent ? m->parent : "(unknown parent)");
                }
                return;
        }
        for (t = 0; t < st->n_types; t++) {
                if (!streq(st->types[t].parent, d->parent))
                        continue;
                parent_there = true;
                if (streq(st->types[t].type, d->type))
                        break;
        }
        if (!parent_there) {
                s->outcome = PERSISTENT_DEFERRED;
                why(s, "there is no mdev parent %s (yet): the mdev is created when it appears", d->parent);
                return;
        }
        if (t == st->n_types) {
                s->outcome = PERSISTENT_INVALID;
                why(s, "%s offers no mdev type %s", d->parent, d->type);
                return;
        }
        if (available[t] == 0) {
                s->outcome = PERSISTENT_INVALID;
                why(s, "%s of %s has no instances left", d->type, d->parent);
                return;
        }
        if (available[t] > 0)
                available[t]--;
        s->outcome = PERSISTENT_CREATE_MDEV;
}

int persistent_plan(const PersistentDef *defs, size_t n, const PersistentState *st, PersistentPlan **ret) {
        _cleanup_(persistent_plan_freep) PersistentPlan *p = NULL;
        _cleanup_free_ long *available = NULL;

        for (size_t i = 0; i < n; i++) {
                const PersistentDef *d = &defs[i];
                if (!d->source || (d->kind == PERSISTENT_MDEV && (!d->parent || !d->type || !d->uuid)) ||
                    (d->kind == PERSISTENT_SRIOV && !d->pf))
                        return -EINVAL;
        }
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->steps = calloc(MAX(n, (size_t) 1), sizeof(*p->steps));
        available = calloc(MAX(st->n_types, (size_t) 1), sizeof(*available));
        if (!p->steps || !available)
                return -ENOMEM;
        for (size_t t = 0; t < st->n_types; t++)
                available[t] = st->types[t].available;
        /* VF counts first: a VF may be an mdev parent (vGPUs on SR-IOV
         * GPUs), and an mdev on a VF still to come is deferred until the
         * VF appears. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < n; i++) {
                        const PersistentDef *d = &defs[i];
                        PersistentStep *s = &p->steps[p->n];

                        if ((pass == 0) != (d->kind == PERSISTENT_SRIOV))
                                continue;
                        s->kind = d->kind;
                        snprintf(s->source, sizeof(s->source), "%s", d->source);
                        if (d->kind == PERSISTENT_SRIOV) {
                                snprintf(s->pf, sizeof(s->pf), "%s", d->pf);
                                s->numvfs = d->numvfs;
                                s->current_numvfs = -1;
                                plan_sriov(d, st, p->steps, p->n, s);
                        } else {
                                snprintf(s->parent, sizeof(s->parent), "%s", d->parent);
                                snprintf(s->type, sizeof(s->type), "%s", d->type);
                                snprintf(s->uuid, sizeof(s->uuid), "%s", d->uuid);
                                plan_mdev(d, st, p->steps, p->n, available, s);
                        }
                        p->n++;
                }
        *ret = TAKE_PTR(p);
        return 0;
}

size_t persistent_plan_count(const PersistentPlan *p, PersistentOutcome outcome) {
        size_t k = 0;

        for (size_t i = 0; p && i < p->n; i++)
                k += p->steps[i].outcome == outcome;
        return k;
}

const char *persistent_outcome_to_string(PersistentOutcome o) {
        static const char *const names[] = {
                [PERSISTENT_CREATE_MDEV] = "create",
                [PERSISTENT_SET_NUMVFS] = "set-numvfs",
                [PERSISTENT_PRESENT] = "present",
                [PERSISTENT_DEFERRED] = "deferred",
                [PERSISTENT_CONFLICT] = "conflict",
                [PERSISTENT_IN_USE] = "in-use",
                [PERSISTENT_INVALID] = "invalid",
        };
        return (size_t) o < ELEMENTSOF(names) ? names[o] : "?";
}

const char *persistent_step_describe(const PersistentStep *s, char *buf, size_t size) {
        char what[512];

        if (s->kind == PERSISTENT_MDEV)
                snprintf(what, sizeof(what), "mdev %s (%s of %s, %s)", s->uuid, s->type, s->parent, s->source);
        else
                snprintf(what, sizeof(what), "%u VFs on %s (%s)", s->numvfs, s->pf, s->source);
        switch (s->outcome) {
        case PERSISTENT_CREATE_MDEV:
                snprintf(buf, size, "%s: creating it", what);
                break;
        case PERSISTENT_SET_NUMVFS:
                snprintf(buf, size, "%s: setting sriov_numvfs from %d to %u", what, s->current_numvfs, s->numvfs);
                break;
        default:
                snprintf(buf, size, "%s: %s", what, s->reason);
                break;
        }
        return buf;
}
