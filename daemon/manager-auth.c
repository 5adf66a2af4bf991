/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-auth.c - who may do what: the one place the decision is made,
 * for every front end.
 *
 * Root may do anything (polkit 122 would say yes to uid 0 anyway, before
 * any rule runs).  Everyone else is asked about through polkit, one
 * CheckAuthorization per device the request touches, so that a rule
 * deciding on a device's vendor or class sees exactly that device; every
 * device must be allowed.  Any failure to get an answer is a denial.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager-internal.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"

#define AUTH_DEVICES_MAX 64

typedef struct AuthCheck AuthCheck;

/* One request's checks, in m->auth_batches until it is decided. */
typedef struct AuthBatch {
        Manager *manager;
        struct AuthBatch *next, *prev;
        bool linked;
        ManagerAuthDone done;
        void *userdata;
        unsigned pending;
        bool denied;
        ManagerError err;
        char verb[32];
        char action[64];
        char what[192];         /* "uid 1000's call to claim 0000:00:03.0", for the log */
        uid_t uid;
        bool interactive;
        AuthCheck *checks[AUTH_DEVICES_MAX];    /* those polkit has not answered */
} AuthBatch;

struct AuthCheck {
        AuthBatch *batch;
        size_t index;           /* in batch->checks */
        PolkitQuery *query;
        char device[64];
};

static void batch_unlink(AuthBatch *b) {
        Manager *m = b->manager;

        if (!b->linked)
                return;
        if (b->prev)
                b->prev->next = b->next;
        else
                m->auth_batches = b->next;
        if (b->next)
                b->next->prev = b->prev;
        b->linked = false;
}

static void batch_finish(AuthBatch *b) {
        batch_unlink(b);
        b->done(b->manager, b->denied ? &b->err : NULL, b->userdata);
        free(b);
}

static int on_deferred_finish(sd_event_source *s, void *userdata) {
        batch_finish(userdata);
        return 0;
}

static void on_verdict(int result, bool challenge, const char *error_message, void *userdata) {
        AuthCheck *c = userdata;
        AuthBatch *b = c->batch;
        const char *dev = NULL;

        b->checks[c->index] = NULL;
        /* Only the first denial is reported; the others are just counted out. */
        if (result != 1 && !b->denied) {
                b->denied = true;
                b->err.name = "PermissionDenied";
                b->err.challenge = result == 0 && challenge;
                snprintf(b->err.device, sizeof(b->err.device), "%s", c->device);
                dev = c->device[0] ? c->device : NULL;
                if (result == 0)
                        snprintf(b->err.message, sizeof(b->err.message),
                                 "uid %u may not %s%s%s: polkit action %s %s (see AUTHORIZATION in iommud(8))",
                                 (unsigned) b->uid, b->verb, dev ? " " : "", dev ? dev : "", b->action,
                                 challenge ? (b->interactive ? "needs authentication, which was not given"
                                                             : "needs authentication, and the call did not allow "
                                                               "polkit to ask for it")
                                           : "is not allowed");
                else
                        snprintf(b->err.message, sizeof(b->err.message),
                                 "uid %u may not %s%s%s: polkit could not be asked (%s), and that means no",
                                 (unsigned) b->uid, b->verb, dev ? " " : "", dev ? dev : "",
                                 error_message ? error_message : strerror(-result));
                snprintf(b->err.step, sizeof(b->err.step), "%s", b->action);
                log_info("Denied: %s", b->err.message);
        }
        free(c);
        if (--b->pending == 0)
                batch_finish(b);
}

void manager_auth_shutdown(Manager *m) {
        /* Each done may start more (a claim undoing what it did), but no
         * new batch is linked while stopping. */
        while (m->auth_batches) {
                AuthBatch *b = m->auth_batches;

                for (size_t i = 0; i < ELEMENTSOF(b->checks); i++)
                        if (b->checks[i]) {
                                polkit_query_cancel(b->checks[i]->query);
                                free(b->checks[i]);
                                b->checks[i] = NULL;
                        }
                log_info("Stopping: refused %s, which was waiting for polkit", b->what);
                b->denied = true;
                (void) manager_is_stopping(m, &b->err);
                batch_finish(b);
        }
}

static const char *hex(char *buf, size_t size, unsigned v, int width) {
        snprintf(buf, size, "%0*x", width, v);
        return buf;
}

int manager_authorize(Manager *m, const ManagerCaller *caller, const ManagerAuthRequest *req, ManagerAuthDone done,
                      void *userdata) {
        /* A D-Bus caller by its bus name, which polkit resolves itself;
         * a varlink peer by pid, start time, uid and pidfd. */
        PolkitSubject subject = caller->bus_name ? POLKIT_SUBJECT_BUS_NAME_INIT(caller->bus_name)
                                                 : POLKIT_SUBJECT_PROCESS_INIT(caller->pid, caller->uid, caller->pidfd);
        char all[1024] = "", group[24] = "";
        size_t n = MAX(req->n_devices, (size_t) 1);
        AuthCheck *c;
        AuthBatch *b;
        int r;

        if (caller->uid == 0) {
                done(m, NULL, userdata);
                return 0;
        }
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->manager = m;
        b->done = done;
        b->userdata = userdata;
        b->uid = caller->uid;
        b->interactive = caller->interactive;
        b->err.group = -1;
        snprintf(b->verb, sizeof(b->verb), "%s", req->verb);
        snprintf(b->action, sizeof(b->action), "%s", req->action);
        if (manager_is_stopping(m, &b->err)) {
                /* Nothing new is asked while stopping; still answered
                 * from the event loop, as a verdict would be. */
                b->denied = true;
                r = sd_event_add_defer(m->event, NULL, on_deferred_finish, b);
                if (r < 0)
                        free(b);
                return r;
        }
        if (!m->polkit) {
                r = polkit_new(m->event, NULL, &m->polkit);
                if (r < 0) {
                        free(b);
                        return r;
                }
        }
        for (size_t i = 0; i < req->n_devices && i < AUTH_DEVICES_MAX; i++) {
                size_t len = strlen(all);
                snprintf(all + len, sizeof(all) - len, "%s%s", i ? ", " : "", req->devices[i]);
        }
        if (req->group >= 0)
                snprintf(group, sizeof(group), "%lld", (long long) req->group);
        snprintf(b->what, sizeof(b->what), "uid %u's call to %s%s%s%s%s", (unsigned) b->uid, b->verb,
                 all[0] ? " " : "", all, group[0] && !all[0] ? " IOMMU group " : "", group[0] && !all[0] ? group : "");
        b->next = m->auth_batches;
        if (b->next)
                b->next->prev = b;
        m->auth_batches = b;
        b->linked = true;

        /* Count first, so a verdict arriving early cannot finish the batch. */
        b->pending = (unsigned) MIN(n, (size_t) AUTH_DEVICES_MAX) + 1;
        for (size_t i = 0; i < n && i < AUTH_DEVICES_MAX; i++) {
                const Device *d = req->n_devices ? registry_get_device(m->registry, req->devices[i]) : NULL;
                char vendor[8] = "", device_id[8] = "", cls[8] = "", dgroup[24];
                const char *details[24];
                size_t k = 0;

#define DETAIL(key, value) do { details[k++] = (key); details[k++] = (value); } while (0)
                if (req->n_devices) {
                        DETAIL(POLKIT_DETAIL_DEVICE, req->devices[i]);
                        DETAIL(POLKIT_DETAIL_DEVICES, all);
                }
                if (d && d->kind == DEVICE_PCI) {
                        DETAIL(POLKIT_DETAIL_VENDOR, hex(vendor, sizeof(vendor), d->vendor_id, 4));
                        DETAIL(POLKIT_DETAIL_DEVICE_ID, hex(device_id, sizeof(device_id), d->device_id, 4));
                        DETAIL(POLKIT_DETAIL_CLASS, hex(cls, sizeof(cls), d->class_code, 6));
                }
                if (d && d->kind == DEVICE_MDEV && d->mdev_type)
                        DETAIL(POLKIT_DETAIL_MDEV_TYPE, d->mdev_type);
                else if (req->mdev_type)
                        DETAIL(POLKIT_DETAIL_MDEV_TYPE, req->mdev_type);
                if (d) {
                        DETAIL(POLKIT_DETAIL_DRIVER, d->driver ? d->driver : "");
                        if (d->iommu_group >= 0) {
                                snprintf(dgroup, sizeof(dgroup), "%lld", (long long) d->iommu_group);
                                DETAIL(POLKIT_DETAIL_IOMMU_GROUP, dgroup);
                        }
                } else if (group[0])
                        DETAIL(POLKIT_DETAIL_IOMMU_GROUP, group);
                if (req->mode)
                        DETAIL(POLKIT_DETAIL_MODE, req->mode);
                if (req->num_vfs)
                        DETAIL(POLKIT_DETAIL_NUM_VFS, req->num_vfs);
                details[k] = NULL;
#undef DETAIL
                c = calloc(1, sizeof(*c));
                if (!c) {
                        b->pending--;   /* nobody will answer for it: it is a denial */
                        b->denied = true;
                        b->err.name = "PermissionDenied";
                        snprintf(b->err.message, sizeof(b->err.message), "out of memory while asking polkit");
                        continue;
                }
                c->batch = b;
                c->index = i;
                b->checks[i] = c;
                if (req->n_devices)
                        snprintf(c->device, sizeof(c->device), "%s", req->devices[i]);
                r = polkit_check(m->polkit, &subject, req->action, details, caller->interactive, on_verdict, c,
                                 &c->query);
                if (r < 0)
                        /* Not asked: a denial, reported like any other. */
                        on_verdict(r, false, "cannot start the polkit check", c);
        }
        /* The extra count taken above.  Every check may have failed at
         * once: answer from the event loop all the same, so that for a
         * caller who is not root @done never runs before this returns. */
        if (--b->pending == 0) {
                /* Decided already: a stop has nothing to refuse here. */
                batch_unlink(b);
                r = sd_event_add_defer(m->event, NULL, on_deferred_finish, b);
                if (r < 0)
                        batch_finish(b);
        }
        return 0;
}

/* ---- Prepare, Restore and Reload for a caller ---- */

typedef struct CallerRebind {
        bool restore;
        ProcessInfo who;        /* the caller, for the audit records */
        char (*names)[UUID_STRING_MAX];
        const char **ptrs;
        size_t n;
        int64_t group;
        ManagerRebindDone done;
        void *userdata;
} CallerRebind;

static void caller_rebind_free(CallerRebind *cr) {
        free(cr->names);
        free(cr->ptrs);
        free(cr);
}

static void rebind_authorized(Manager *m, const ManagerError *err, void *userdata) {
        CallerRebind *cr = userdata;
        int r;

        if (err)
                cr->done(m, err, NULL, cr->userdata);
        else {
                r = manager_rebind_for(m, &cr->who, cr->restore, cr->ptrs, cr->n, cr->group, cr->done,
                                       cr->userdata);
                if (r < 0) {
                        ManagerError e = { .name = "RebindFailed", .group = cr->group, .rolled_back = true };
                        snprintf(e.message, sizeof(e.message), "nothing was changed: %s", strerror(-r));
                        cr->done(m, &e, NULL, cr->userdata);
                }
        }
        caller_rebind_free(cr);
}

int manager_caller_rebind(Manager *m, const ManagerCaller *caller, bool restore, const char *const *names, size_t n,
                          int64_t group, ManagerRebindDone done, void *userdata) {
        ManagerAuthRequest req = {
                .action = POLKIT_ACTION_PREPARE,
                .verb = restore ? "restore" : "prepare",
                .group = group,
        };
        const char *members[AUTH_DEVICES_MAX];
        CallerRebind *cr = calloc(1, sizeof(*cr));
        size_t k = 0;
        int r;

        if (!cr)
                return -ENOMEM;
        cr->restore = restore;
        cr->who = (ProcessInfo) { .uid = caller->uid, .pid = caller->pid };
        process_read_comm(m->proc_root, caller->pid, cr->who.comm, sizeof(cr->who.comm));
        cr->n = n;
        cr->group = group;
        cr->done = done;
        cr->userdata = userdata;
        cr->names = calloc(n + 1, sizeof(*cr->names));
        cr->ptrs = calloc(n + 1, sizeof(*cr->ptrs));
        if (!cr->names || !cr->ptrs) {
                caller_rebind_free(cr);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                snprintf(cr->names[i], sizeof(cr->names[i]), "%s", names[i]);
                cr->ptrs[i] = cr->names[i];
        }
        if (n > 0) {
                req.devices = cr->ptrs;
                req.n_devices = n;
        } else if (group >= 0 && group <= UINT32_MAX) {
                /* A whole group: ask about each function that would move. */
                const Group *g = registry_get_group(m->registry, (uint32_t) group);
                for (size_t i = 0; g && i < g->n_members && k < AUTH_DEVICES_MAX; i++)
                        if (g->members[i]->kind == DEVICE_PCI && !device_is_bridge(g->members[i]))
                                members[k++] = g->members[i]->name;
                req.devices = members;
                req.n_devices = k;
        }
        r = manager_authorize(m, caller, &req, rebind_authorized, cr);
        if (r < 0)
                caller_rebind_free(cr);
        return r;
}

typedef struct CallerReload {
        ManagerDone done;
        void *userdata;
} CallerReload;

static void reload_authorized(Manager *m, const ManagerError *err, void *userdata) {
        CallerReload *cl = userdata;
        _cleanup_free_ char *why = NULL;
        ManagerError e = { .group = -1 };
        int r;

        if (err) {
                cl->done(m, err, cl->userdata);
                free(cl);
                return;
        }
        r = manager_reload_config(m, &why);
        if (r < 0) {
                e.name = "ConfigInvalid";
                snprintf(e.message, sizeof(e.message), "%s", why ? why : strerror(-r));
                cl->done(m, &e, cl->userdata);
        } else
                cl->done(m, NULL, cl->userdata);
        free(cl);
}

int manager_caller_reload(Manager *m, const ManagerCaller *caller, ManagerDone done, void *userdata) {
        ManagerAuthRequest req = { .action = POLKIT_ACTION_RELOAD, .verb = "reload the policy", .group = -1 };
        CallerReload *cl = calloc(1, sizeof(*cl));
        int r;

        if (!cl)
                return -ENOMEM;
        cl->done = done;
        cl->userdata = userdata;
        r = manager_authorize(m, caller, &req, reload_authorized, cl);
        if (r < 0)
                free(cl);
        return r;
}
