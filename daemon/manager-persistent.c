/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-persistent.c - [Persistent]: the mdevs and VF counts iommud.conf
 * (and, with ImportMdevctl=yes, /etc/mdevctl.d) defines, made at start,
 * after each reload, and when a definition's parent (or PF) appears.
 *
 * Each round reads what the host has now (from sysfs, not the registry,
 * which learns of our own creations only from their uevents), asks the
 * pure planner (persistent.c) what to do, and carries the actions out one
 * after the other: mdevs through manager-mdev.c's checks and kernel call
 * without polkit (these are root's own definitions), VF counts through
 * the SR-IOV hook.  Every step and its outcome go to the journal; a
 * failure is logged and the daemon goes on.  Nothing is ever removed: an
 * existing mdev under a defined UUID stays what it is, and VFs in use
 * (leased, or bound to any driver) keep their count.
 *
 * A round started by a device event (a driver loading registers the mdev
 * parent on its PCI device; a PF is hot-added) carries out only the
 * definitions whose parent or PF was not there at the round before: an
 * mdev the admin removed by hand from a parent that stayed is not made
 * again behind their back by an unrelated event, only at the next start
 * or reload.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "manager-internal.h"
#include "mdev.h"
#include "mdevctl.h"
#include "persistent.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "sriov.h"

/* A burst of device events (VFs appearing) makes one new round. */
#define PERSISTENT_REPLAN_USEC (500 * 1000ULL)

typedef struct PersistentRunner {
        Manager *manager;
        MdevctlDef *imported;           /* /etc/mdevctl.d as read at the last start or reload */
        size_t n_imported;
        PersistentPlan *plan;           /* the round being carried out */
        size_t next;
        bool running;                   /* a round is being carried out */
        bool waiting;                   /* for an action's @done */
        bool in_call;                   /* inside the call that started it */
        bool again;                     /* plan once more when this round ends */
        bool again_loud;
        bool loud;                      /* this round: start or reload, not a device event */
        bool started;                   /* the first round was planned (the scan is over) */
        char **present;                 /* mdev parents and PFs there at the last round */
        char **seen;                    /* ... and at this one */
        sd_event_source *replan;
        ManagerSetNumVfsFn set_numvfs;  /* the SR-IOV hook, NULL until connected */
} PersistentRunner;

static void round_start(PersistentRunner *p, bool loud);

int manager_persistent_init(Manager *m) {
        m->persistent = calloc(1, sizeof(*m->persistent));
        if (!m->persistent)
                return -ENOMEM;
        m->persistent->manager = m;
        return 0;
}

void manager_persistent_done(Manager *m) {
        PersistentRunner *p = m->persistent;

        if (!p)
                return;
        sd_event_source_disable_unref(p->replan);
        persistent_plan_free(p->plan);
        sysfs_strv_free(p->present);
        sysfs_strv_free(p->seen);
        free(p->imported);
        free(p);
        m->persistent = NULL;
}

void manager_persistent_set_sriov_hook(Manager *m, ManagerSetNumVfsFn fn) {
        if (m->persistent)
                m->persistent->set_numvfs = fn;
}

/* ---- the host now, as plain data for the planner ---- */

typedef struct Snapshot {
        PersistentState state;
        PersistentMdevState *mdevs;
        PersistentTypeState *types;
        PersistentPfState *pfs;
        char **strings;                 /* everything the arrays point to */
        size_t n_strings;
} Snapshot;

static void snapshot_done(Snapshot *s) {
        for (size_t i = 0; i < s->n_strings; i++)
                free(s->strings[i]);
        free(s->strings);
        free(s->mdevs);
        free(s->types);
        free(s->pfs);
}

/* Keep @v (taken, may be NULL) until snapshot_done(). */
static const char *keep(Snapshot *s, char *v) {
        char **nv;

        if (!v)
                return NULL;
        nv = realloc(s->strings, (s->n_strings + 1) * sizeof(*nv));
        if (!nv) {
                free(v);
                return NULL;
        }
        s->strings = nv;
        s->strings[s->n_strings++] = v;
        return v;
}

static void strvp(char ***v) {
        sysfs_strv_free(*v);
}

static int read_mdevs(Manager *m, Snapshot *s) {
        _cleanup_(strvp) char **uuids = NULL;
        int r = sysfs_list_dir(m->sysfs, "bus/mdev/devices", &uuids);
        size_t n = 0;

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char **u = uuids; *u; u++)
                n++;
        s->mdevs = calloc(MAX(n, (size_t) 1), sizeof(*s->mdevs));
        if (!s->mdevs)
                return -ENOMEM;
        for (char **u = uuids; *u; u++) {
                char canon[UUID_STRING_MAX], *parent = NULL, *type = NULL;
                PersistentMdevState *ms = &s->mdevs[s->state.n_mdevs];

                if (uuid_canonicalize(*u, canon) < 0 || strcmp(canon, *u) != 0)
                        continue;
                /* Unknown parent or type: still an mdev under that UUID,
                 * which the planner leaves alone. */
                (void) sysfs_mdev_parent_name(m->sysfs, canon, &parent);
                (void) sysfs_device_read_link_name(m->sysfs, SYSFS_BUS_MDEV, canon, "mdev_type", &type);
                ms->uuid = keep(s, strdup(canon));
                ms->parent = keep(s, parent);
                ms->type = keep(s, type);
                if (!ms->uuid)
                        return -ENOMEM;
                s->state.n_mdevs++;
        }
        return 0;
}

static int read_types(Manager *m, Snapshot *s) {
        _cleanup_(strvp) char **parents = NULL;
        int r = sysfs_list_dir(m->sysfs, "class/mdev_bus", &parents);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char **p = parents; *p; p++) {
                _cleanup_(strvp) char **types = NULL;
                char dir[512];

                snprintf(dir, sizeof(dir), "class/mdev_bus/%s/mdev_supported_types", *p);
                if (sysfs_list_dir(m->sysfs, dir, &types) < 0)
                        continue;
                for (char **t = types; *t; t++) {
                        PersistentTypeState *v = realloc(s->types, (s->state.n_types + 1) * sizeof(*v));
                        char tdir[1024];
                        long avail = -1;

                        if (!v)
                                return -ENOMEM;
                        s->types = v;
                        snprintf(tdir, sizeof(tdir), "%s/%s", dir, *t);
                        if (mdev_type_available(m->sysfs, tdir, &avail) < 0)
                                avail = -1;
                        v[s->state.n_types] = (PersistentTypeState) {
                                .parent = keep(s, strdup(*p)),
                                .type = keep(s, strdup(*t)),
                                .available = avail,
                        };
                        if (!v[s->state.n_types].parent || !v[s->state.n_types].type)
                                return -ENOMEM;
                        s->state.n_types++;
                }
        }
        return 0;
}

static int read_int_attr(Manager *m, const char *pf, const char *attr, int *ret) {
        _cleanup_free_ char *v = NULL;
        char *end;
        long n;
        int r = sysfs_device_read_attr(m->sysfs, SYSFS_BUS_PCI, pf, attr, &v);

        if (r < 0)
                return r;
        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 0 || n > 65535)
                return -EBADMSG;
        *ret = (int) n;
        return 0;
}

/* Why @pf's VFs may not go, or NULL: a VF whose group is claimed, or that
 * is bound to any driver (a host driver uses it; on vfio-pci someone
 * prepared it). */
static char *vfs_in_use(Manager *m, const char *pf) {
        _cleanup_free_ const Device **list = NULL;
        size_t n = 0;
        char *why = NULL;

        if (registry_list_devices(m->registry, &list, &n) < 0)
                return strdup("iommud could not list the VFs");
        for (size_t i = 0; i < n && !why; i++) {
                const Device *d = list[i];

                if (d->kind != DEVICE_PCI || !d->physfn || strcmp(d->physfn, pf) != 0)
                        continue;
                if (d->iommu_group >= 0 && manager_group_is_claimed(m, (uint32_t) d->iommu_group, NULL)) {
                        if (asprintf(&why, "VF %s is claimed (IOMMU group %lld)", d->name,
                                     (long long) d->iommu_group) < 0)
                                why = NULL;
                } else if (d->driver) {
                        if (asprintf(&why, "VF %s is bound to %s", d->name, d->driver) < 0)
                                why = NULL;
                }
        }
        return why;
}

static int read_pfs(Manager *m, Snapshot *s, const Config *c) {
        s->pfs = calloc(MAX(c->n_sriov, (size_t) 1), sizeof(*s->pfs));
        if (!s->pfs)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_sriov; i++) {
                char a[PCI_ADDRESS_STRING_MAX], dir[64];
                PersistentPfState *ps = &s->pfs[s->state.n_pfs];

                pci_address_format(&c->sriov[i].pf, a);
                snprintf(dir, sizeof(dir), "bus/pci/devices/%s", a);
                if (sysfs_exists(m->sysfs, dir) <= 0)
                        continue;
                ps->pf = keep(s, strdup(a));
                if (!ps->pf)
                        return -ENOMEM;
                if (read_int_attr(m, a, "sriov_totalvfs", &ps->totalvfs) < 0)
                        ps->totalvfs = -1;
                /* The VFs there are, by their links: reading sriov_numvfs
                 * would wait, on the event loop, for a SetNumVfs under way
                 * (sriov.h). */
                {
                        size_t nv;
                        ps->numvfs = sriov_count_vfs(m->sysfs, a, &nv) < 0 ? -1 : (int) nv;
                }
                ps->in_use = keep(s, vfs_in_use(m, a));
                s->state.n_pfs++;
        }
        return 0;
}

/* ---- definitions ---- */

static void on_import_report(int level, const char *path, const char *problem, void *userdata) {
        bool loud = *(bool *) userdata;

        log_internal(loud ? level : LOG_DEBUG, 0, "Persistent: %s: %s", path, problem);
}

static void import_mdevctl(PersistentRunner *p, bool loud) {
        const Config *c = p->manager->config;
        MdevctlDef *defs = NULL;
        size_t n = 0;
        int r;

        free(p->imported);
        p->imported = NULL;
        p->n_imported = 0;
        if (!c->import_mdevctl)
                return;
        r = mdevctl_read(MDEVCTL_DIR, on_import_report, &loud, &defs, &n);
        if (r < 0) {
                log_warning_errno(r, "Persistent: cannot read %s (ImportMdevctl=yes): %m; nothing imported",
                                  MDEVCTL_DIR);
                return;
        }
        p->imported = defs;
        p->n_imported = n;
        log_info("Persistent: %zu mdev definitions imported from %s", n, MDEVCTL_DIR);
}

/* iommud.conf's definitions, then mdevctl's: a UUID in both counts as
 * iommud.conf says. */
/* The mdev parents and PFs of @s, for the next round to compare. */
static char **seen_keys(const Snapshot *s) {
        size_t n = 0;
        char **v = calloc(s->state.n_types + s->state.n_pfs + 1, sizeof(*v));

        if (!v)
                return NULL;
        for (size_t i = 0; i < s->state.n_types; i++)
                if (n == 0 || strcmp(v[n - 1], s->state.types[i].parent) != 0)
                        if (!(v[n++] = strdup(s->state.types[i].parent)))
                                return sysfs_strv_free(v);
        for (size_t i = 0; i < s->state.n_pfs; i++)
                if (!(v[n++] = strdup(s->state.pfs[i].pf)))
                        return sysfs_strv_free(v);
        return v;
}

static bool was_present(PersistentRunner *p, const char *key) {
        for (char **k = p->present; k && *k; k++)
                if (strcmp(*k, key) == 0)
                        return true;
        return false;
}

static int make_plan(PersistentRunner *p, PersistentPlan **ret) {
        Manager *m = p->manager;
        const Config *c = m->config;
        size_t n = c->n_mdevs + c->n_sriov + p->n_imported, k = 0;
        _cleanup_free_ PersistentDef *defs = calloc(MAX(n, (size_t) 1), sizeof(*defs));
        _cleanup_free_ char *sources = calloc(MAX(n, (size_t) 1), PERSISTENT_SOURCE_MAX);
        _cleanup_free_ char *pfs = calloc(MAX(c->n_sriov, (size_t) 1), PCI_ADDRESS_STRING_MAX);
        Snapshot s = { 0 };
        int r;

        if (!defs || !sources || !pfs)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_sriov; i++, k++) {
                char *src = sources + k * PERSISTENT_SOURCE_MAX, *a = pfs + i * PCI_ADDRESS_STRING_MAX;
                snprintf(src, PERSISTENT_SOURCE_MAX, "%.200s:%u", c->path, c->sriov[i].line);
                defs[k] = (PersistentDef) { .kind = PERSISTENT_SRIOV, .source = src,
                                            .pf = pci_address_format(&c->sriov[i].pf, a),
                                            .numvfs = c->sriov[i].numvfs };
        }
        for (size_t i = 0; i < c->n_mdevs; i++, k++) {
                char *src = sources + k * PERSISTENT_SOURCE_MAX;
                snprintf(src, PERSISTENT_SOURCE_MAX, "%.200s:%u", c->path, c->mdevs[i].line);
                defs[k] = (PersistentDef) { .kind = PERSISTENT_MDEV, .source = src, .parent = c->mdevs[i].parent,
                                            .type = c->mdevs[i].type, .uuid = c->mdevs[i].uuid };
        }
        for (size_t i = 0; i < p->n_imported; i++, k++)
                defs[k] = (PersistentDef) { .kind = PERSISTENT_MDEV, .source = p->imported[i].source,
                                            .parent = p->imported[i].parent, .type = p->imported[i].type,
                                            .uuid = p->imported[i].uuid };
        r = read_mdevs(m, &s);
        if (r >= 0)
                r = read_types(m, &s);
        if (r >= 0)
                r = read_pfs(m, &s, c);
        if (r >= 0) {
                s.state.mdevs = s.mdevs;
                s.state.types = s.types;
                s.state.pfs = s.pfs;
                r = persistent_plan(defs, n, &s.state, ret);
        }
        if (r >= 0) {
                sysfs_strv_free(p->seen);
                p->seen = seen_keys(&s);
                if (!p->seen) {
                        *ret = persistent_plan_free(*ret);
                        r = -ENOMEM;
                }
        }
        snapshot_done(&s);
        return r;
}

/* ---- carrying a plan out ---- */

static void run_next(PersistentRunner *p);

static void action_done(PersistentRunner *p) {
        p->waiting = false;
        if (!p->in_call)
                run_next(p);
}

static void on_mdev_done(Manager *m, const ManagerError *err, const char *uuid, void *userdata) {
        PersistentRunner *p = userdata;
        const PersistentStep *s = &p->plan->steps[p->next - 1];

        if (err)
                log_warning("Persistent: mdev %s (%s of %s, %s) was not created: %s", s->uuid, s->type, s->parent,
                            s->source, err->message);
        action_done(p);
}

static void on_numvfs_done(Manager *m, const ManagerError *err, void *userdata) {
        PersistentRunner *p = userdata;
        const PersistentStep *s = &p->plan->steps[p->next - 1];

        if (err)
                log_warning("Persistent: sriov_numvfs of %s (%s) was not set to %u: %s", s->pf, s->source,
                            s->numvfs, err->message);
        else
                log_info("Persistent: %s has %u VFs now (%s)", s->pf, s->numvfs, s->source);
        action_done(p);
}

static void round_end(PersistentRunner *p) {
        bool loud = p->again_loud;

        sysfs_strv_free(p->present);
        p->present = TAKE_PTR(p->seen);
        p->running = false;
        p->plan = persistent_plan_free(p->plan);
        if (p->again) {
                p->again = p->again_loud = false;
                round_start(p, loud);
        }
}

static void run_next(PersistentRunner *p) {
        Manager *m = p->manager;
        int r;

        while (p->next < p->plan->n) {
                const PersistentStep *s = &p->plan->steps[p->next++];
                char buf[768];

                if ((s->outcome == PERSISTENT_CREATE_MDEV || s->outcome == PERSISTENT_SET_NUMVFS) && !p->loud &&
                    was_present(p, s->kind == PERSISTENT_MDEV ? s->parent : s->pf)) {
                        log_info("Persistent: %s (%s): missing, but its %s was there before this device event: "
                                 "left for the next start or reload",
                                 s->kind == PERSISTENT_MDEV ? s->uuid : s->pf, s->source,
                                 s->kind == PERSISTENT_MDEV ? "parent" : "PF");
                        continue;
                }

                if (s->outcome == PERSISTENT_CREATE_MDEV) {
                        log_info("Persistent: %s", persistent_step_describe(s, buf, sizeof(buf)));
                        p->waiting = p->in_call = true;
                        r = manager_create_mdev_internal(m, s->parent, s->type, s->uuid, s->source, on_mdev_done,
                                                         p);
                        p->in_call = false;
                } else if (s->outcome == PERSISTENT_SET_NUMVFS) {
                        if (!p->set_numvfs) {
                                /* Connected by manager-sriov.c (the SR-IOV
                                 * work); until then only planned. */
                                log_warning("Persistent: %s: not done, setting VF counts is not supported yet",
                                            persistent_step_describe(s, buf, sizeof(buf)));
                                continue;
                        }
                        log_info("Persistent: %s", persistent_step_describe(s, buf, sizeof(buf)));
                        p->waiting = p->in_call = true;
                        r = p->set_numvfs(m, s->pf, s->numvfs, s->source, on_numvfs_done, p);
                        p->in_call = false;
                } else
                        continue;
                if (r < 0) {
                        log_warning_errno(r, "Persistent: %s: failed: %m", persistent_step_describe(s, buf, sizeof(buf)));
                        p->waiting = false;
                        continue;
                }
                if (p->waiting)
                        return;         /* @done continues */
        }
        round_end(p);
}

static void log_plan(PersistentRunner *p, bool loud) {
        char buf[768];

        for (size_t i = 0; i < p->plan->n; i++) {
                const PersistentStep *s = &p->plan->steps[i];
                int level;

                switch (s->outcome) {
                case PERSISTENT_CREATE_MDEV:
                case PERSISTENT_SET_NUMVFS:
                        continue;       /* logged as they are carried out */
                case PERSISTENT_PRESENT:
                        level = LOG_DEBUG;
                        break;
                case PERSISTENT_DEFERRED:
                        level = loud ? LOG_INFO : LOG_DEBUG;
                        break;
                default:
                        level = loud ? LOG_WARNING : LOG_DEBUG;
                        break;
                }
                log_internal(level, 0, "Persistent: %s", persistent_step_describe(s, buf, sizeof(buf)));
        }
}

/* @loud: at start and reload every problem is logged; a round that a
 * device event started logs only what it does, not the same problems
 * again. */
static void round_start(PersistentRunner *p, bool loud) {
        PersistentPlan *plan = NULL;
        int r;

        if (p->running) {
                p->again = true;
                p->again_loud = p->again_loud || loud;
                return;
        }
        r = make_plan(p, &plan);
        if (r < 0) {
                log_warning_errno(r, "Persistent: cannot plan the definitions: %m");
                return;
        }
        p->plan = plan;
        p->next = 0;
        p->running = true;
        p->loud = loud;
        if (loud && plan->n > 0)
                log_info("Persistent: %zu definitions: %zu to create, %zu VF counts to set, %zu present, "
                         "%zu waiting for their parent, %zu not done (conflict, in use or invalid)",
                         plan->n, persistent_plan_count(plan, PERSISTENT_CREATE_MDEV),
                         persistent_plan_count(plan, PERSISTENT_SET_NUMVFS),
                         persistent_plan_count(plan, PERSISTENT_PRESENT),
                         persistent_plan_count(plan, PERSISTENT_DEFERRED),
                         persistent_plan_count(plan, PERSISTENT_CONFLICT) +
                                 persistent_plan_count(plan, PERSISTENT_IN_USE) +
                                 persistent_plan_count(plan, PERSISTENT_INVALID));
        log_plan(p, loud);
        run_next(p);
}

void manager_persistent_apply(Manager *m, const char *why) {
        PersistentRunner *p = m->persistent;

        if (!p)
                return;
        log_debug("Persistent: planning (%s)", why);
        p->started = true;
        import_mdevctl(p, true);
        round_start(p, true);
}

static int on_replan(sd_event_source *s, uint64_t usec, void *userdata) {
        PersistentRunner *p = userdata;

        log_debug("Persistent: devices changed: planning again for parents that appeared");
        round_start(p, false);
        return 0;
}

static bool has_definitions(PersistentRunner *p) {
        const Config *c = p->manager->config;
        return c->n_mdevs + c->n_sriov + p->n_imported > 0;
}

void manager_persistent_device_event(Manager *m, const Device *d) {
        PersistentRunner *p = m->persistent;
        int r;

        /* mdev parents and PFs are PCI devices (or virtual ones, like
         * mtty, that no event announces: a reload retries those).  A
         * removal counts too: the parent that comes back is new. */
        if (!p || !p->started || d->kind != DEVICE_PCI || !has_definitions(p))
                return;
        if (p->replan) {
                r = sd_event_source_set_time_relative(p->replan, PERSISTENT_REPLAN_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(p->replan, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(m->event, &p->replan, CLOCK_MONOTONIC, PERSISTENT_REPLAN_USEC, 0,
                                               on_replan, p);
        if (r < 0)
                log_warning_errno(r, "Persistent: cannot schedule planning again: %m");
}
