/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-lease.c - Claim, AddDevices, RemoveDevices, Release,
 * RequestRelease: the life of a lease, from the first check to the group
 * being free again.
 *
 * A claim runs in steps on the event loop (a ClaimOp): resolve and
 * check every device; take every group in the claim table at once
 * (claims.c: of concurrent claims for a group exactly one gets past this
 * point); prepare the groups of managed devices that need it, one job
 * after another; open the iommufd and each device (bound or parked);
 * raise the holder's memlock; commit.  Any failure after the groups were
 * taken undoes everything in reverse: the files are closed (which
 * unbinds), the groups this claim prepared are restored, the groups are
 * given back; only then is the caller answered.
 *
 * The end of a lease (Release, its holder exiting, a RequestRelease's
 * grace running out, RemoveDevices of a group's last device): iommud
 * detaches each device through its own copy of the file, which blocks
 * the device's DMA whoever else holds it, closes its copies, and marks
 * each group "releasing".  A group stays releasing until iommud can find
 * no process holding its device nodes and a fresh bind of every device
 * to a new iommufd succeeds (the kernel refuses it while any other
 * iommufd still has one bound); then it is free, and restored when the
 * claim had prepared it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "claims.h"
#include "holders.h"
#include "iommufd.h"
#include "lease.h"
#include "lease-state.h"
#include "vfio-legacy.h"
#include "manager-internal.h"
#include "mdev.h"
#include "polkit.h"
#include "process.h"
#include "shared/log.h"
#include "shared/macro.h"

#define PROBE_FIRST_USEC (100 * 1000ULL)
#define PROBE_MAX_USEC (5 * 1000 * 1000ULL)

/* A group after its lease: waiting for the kernel to say it is free. */
typedef struct Releasing {
        Manager *manager;
        /* What the state file keeps: the group, its lease (and its holder,
         * for GroupBusy; lease "" for a group held by a process iommud
         * found at its start and knows nothing of), the cdevs to probe,
         * what the claim moved here (restored once free). */
        StateReleasing rec;
        char key[12];
        sd_event_source *timer;
        uint64_t interval;
        Holder seen;                    /* the last holder the walk found */
        bool seen_valid;
        bool kernel_busy;               /* the last bind probe was refused */
} Releasing;

typedef struct ClaimMdev {
        char parent[128];
        char type[128];
        char uuid[UUID_STRING_MAX];
        bool created;                   /* the kernel made it for this claim */
} ClaimMdev;

typedef struct ClaimOp {
        Manager *manager;
        ManagerCaller caller;
        LeaseMode mode;
        uint64_t owner;                 /* the lease id, also in the claim table */
        bool add;                       /* AddDevices to lease @owner */
        bool cancelled;                 /* the caller went away */
        bool backend_auto;              /* a new lease's backend is decided again at bind */
        Lease *lease;                   /* a new lease, until committed */
        int holder_pidfd;
        uint64_t memlock;
        char (*names)[UUID_STRING_MAX];
        size_t n;
        uint32_t *groups;               /* distinct groups of @names */
        bool *needs_prepare;
        size_t n_groups;
        size_t next;                    /* the next group to look at (prepare) */
        uint32_t *prepared;             /* groups this claim prepared */
        size_t n_prepared;
        LeaseMoved *moved;              /* the devices those prepares moved */
        size_t n_moved;
        size_t *added;                  /* indexes in the lease of devices added */
        size_t n_added;
        ManagerClaimFds fds;            /* handed to @done on success */
        bool have_fds;
        ManagerError err;
        bool failed;
        ManagerClaimDone done;
        void *userdata;
        /* The mdevs the claim creates (ManagerClaimRequest.mdevs): each
         * authorized, then created and seen in the registry with its VFIO
         * nodes, one after another, before the claim goes on as for any
         * device; removed again, newest first, when the claim fails. */
        ClaimMdev *mdevs;
        size_t n_mdevs;
        size_t next_mdev;
        sd_event_source *mdev_source;   /* the deferred start, then the wait for a new mdev */
        uint64_t mdev_deadline;         /* CLOCK_MONOTONIC: the new mdev must be seen by then */
        char vf_token[UUID_STRING_MAX]; /* ManagerClaimRequest.vf_token, or "" */
        char bus_name[256];             /* the caller's, kept for polkit after the mdevs */
        int caller_pidfd;               /* likewise (a dup), or -EBADF */
        ManagerWork *work;              /* what a stop waits for, once the checks passed */
        /* CLOCK_MONOTONIC, for the grant's log line: asked, checked
         * (devices, policy, holder), mdevs created, authorized, prepared
         * (the kernel work starts), bound (the fds are made). */
        uint64_t t_start, t_checked, t_mdevs, t_authorized, t_prepared, t_bound, t_recorded;
} ClaimOp;

/* How long a new mdev may take to show up with its VFIO nodes: the
 * kernel's create returns once the mdev is probed, so this is slack for
 * a busy machine. */
#define MDEV_APPEAR_USEC (5 * 1000 * 1000ULL)
#define MDEV_POLL_USEC (20 * 1000ULL)


static uint64_t now_realtime(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static uint64_t now_monotonic(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* ---- the backend ---- */


LeaseBackend manager_lease_backend(Manager *m) {
        switch (m->config->backend) {
        case CONFIG_BACKEND_IOMMUFD:
                return LEASE_BACKEND_IOMMUFD;
        case CONFIG_BACKEND_LEGACY:
                return LEASE_BACKEND_LEGACY;
        case CONFIG_BACKEND_AUTO:
        default:
                /* What the kernel offers now (vfio may load later). */
                return manager_is_char_device("/dev/iommu") && sysfs_exists(m->sysfs, "class/vfio-dev") > 0
                               ? LEASE_BACKEND_IOMMUFD
                               : LEASE_BACKEND_LEGACY;
        }
}

/* ---- telling watchers ---- */

/* Hand @o (taken) to every watcher. */
static void notify_lease_json(Manager *m, const char *event, json_object *o) {
        if (!o)
                return;
        for (ManagerWatch *w = m->watches, *next; w; w = next) {
                next = w->next;
                w->fn(m, event, NULL, NULL, o, w->userdata);
        }
        json_object_put(o);
}

static void notify_lease(Manager *m, const char *event, const Lease *l, const char *reason) {
        json_object *o;

        if (!m->watches)
                return;
        o = lease_to_json(l);
        if (o && reason)
                json_object_object_add(o, "endReason", json_object_new_string(reason));
        notify_lease_json(m, event, o);
}

/* The group's claim state is part of its JSON and its members'. */
static void notify_group(Manager *m, uint32_t group) {
        const Group *g = registry_get_group(m->registry, group);

        if (!g)
                return;
        for (size_t i = 0; i < g->n_members; i++) {
                registry_invalidate_json(m->registry, g->members[i]->name);
                manager_notify_device_changed(m, g->members[i]);
        }
        manager_notify_group_changed(m, g);
}

/* ---- lookups ---- */

/* The holder as it is now: a VMM started through `iommuctl claim --
 * COMMAND` was iommuctl, as root, when it asked, and is COMMAND, maybe as
 * another uid, after its exec. */
static void refresh_holder(Manager *m, Lease *l) {
        ProcessInfo p;

        if (process_identify(m->proc_root, l->holder_pidfd, &p) >= 0)
                l->holder = p;
}

Lease *manager_get_lease(Manager *m, uint64_t id) {
        char key[LEASE_ID_STRING_MAX];

        snprintf(key, sizeof(key), "%016llx", (unsigned long long) id);
        return hashmap_get(m->leases, key);
}

static Releasing *get_releasing(Manager *m, uint32_t group) {
        char key[12];

        snprintf(key, sizeof(key), "%u", group);
        return hashmap_get(m->releasing, key);
}

void manager_annotate_claim(Manager *m, int64_t group, json_object *o) {
        uint64_t owner = 0;
        ClaimState s = group >= 0 && m->claims ? claim_get(m->claims, (uint32_t) group, &owner) : CLAIM_FREE;
        char id[LEASE_ID_STRING_MAX];

        snprintf(id, sizeof(id), "%016llx", (unsigned long long) owner);
        json_object_object_add(o, "claim", json_object_new_string(claim_state_to_string(s)));
        json_object_object_add(o, "lease",
                               s != CLAIM_FREE && owner != RELEASING_UNKNOWN_OWNER ? json_object_new_string(id) : NULL);
}

json_object *manager_group_to_json(Manager *m, const Group *g) {
        json_object *o = group_to_json(g);
        Releasing *rel;

        if (!o)
                return NULL;
        manager_annotate_claim(m, g->id, o);
        rel = get_releasing(m, g->id);
        if (rel && rel->seen_valid) {
                char buf[160];
                snprintf(buf, sizeof(buf), "pid %d (%s) holds %s", (int) rel->seen.pid, rel->seen.comm,
                         rel->seen.path);
                json_object_object_add(o, "releaseHeldBy", json_object_new_string(buf));
        } else if (rel && rel->kernel_busy)
                json_object_object_add(o, "releaseHeldBy",
                                       json_object_new_string("a process iommud cannot see still has a device bound"));
        return o;
}

/* GroupBusy, naming who has the group. */
static void set_busy(Manager *m, ManagerError *err, uint32_t group) {
        uint64_t owner;
        ClaimState s = claim_get(m->claims, group, &owner);
        Lease *l = manager_get_lease(m, owner);
        const Releasing *rel = get_releasing(m, group);
        const ProcessInfo *who;

        if (l)
                refresh_holder(m, l);
        who = l ? &l->holder : rel ? &rel->rec.holder : NULL;
        err->group = group;
        if (s == CLAIM_RELEASING && owner == RELEASING_UNKNOWN_OWNER) {
                manager_set_error(err, "GroupBusy", NULL,
                                  "IOMMU group %u is held by a process iommud knows no lease of (found when iommud "
                                  "started%s%s): iommud hands it out once no process holds its devices",
                                  group, rel && rel->seen_valid ? ", now " : "",
                                  rel && rel->seen_valid ? rel->seen.comm : "");
                snprintf(err->state, sizeof(err->state), "%s", claim_state_to_string(s));
                if (rel && rel->seen_valid)
                        err->pid = rel->seen.pid;
                return;
        }
        snprintf(err->lease, sizeof(err->lease), "%016llx", (unsigned long long) owner);
        snprintf(err->state, sizeof(err->state), "%s", claim_state_to_string(s));
        if (who) {
                err->pid = who->pid;
                err->uid = who->uid;
                snprintf(err->command, sizeof(err->command), "%s", who->comm);
        }
        if (s == CLAIM_RELEASING)
                manager_set_error(err, "GroupBusy", NULL,
                          "IOMMU group %u is still held after its lease %s ended (holder was %s, pid %d, uid %u): "
                          "iommud hands it out again once no process holds its devices",
                          group, err->lease, who ? who->comm : "?", who ? (int) who->pid : 0,
                          who ? (unsigned) who->uid : 0);
        else if (s == CLAIM_CLAIMING && !l)
                manager_set_error(err, "GroupBusy", NULL, "IOMMU group %u is being claimed by another request", group);
        else
                manager_set_error(err, "GroupBusy", NULL, "IOMMU group %u is held by lease %s (%s, pid %d, uid %u)", group,
                          err->lease, who ? who->comm : "?", who ? (int) who->pid : 0,
                          who ? (unsigned) who->uid : 0);
}

bool manager_group_is_claimed(Manager *m, uint32_t group, ManagerError *err) {
        if (!m->claims || claim_get(m->claims, group, NULL) == CLAIM_FREE)
                return false;
        if (err)
                set_busy(m, err, group);
        return true;
}

/* ---- releasing: until the kernel says the group is free ---- */

static void releasing_free(Releasing *rel) {
        if (!rel)
                return;
        sd_event_source_disable_unref(rel->timer);
        state_releasing_done(&rel->rec);
        free(rel);
}

/* Restore the devices of @moved that are in @group and still there, the
 * way a claim moved them (claimed: the group is still the claim's).
 * 1 when there is nothing to restore (@done not called), 0 when started,
 * -ENOMEM. */
static int restore_moved(Manager *m, const LeaseMoved *moved, size_t n, uint32_t group, bool claimed,
                         ManagerRebindDone done, void *userdata) {
        _cleanup_free_ const char **names = calloc(n + 1, sizeof(*names));
        size_t k = 0;

        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (moved[i].group == group && !moved[i].mdev_created && registry_get_device(m->registry, moved[i].name))
                        names[k++] = moved[i].name;
        if (k == 0)
                return 1;
        return claimed ? manager_restore_claimed(m, names, k, done, userdata)
                       : manager_restore(m, names, k, -1, done, userdata);
}

/* A released group is free: in the claim table, and to watchers. */
static void group_now_free(Manager *m, uint32_t group) {
        (void) claim_settle(m->claims, group);
        manager_state_sync(m);
        log_info("IOMMU group %u is free", group);
        notify_group(m, group);
}

static void restore_done(Manager *m, const ManagerError *err, json_object *result, void *userdata) {
        uint32_t group = (uint32_t) (uintptr_t) userdata;

        if (err)
                log_warning("IOMMU group %u could not be restored after its lease: %s", group, err->message);
        else
                log_info("IOMMU group %u restored after its lease", group);
        /* The registry as the restore left the group, before anyone can
         * claim it again (its uevents may still be on their way). */
        scanner_refresh_group(m->scanner, group);
        group_now_free(m, group);
}

static void created_mdev_removed(Manager *m, const ManagerError *err, const char *uuid, void *userdata) {
        if (err)
                log_warning("An mdev created for a lease could not be removed after it: %s", err->message);
}

/* The mdevs of @moved that a claim created (and only those): removed,
 * now that their group is free. */
static void remove_created_mdevs(Manager *m, const LeaseMoved *moved, size_t n, const char *lease) {
        char why[96];

        snprintf(why, sizeof(why), "after lease %s let go of it", lease);
        for (size_t i = 0; i < n; i++)
                if (moved[i].mdev_created &&
                    manager_mdev_write(m, true, NULL, NULL, moved[i].name, why, created_mdev_removed, NULL) < 0)
                        log_warning("mdev %s, created for lease %s, cannot be removed: out of memory", moved[i].name,
                                    lease);
}

/* 1: nobody holds the group's devices, 0: somebody does. */
static int probe(Releasing *rel) {
        Manager *m = rel->manager;
        const char *paths[129];
        char nodes[129][64];
        size_t k = 0;
        _cleanup_close_ int ictx = -EBADF;
        int fds[64];
        size_t nfds = 0;
        IommufdStep step;
        int r;

        for (size_t i = 0; i < rel->rec.n_cdevs && k < 128; i++) {
                snprintf(nodes[k], sizeof(nodes[k]), "/dev/vfio/devices/%s", rel->rec.cdevs[i]);
                paths[k] = nodes[k];
                k++;
                /* A hot-removed device's node is deleted while its
                 * holder keeps it open; the link then reads so. */
                snprintf(nodes[k], sizeof(nodes[k]), "/dev/vfio/devices/%s (deleted)", rel->rec.cdevs[i]);
                paths[k] = nodes[k];
                k++;
        }
        snprintf(nodes[k], sizeof(nodes[k]), "/dev/vfio/%u", rel->rec.group);
        paths[k] = nodes[k];
        k++;
        r = holders_find(m->proc_root, paths, k, getpid(), &rel->seen);
        if (r > 0) {
                rel->seen_valid = true;
                return 0;
        }
        rel->seen_valid = false;

        /* Nobody iommud can see: ask the kernel.  Legacy: the group node
         * is single-open, so an open fails (EBUSY) while anyone has it. */
        if (rel->rec.backend == LEASE_BACKEND_LEGACY) {
                LegacyStep lstep;
                r = vfio_legacy_group_open(rel->rec.group, &lstep);
                if (r >= 0)
                        safe_close(r);
                rel->kernel_busy = r == -EBUSY;
                return !rel->kernel_busy;
        }
        /* iommufd: a bind to a fresh iommufd fails while any other
         * iommufd has a device of the group bound (EPERM), the device
         * itself is bound through another file (EINVAL), or the legacy
         * group node is open (EBUSY). */
        ictx = iommufd_open(NULL, &step);
        if (ictx < 0)
                return 1;       /* no iommufd: the walk is all there is */
        r = 0;
        for (size_t i = 0; i < rel->rec.n_cdevs; i++) {
                uint32_t devid;
                int fd = iommufd_device_open(rel->rec.cdevs[i]);

                if (fd < 0)
                        continue;       /* gone, or not on VFIO any more: holds nothing */
                fds[nfds++] = fd;
                r = iommufd_bind(fd, ictx, &devid);
                if (r < 0)
                        break;
        }
        for (size_t i = 0; i < nfds; i++)
                safe_close(fds[i]);
        /* EINVAL: the cdev is open and bound through another file (the
         * cdev path opens a device once), e.g. a bound fd still in
         * flight in a socket, which the walk cannot see. */
        rel->kernel_busy = r == -EPERM || r == -EBUSY || r == -EINVAL;
        if (r < 0 && !rel->kernel_busy)
                log_debug("Probing IOMMU group %u: bind: %s", rel->rec.group, strerror(-r));
        return !rel->kernel_busy;
}

static int on_probe(sd_event_source *s, uint64_t usec, void *userdata) {
        Releasing *rel = userdata;
        Manager *m = rel->manager;
        bool was_seen = rel->seen_valid, was_busy = rel->kernel_busy;
        pid_t was_pid = rel->seen.pid;
        uint32_t group = rel->rec.group;
        _cleanup_free_ LeaseMoved *restore = NULL;
        size_t n_restore, n_created = 0;
        char lease[LEASE_ID_STRING_MAX];

        if (probe(rel) == 0) {
                if (rel->seen_valid && (!was_seen || rel->seen.pid != was_pid))
                        log_info("IOMMU group %u: released by iommud, still held by %s (pid %d) through %s",
                                 group, rel->seen.comm, (int) rel->seen.pid, rel->seen.path);
                else if (rel->kernel_busy && !was_busy)
                        log_info("IOMMU group %u: released by iommud, still bound by a process iommud cannot see",
                                 group);
                if (rel->seen_valid != was_seen || rel->kernel_busy != was_busy)
                        notify_group(m, group);
                rel->interval = MIN(rel->interval * 2, PROBE_MAX_USEC);
                (void) sd_event_source_set_time_relative(s, rel->interval);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        hashmap_remove(m->releasing, rel->key);
        restore = TAKE_PTR(rel->rec.restore);
        n_restore = rel->rec.n_restore;
        rel->rec.n_restore = 0;
        snprintf(lease, sizeof(lease), "%s", rel->rec.lease);
        releasing_free(rel);
        remove_created_mdevs(m, restore, n_restore, lease);
        for (size_t i = 0; i < n_restore; i++)
                if (restore[i].mdev_created)
                        n_created++;
        if (n_restore > n_created) {
                /* Nobody holds it; it is free once restored.  Until then
                 * it stays releasing in the claim table: a claim taking it
                 * meanwhile would race the restore's unbind (and see the
                 * devices still on vfio-pci in a registry a step behind). */
                int r = restore_moved(m, restore, n_restore, group, true, restore_done, (void *) (uintptr_t) group);
                if (r == 0) {
                        log_info("IOMMU group %u: nobody holds it any more; restoring what its lease moved", group);
                        notify_group(m, group);
                        return 0;
                }
                if (r > 0)
                        log_info("IOMMU group %u: the devices its lease moved are gone: nothing to restore", group);
                else
                        log_warning("IOMMU group %u: cannot restore: out of memory", group);
        }
        group_now_free(m, group);
        return 0;
}

/* Add the group's other members' cdevs (which a holder could have opened
 * too) to @rel's.  -ENOMEM. */
static int releasing_add_group_cdevs(Manager *m, Releasing *rel) {
        const Group *g = registry_get_group(m->registry, rel->rec.group);

        for (size_t i = 0; g && i < g->n_members; i++) {
                const char *c = g->members[i]->vfio_cdev;
                bool have = false;
                void *p;

                if (!c || strlen(c) >= 16)
                        continue;
                for (size_t k = 0; k < rel->rec.n_cdevs; k++)
                        have = have || strcmp(rel->rec.cdevs[k], c) == 0;
                if (have)
                        continue;
                p = realloc(rel->rec.cdevs, (rel->rec.n_cdevs + 1) * sizeof(*rel->rec.cdevs));
                if (!p)
                        return -ENOMEM;
                rel->rec.cdevs = p;
                snprintf(rel->rec.cdevs[rel->rec.n_cdevs++], 16, "%s", c);
        }
        return 0;
}

/* Put @rel (its record filled in) in the table and start probing.  On
 * failure @rel is freed and the group stays releasing for ever: stuck is
 * the safe side (never handed out twice). */
static int releasing_start(Manager *m, Releasing *rel) {
        int r;

        rel->manager = m;
        rel->interval = PROBE_FIRST_USEC;
        snprintf(rel->key, sizeof(rel->key), "%u", rel->rec.group);
        r = releasing_add_group_cdevs(m, rel);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &rel->timer, CLOCK_MONOTONIC, 0, 0, on_probe, rel);
        if (r >= 0)
                r = hashmap_put(m->releasing, rel->key, rel);
        if (r < 0) {
                log_error("IOMMU group %u stays releasing: %s", rel->rec.group, strerror(-r));
                releasing_free(rel);
        }
        return r;
}

/* @group leaves lease @l: releasing until nobody holds it; what the
 * lease's claims moved there goes with the record, to be restored. */
static int start_releasing(Manager *m, Lease *l, uint32_t group) {
        Releasing *rel;
        int r;

        r = claim_release(m->claims, group, l->id);
        if (r < 0)
                return r;
        rel = calloc(1, sizeof(*rel));
        if (!rel)
                goto oom;
        rel->rec.group = group;
        if (lease_take_moved(l, group, &rel->rec.restore, &rel->rec.n_restore) < 0)
                goto oom;
        rel->rec.backend = l->backend;
        rel->rec.holder = l->holder;
        snprintf(rel->rec.lease, sizeof(rel->rec.lease), "%s", l->id_string);
        rel->rec.cdevs = calloc(l->n_devices + 1, sizeof(*rel->rec.cdevs));
        if (!rel->rec.cdevs)
                goto oom;
        /* Every cdev of the group iommud knows: the lease's (which the
         * registry may no longer list), then the group's other members. */
        for (size_t i = 0; i < l->n_devices; i++)
                if (l->devices[i].group == group && l->devices[i].cdev[0])     /* legacy: none */
                        memcpy(rel->rec.cdevs[rel->rec.n_cdevs++], l->devices[i].cdev, 16);
        return releasing_start(m, rel);
oom:
        log_error("IOMMU group %u stays releasing: %s", group, strerror(ENOMEM));
        releasing_free(rel);
        return -ENOMEM;
}

int manager_releasing_adopt(Manager *m, StateReleasing *rec) {
        uint64_t owner = RELEASING_UNKNOWN_OWNER;
        Releasing *rel;
        int r;

        if (rec->lease[0] && lease_id_from_string(rec->lease, &owner) < 0)
                return -EINVAL;
        r = claim_begin(m->claims, &rec->group, 1, owner, NULL);
        if (r < 0)
                return r;
        (void) claim_commit(m->claims, owner);
        (void) claim_release(m->claims, rec->group, owner);
        rel = calloc(1, sizeof(*rel));
        if (!rel)
                return -ENOMEM;         /* releasing in the table, for ever: the safe side */
        rel->rec = *rec;
        *rec = (StateReleasing) { 0 };
        return releasing_start(m, rel);
}

size_t manager_releasing_count(Manager *m) {
        return m->releasing ? hashmap_size(m->releasing) : 0;
}

size_t manager_releasing_records(Manager *m, StateReleasing *out, size_t max) {
        size_t i = 0, n = 0;
        void *v;

        while (n < max && hashmap_iterate(m->releasing, &i, &v, NULL))
                out[n++] = ((Releasing *) v)->rec;
        return n;
}

/* ---- the end of a lease ---- */

void manager_end_lease(Manager *m, Lease *l, const char *reason) {
        uint32_t groups[64];
        size_t ng = 0, cut;
        char line[512];

        refresh_holder(m, l);
        cut = lease_cut_dma(l);
        for (size_t i = 0; i < l->n_devices; i++) {
                bool seen = false;
                for (size_t k = 0; k < ng; k++)
                        seen = seen || groups[k] == l->devices[i].group;
                if (!seen && ng < ELEMENTSOF(groups))
                        groups[ng++] = l->devices[i].group;
        }
        snprintf(line, sizeof(line), "Lease %s of %s (pid %d, uid %u) ended: %s; DMA cut on %zu of %zu devices",
                 l->id_string, l->holder.comm, (int) l->holder.pid, (unsigned) l->holder.uid, reason, cut,
                 l->n_devices);
        audit_lease(l, NULL, 0, &(AuditEvent) { .type = AUDIT_LEASE_ENDED, .message = line, .reason = reason });
        lease_close_fds(l);
        hashmap_remove(m->leases, l->id_string);
        for (size_t i = 0; i < ng; i++)
                (void) start_releasing(m, l, groups[i]);
        manager_state_sync(m);
        notify_lease(m, "remove", l, reason);
        for (size_t i = 0; i < ng; i++)
                notify_group(m, groups[i]);
        lease_free(l);
}

static int on_holder_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Lease *l = userdata;
        manager_end_lease(l->manager, l, "its holder exited");
        return 0;
}

static int on_release_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Lease *l = userdata;
        manager_end_lease(l->manager, l, "the grace period of a release request ran out");
        return 0;
}

/* ---- devices the kernel takes back ---- */

/* Device @i of @l is gone (hot-removed, unbound, or the kernel asked for
 * it back): it leaves the lease at once, whatever its holder does.  Its
 * DMA is cut through iommud's copy of its file and the copy closed (a
 * copy held on would keep the kernel waiting), its group goes releasing
 * when it was the lease's last device there (the probe then waits for the
 * holder's own files), and watchers get "deviceRemoved".  A lease left
 * with no device ends. */
static void device_taken(Manager *m, Lease *l, size_t i, const char *why) {
        LeaseDevice ld = l->devices[i];
        bool last_in_group = true;
        json_object *o, *dev;
        char reason[256];

        refresh_holder(m, l);
        for (size_t k = 0; k < l->n_devices; k++)
                if (k != i && l->devices[k].group == ld.group)
                        last_in_group = false;
        log_warning("Lease %s of %s (pid %d, uid %u): %s %s; it leaves the lease (its DMA cut, iommud's reference "
                    "dropped)%s", l->id_string, l->holder.comm, (int) l->holder.pid, (unsigned) l->holder.uid, ld.name,
                    why, last_in_group ? "; its IOMMU group is releasing until the holder closes it" : "");
        /* Before the device leaves the lease: the releasing record takes
         * the lease's cdevs of the group, this one's included, which the
         * registry may no longer list. */
        if (last_in_group)
                (void) start_releasing(m, l, ld.group);
        lease_remove_device(l, i);
        manager_state_sync(m);
        if (last_in_group)
                notify_group(m, ld.group);
        if (m->watches) {
                o = lease_to_json(l);
                dev = json_object_new_object();
                if (o && dev) {
                        json_object_object_add(dev, "name", json_object_new_string(ld.name));
                        json_object_object_add(dev, "iommuGroup", json_object_new_int64(ld.group));
                        json_object_object_add(dev, "vfioDevice", ld.cdev[0] ? json_object_new_string(ld.cdev) : NULL);
                        json_object_object_add(dev, "reason", json_object_new_string(why));
                        json_object_object_add(o, "removedDevice", TAKE_PTR(dev));
                }
                json_object_put(dev);
                notify_lease_json(m, "deviceRemoved", o);
        }
        if (l->n_devices == 0) {
                snprintf(reason, sizeof(reason), "its last device, %s, %s", ld.name, why);
                manager_end_lease(m, l, reason);
        }
}

/* The kernel signalled a legacy device's request eventfd. */
static int on_device_request(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Lease *l = userdata;
        uint64_t v;

        for (size_t i = 0; i < l->n_devices; i++)
                if (l->devices[i].req_fd == fd) {
                        (void) !read(fd, &v, sizeof(v));
                        device_taken(l->manager, l, i, "is wanted back by the kernel (being removed or unbound)");
                        return 0;
                }
        return 0;
}

/* Every lease device against the registry as it is now: take away what
 * is gone.  Deferred from the registry's callback, so nothing here runs
 * inside a registry update. */
static int on_lease_check(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        bool again = true;

        while (again) {
                size_t it = 0;
                void *v;

                again = false;
                while (!again && hashmap_iterate(m->leases, &it, &v, NULL)) {
                        Lease *l = v;
                        for (size_t i = 0; i < l->n_devices; i++) {
                                const char *why = lease_device_gone(
                                        l, &l->devices[i], registry_get_device(m->registry, l->devices[i].name));
                                if (why) {
                                        /* May end and free @l: start over. */
                                        device_taken(m, l, i, why);
                                        again = true;
                                        break;
                                }
                        }
                }
        }
        return 0;
}

void manager_lease_device_event(Manager *m, const Device *d) {
        ClaimState st;

        /* Only a device in a group some lease has or is taking can be a
         * lease's: the claim table says so at once, where a walk of
         * every lease's devices would cost each uevent of a VF storm.  A
         * device keeps its IOMMU group for its life, so the group it
         * shows, even in its "remove", is the one a lease would have. */
        if (!m->lease_check || d->iommu_group < 0)
                return;
        st = claim_get(m->claims, (uint32_t) d->iommu_group, NULL);
        if (st == CLAIM_HELD || st == CLAIM_CLAIMING)
                (void) sd_event_source_set_enabled(m->lease_check, SD_EVENT_ONESHOT);
}

void manager_lease_check_soon(Manager *m) {
        if (m->lease_check)
                (void) sd_event_source_set_enabled(m->lease_check, SD_EVENT_ONESHOT);
}

void manager_lease_group_event(Manager *m, uint32_t group) {
        Releasing *rel = m->releasing ? get_releasing(m, group) : NULL;

        if (!rel)
                return;
        rel->interval = PROBE_FIRST_USEC;
        (void) sd_event_source_set_time_relative(rel->timer, 0);
        (void) sd_event_source_set_enabled(rel->timer, SD_EVENT_ONESHOT);
}

/* Watch the kernel's requests for the devices a claim just added. */
static void watch_requests(Manager *m, Lease *l) {
        for (size_t i = 0; i < l->n_devices; i++) {
                LeaseDevice *d = &l->devices[i];
                if (d->req_fd >= 0 && !d->req_source &&
                    sd_event_add_io(m->event, &d->req_source, d->req_fd, EPOLLIN, on_device_request, l) < 0)
                        log_warning("Lease %s: cannot watch the kernel's requests for %s", l->id_string, d->name);
        }
}

/* ---- who may touch a lease ---- */

static Lease *find_lease(Manager *m, const char *id, ManagerError *err) {
        uint64_t v;
        Lease *l;

        if (lease_id_from_string(id, &v) < 0 || !(l = manager_get_lease(m, v))) {
                snprintf(err->lease, sizeof(err->lease), "%.16s", id ? id : "");
                manager_set_error(err, "NoSuchLease", NULL, "there is no lease %.16s", id ? id : "");
                return NULL;
        }
        return l;
}

/* The holder and whoever asked for the lease (by uid), and root. */
static bool lease_is_callers(const Lease *l, const ManagerCaller *caller) {
        return caller->uid == 0 || caller->uid == l->holder.uid || caller->uid == l->owner.uid;
}

/* ---- Claim and AddDevices ---- */

static void claim_fds_close(ManagerClaimFds *f) {
        f->iommufd = safe_close(f->iommufd);
        f->container = safe_close(f->container);
        for (size_t i = 0; i < f->n_groups; i++)
                f->group_fds[i] = safe_close(f->group_fds[i]);
        for (size_t i = 0; i < LEASE_REPLY_FDS_MAX; i++)
                f->device_fds[i] = safe_close(f->device_fds[i]);
        f->n_groups = 0;
}

/* Duplicate what the claim hands out, before it is granted. */
static int claim_fds_make(ClaimOp *op, const Lease *l) {
        ManagerClaimFds *f = &op->fds;

#define DUP(fd) ((fd) >= 0 ? fcntl((fd), F_DUPFD_CLOEXEC, 3) : -EBADF)
        f->iommufd = f->container = -EBADF;
        for (size_t i = 0; i < LEASE_REPLY_FDS_MAX; i++)
                f->device_fds[i] = -EBADF;
        op->have_fds = true;
        if (!op->add) {
                if (l->iommufd >= 0 && (f->iommufd = DUP(l->iommufd)) < 0)
                        return -errno;
                if (l->container >= 0 && (f->container = DUP(l->container)) < 0)
                        return -errno;
        }
        for (size_t i = 0; i < l->n_groups && f->n_groups < LEASE_REPLY_FDS_MAX; i++) {
                bool wanted = false;
                for (size_t k = 0; k < op->n_added; k++)
                        wanted = wanted || l->devices[op->added[k]].group == l->groups[i].id;
                if (!wanted || l->groups[i].fd < 0)
                        continue;
                f->group_fds[f->n_groups] = DUP(l->groups[i].fd);
                if (f->group_fds[f->n_groups] < 0)
                        return -errno;
                f->group_ids[f->n_groups++] = l->groups[i].id;
        }
        for (size_t k = 0; k < op->n_added && k < LEASE_REPLY_FDS_MAX; k++) {
                int fd = l->devices[op->added[k]].fd;
                if (fd >= 0 && (f->device_fds[k] = DUP(fd)) < 0)
                        return -errno;
        }
#undef DUP
        return 0;
}

static void claim_op_free(ClaimOp *op) {
        if (!op)
                return;
        manager_work_end(op->manager, op->work);
        if (op->have_fds)
                claim_fds_close(&op->fds);
        lease_free(op->lease);
        safe_close(op->holder_pidfd);
        safe_close(op->caller_pidfd);
        sd_event_source_disable_unref(op->mdev_source);
        for (size_t i = 0; i < op->n_mdevs; i++)
                if (hashmap_get(op->manager->pending_mdevs, op->mdevs[i].uuid) == op)
                        hashmap_remove(op->manager->pending_mdevs, op->mdevs[i].uuid);
        free(op->mdevs);
        free(op->names);
        free(op->groups);
        free(op->needs_prepare);
        free(op->prepared);
        free(op->moved);
        free(op->added);
        free(op);
}

static double ms(uint64_t from, uint64_t to) {
        return to > from ? (double) (to - from) / 1000.0 : 0.0;
}

static void claim_finish(ClaimOp *op);

static void claim_mdev_removed(Manager *m, const ManagerError *err, const char *uuid, void *userdata) {
        ClaimOp *op = userdata;

        if (err) {
                op->err.rolled_back = false;
                snprintf(op->err.rollback_message, sizeof(op->err.rollback_message),
                         "the mdev created for the claim could not be removed: %.200s", err->message);
        }
        claim_finish(op);
}

/* A failed claim: remove the mdevs it created, newest first.  true while
 * one is being removed (claim_finish() is called again after it). */
static bool claim_remove_mdevs(ClaimOp *op) {
        for (size_t i = op->n_mdevs; i > 0; i--) {
                ClaimMdev *c = &op->mdevs[i - 1];
                char why[96];
                int r;

                if (!c->created)
                        continue;
                c->created = false;
                snprintf(why, sizeof(why), "again: the claim of uid %u it was made for failed",
                         (unsigned) op->caller.uid);
                r = manager_mdev_write(op->manager, true, NULL, NULL, c->uuid, why, claim_mdev_removed, op);
                if (r == 0)
                        return true;
                op->err.rolled_back = false;
                snprintf(op->err.rollback_message, sizeof(op->err.rollback_message),
                         "cannot remove the mdev %s created for the claim: %s", c->uuid, strerror(-r));
        }
        return false;
}

/* The record of a refused claim: what it named, and who asked. */
static void audit_claim_denied(ClaimOp *op) {
        const char *devices[MANAGER_CLAIM_DEVICES_MAX + 1];
        ProcessInfo caller = { .uid = op->caller.uid, .pid = op->caller.pid };
        char line[600], lease[LEASE_ID_STRING_MAX];
        size_t n = 0;

        for (size_t i = 0; i < op->n && n < ELEMENTSOF(devices); i++)
                devices[n++] = op->names[i];
        for (size_t i = 0; i < op->n_mdevs && n < ELEMENTSOF(devices); i++)
                if (op->mdevs[i].uuid[0])
                        devices[n++] = op->mdevs[i].uuid;
        process_read_comm(op->manager->proc_root, caller.pid, caller.comm, sizeof(caller.comm));
        snprintf(lease, sizeof(lease), "%016llx", (unsigned long long) op->owner);
        snprintf(line, sizeof(line), "Claim refused: %s", op->err.message);
        audit_log(&(AuditEvent) { .type = AUDIT_CLAIM_DENIED, .message = line, .devices = devices, .n_devices = n,
                                  .lease = op->add ? lease : NULL, .process = &caller, .error = op->err.name,
                                  .groups = op->err.group >= 0 ? &(uint32_t) { (uint32_t) op->err.group } : NULL,
                                  .n_groups = op->err.group >= 0 ? 1 : 0 });
}

static void claim_finish(ClaimOp *op) {
        Manager *m = op->manager;
        Lease *l = manager_get_lease(m, op->owner);
        char granted[256], line[512];

        if (op->failed && claim_remove_mdevs(op))
                return;
        if (op->failed) {
                audit_claim_denied(op);
                op->done(m, &op->err, NULL, NULL, 0, NULL, op->userdata);
                claim_op_free(op);
                return;
        }
        snprintf(granted, sizeof(granted), "Lease %s %s: %s (pid %d, uid %u), %s mode, %zu devices%s%s",
                 l->id_string, op->add ? "extended" : "granted", l->holder.comm, (int) l->holder.pid,
                 (unsigned) l->holder.uid, lease_mode_to_string(l->mode), op->n_added,
                 op->n_prepared ? ", groups prepared" : "", op->n_mdevs ? ", mdevs created for it" : "");
        op->done(m, NULL, l, op->added, op->n_added, &op->fds, op->userdata);
        op->have_fds = false;   /* the receiver's now */
        manager_state_store(m);
        /* Logged once the reply is out: a journal write wakes journald,
         * which on a busy or small machine then runs before the client
         * has its fds.  The times: from the request to the reply sent. */
        if (op->n_mdevs)
                snprintf(line, sizeof(line), "%s; in %.2f ms (checks %.2f, creating mdevs %.2f, authorization %.2f, "
                         "preparing %.2f, opening and binding %.2f, recording %.2f)",
                         granted, ms(op->t_start, now_monotonic()), ms(op->t_start, op->t_checked),
                         ms(op->t_checked, op->t_mdevs), ms(op->t_mdevs, op->t_authorized),
                         ms(op->t_authorized, op->t_prepared), ms(op->t_prepared, op->t_bound),
                         ms(op->t_bound, op->t_recorded));
        else
                snprintf(line, sizeof(line), "%s; in %.2f ms (checks %.2f, authorization %.2f, preparing %.2f, "
                         "opening and binding %.2f, recording %.2f)",
                         granted, ms(op->t_start, now_monotonic()), ms(op->t_start, op->t_checked),
                         ms(op->t_checked, op->t_authorized), ms(op->t_authorized, op->t_prepared),
                         ms(op->t_prepared, op->t_bound), ms(op->t_bound, op->t_recorded));
        audit_lease(l, op->added, op->n_added, &(AuditEvent) { .type = AUDIT_CLAIM_GRANTED, .message = line,
                    .requester = op->caller.pid != l->holder.pid
                                 ? &(ProcessInfo) { .uid = op->caller.uid, .pid = op->caller.pid } : NULL });
        /* Watchers too after the caller: each of them may cost a
         * message (a D-Bus signal wakes the bus daemon). */
        for (size_t i = 0; i < op->n_groups; i++)
                notify_group(m, op->groups[i]);
        l = manager_get_lease(m, op->owner);
        if (l)
                notify_lease(m, op->add ? "change" : "add", l, NULL);
        claim_op_free(op);
}

/* Undo in reverse: close what was opened, restore what was prepared, give
 * the groups back; then answer. */
static void rollback_next(ClaimOp *op);

static void rollback_restored(Manager *m, const ManagerError *err, json_object *result, void *userdata) {
        ClaimOp *op = userdata;

        if (err) {
                op->err.rolled_back = false;
                snprintf(op->err.rollback_message, sizeof(op->err.rollback_message), "%.255s", err->message);
        }
        rollback_next(op);
}

static void rollback_next(ClaimOp *op) {
        Manager *m = op->manager;

        if (op->n_prepared > 0) {
                uint32_t g = op->prepared[--op->n_prepared];
                int r;

                /* The groups must be free to restore; they are still ours. */
                r = restore_moved(m, op->moved, op->n_moved, g, true, rollback_restored, op);
                if (r == 0)
                        return;
                if (r > 0) {
                        rollback_next(op);
                        return;
                }
                op->err.rolled_back = false;
                snprintf(op->err.rollback_message, sizeof(op->err.rollback_message),
                         "cannot restore IOMMU group %u: out of memory", g);
                rollback_next(op);
                return;
        }
        (void) claim_abort(m->claims, op->owner);
        for (size_t i = 0; i < op->n_groups; i++)
                notify_group(m, op->groups[i]);
        claim_finish(op);
}

static void claim_fail(ClaimOp *op) {
        Manager *m = op->manager;
        Lease *l;

        op->failed = true;
        op->err.rolled_back = true;
        if (op->add && (l = manager_get_lease(m, op->owner)))
                /* Take back the devices this call added, newest first. */
                while (op->n_added > 0)
                        lease_remove_device(l, op->added[--op->n_added]);
        op->lease = lease_free(op->lease);
        rollback_next(op);
}

static LeaseBackend op_backend(ClaimOp *op) {
        const Lease *l = op->add ? manager_get_lease(op->manager, op->owner) : op->lease;
        return l ? l->backend : manager_lease_backend(op->manager);
}

static const Device *op_device(ClaimOp *op, size_t i) {
        return registry_get_device(op->manager->registry, op->names[i]);
}

static void claim_bind(ClaimOp *op);
static void claim_prepare_next(ClaimOp *op);
static void claim_authorized(Manager *m, const ManagerError *auth_err, void *userdata);
static bool claim_cancelled(ClaimOp *op);

static void claim_prepared(Manager *m, const ManagerError *err, json_object *result, void *userdata) {
        ClaimOp *op = userdata;

        if (err) {
                op->err = *err;
                op->failed = true;
                /* Prepare rolled its own group back; undo the earlier ones. */
                claim_fail(op);
                return;
        }
        /* What this prepare moved, and only that, is restored later. */
        {
                json_object *devs = json_object_object_get(result, "devices");
                size_t n = json_object_is_type(devs, json_type_array) ? json_object_array_length(devs) : 0;
                LeaseMoved *p = n ? realloc(op->moved, (op->n_moved + n) * sizeof(*p)) : op->moved;

                if (n && !p) {
                        manager_set_error(&op->err, "BindFailed", NULL, "out of memory");
                        op->prepared[op->n_prepared++] = op->groups[op->next++];
                        claim_fail(op);
                        return;
                }
                op->moved = p;
                for (size_t i = 0; i < n; i++) {
                        json_object *d = json_object_array_get_idx(devs, i);
                        const char *name = json_object_get_string(json_object_object_get(d, "name"));
                        const char *action = json_object_get_string(json_object_object_get(d, "action"));

                        if (!name || !action || strcmp(action, "rebound") != 0 || strlen(name) >= UUID_STRING_MAX)
                                continue;
                        LeaseMoved *mv = &op->moved[op->n_moved++];
                        *mv = (LeaseMoved) { .mdev_created = false };
                        snprintf(mv->name, sizeof(mv->name), "%s", name);
                        mv->group = op->groups[op->next];
                }
        }
        op->prepared[op->n_prepared++] = op->groups[op->next++];
        if (claim_cancelled(op)) {
                claim_fail(op);
                return;
        }
        claim_prepare_next(op);
}

static void claim_prepare_next(ClaimOp *op) {
        Manager *m = op->manager;
        const char *names[64];
        size_t k = 0;
        int r;

        while (op->next < op->n_groups && !op->needs_prepare[op->next])
                op->next++;
        if (op->next == op->n_groups) {
                claim_bind(op);
                return;
        }
        for (size_t i = 0; i < op->n && k < ELEMENTSOF(names); i++) {
                const Device *d = op_device(op, i);
                if (d && d->iommu_group == op->groups[op->next] && d->kind == DEVICE_PCI)
                        names[k++] = op->names[i];
        }
        log_info("Claim: preparing IOMMU group %u for its managed devices", op->groups[op->next]);
        r = manager_prepare_claimed(m, names, k, claim_prepared, op);
        if (r < 0) {
                manager_set_error(&op->err, "RebindFailed", NULL, "cannot prepare IOMMU group %u: %s",
                          op->groups[op->next], strerror(-r));
                claim_fail(op);
        }
}

static void bind_error(ClaimOp *op, const char *device, const LeaseFailure *f, int r) {
        const char *step = f->step ? f->step : "open";

        op->err.errno_value = -r;
        snprintf(op->err.step, sizeof(op->err.step), "%s", step);
        if (r == -EMFILE || r == -ENFILE) {
                manager_set_error(&op->err, "TooManyOpenFiles", device,
                          "%s: cannot %s: iommud has no file descriptors left (%s): end other leases, or raise "
                          "iommud's LimitNOFILE=", device ? device : "the lease", step, strerror(-r));
                return;
        }
        manager_set_error(&op->err, f->not_viable ? "GroupNotViable" : "BindFailed", device, "%s: cannot %s: %s",
                  device ? device : "the lease", step, f->reason ? f->reason : strerror(-r));
}

/* The VF token to open @d with on the legacy backend: the caller's, for
 * a VF whose PF vfio-pci drives (vfio-pci asks for the token the PF's
 * user set, a random one until then, and refuses one for any other
 * device).  (The iommufd cdev path of Linux 6.12 asks for none.) */
static const char *vf_token_for(ClaimOp *op, const Device *d) {
        const Device *pf;

        if (!op->vf_token[0] || d->kind != DEVICE_PCI || !d->physfn)
                return NULL;
        pf = registry_get_device(op->manager->registry, d->physfn);
        if (!pf || !pf->driver || !device_driver_is_vfio(pf->driver))
                return NULL;
        return op->vf_token;
}

static void claim_bind(ClaimOp *op) {
        Manager *m = op->manager;
        LeaseFailure f = { 0 };
        Lease *l;
        int r;

        op->t_prepared = now_monotonic();
        if (claim_cancelled(op)) {
                claim_fail(op);
                return;
        }
        if (op->add) {
                l = manager_get_lease(m, op->owner);
                if (!l) {
                        manager_set_error(&op->err, "NoSuchLease", NULL, "lease %016llx ended while devices were being added",
                                  (unsigned long long) op->owner);
                        claim_fail(op);
                        return;
                }
        } else {
                l = op->lease;
                /* The holder may have gone while groups were prepared. */
                if (pidfd_is_alive(op->holder_pidfd) <= 0) {
                        manager_set_error(&op->err, "HolderGone", NULL, "the holder process (pid %d) exited before its "
                                  "lease was granted", (int) l->holder.pid);
                        claim_fail(op);
                        return;
                }
                /* Preparing may have loaded vfio just now, and with it the
                 * cdevs that decide the automatic choice (without a prepare
                 * the claim's own choice, a moment ago, stands). */
                if (op->backend_auto && op->n_prepared > 0 && manager_lease_backend(m) != l->backend) {
                        LeaseBackend b = manager_lease_backend(m);
                        if (!lease_mode_valid(b, l->mode)) {
                                manager_set_error(&op->err, "ModeUnavailable", NULL,
                                          "mode %s is not offered by the %s backend this host leases through",
                                          lease_mode_to_string(l->mode), lease_backend_to_string(b));
                                claim_fail(op);
                                return;
                        }
                        l->backend = b;
                }
                r = lease_open(l, &f);
                if (r < 0) {
                        bind_error(op, NULL, &f, r);
                        claim_fail(op);
                        return;
                }
        }
        /* Everything handed out must fit in one reply. */
        {
                size_t fds = l->mode == LEASE_MODE_ACCESS ? 0 : op->n + (op->add ? 0 : 1);
                if (l->backend == LEASE_BACKEND_LEGACY && l->mode == LEASE_MODE_BOUND)
                        fds += op->n_groups;
                if (fds > LEASE_REPLY_FDS_MAX) {
                        manager_set_error(&op->err, "TooManyDevices", NULL,
                                  "%zu devices in %zu groups need %zu fds, more than one reply carries (%d): claim "
                                  "fewer and add the rest with AddDevices",
                                  op->n, op->n_groups, fds, LEASE_REPLY_FDS_MAX);
                        claim_fail(op);
                        return;
                }
        }
        /* The devices as sysfs has them now, when a prepare just made
         * their cdevs (the claim read them fresh before, otherwise). */
        for (size_t i = 0; op->n_prepared > 0 && i < op->n_groups; i++)
                scanner_refresh_group(m->scanner, op->groups[i]);
        op->added = calloc(op->n, sizeof(*op->added));
        if (!op->added) {
                manager_set_error(&op->err, "BindFailed", NULL, "out of memory");
                claim_fail(op);
                return;
        }
        for (size_t i = 0; i < op->n; i++) {
                const Device *d = op_device(op, i);

                if (!d) {
                        manager_set_error(&op->err, "NoSuchDevice", op->names[i], "%s went away during the claim", op->names[i]);
                        claim_fail(op);
                        return;
                }
                if (l->backend == LEASE_BACKEND_LEGACY ? !d->vfio_group_node : !d->vfio_cdev) {
                        manager_set_error(&op->err, "NotReady", d->name,
                                  "%s has no VFIO device node: it is on %s, not a VFIO driver (prepare it with "
                                  "'iommuctl prepare', or list it under [Managed] in iommud.conf), or the kernel "
                                  "lacks VFIO device cdevs (then set Backend=legacy)", d->name,
                                  d->driver ? d->driver : "no driver");
                        claim_fail(op);
                        return;
                }
                r = lease_add_device(l, d->name, (uint32_t) d->iommu_group, d->vfio_cdev, vf_token_for(op, d), &f);
                if (r < 0) {
                        bind_error(op, d->name, &f, r);
                        claim_fail(op);
                        return;
                }
                op->added[op->n_added++] = l->n_devices - 1;
        }
        if (!op->add && op->memlock > 0) {
                uint64_t before = 0;

                r = process_raise_memlock(op->holder_pidfd, op->memlock, &before);
                if (r < 0) {
                        manager_set_error(&op->err, r == -ESRCH ? "HolderGone" : "BindFailed", NULL,
                                  "cannot raise the memlock limit of pid %d: %s", (int) l->holder.pid, strerror(-r));
                        claim_fail(op);
                        return;
                }
                l->memlock = before == (uint64_t) RLIM_INFINITY ? 0 : MAX(before, op->memlock);
        }

        /* The fds to hand out, while everything can still be undone. */
        r = claim_fds_make(op, l);
        if (r < 0) {
                op->err.errno_value = -r;
                manager_set_error(&op->err, r == -EMFILE || r == -ENFILE ? "TooManyOpenFiles" : "BindFailed", NULL,
                          "iommud cannot copy the lease's file descriptors for the reply (%s); nothing was "
                          "granted (end other leases, or raise iommud's LimitNOFILE=)", strerror(-r));
                claim_fail(op);
                return;
        }
        op->t_bound = now_monotonic();

        /* Granted.  The mdevs made for it are the lease's to remove. */
        for (size_t i = 0; i < op->n_mdevs; i++) {
                const Device *d = registry_get_device(m->registry, op->mdevs[i].uuid);
                LeaseMoved mv = { .mdev_created = true, .group = d ? (uint32_t) d->iommu_group : 0 };
                void *p = realloc(op->moved, (op->n_moved + 1) * sizeof(*op->moved));

                if (!p) {
                        manager_set_error(&op->err, "BindFailed", NULL, "out of memory");
                        claim_fail(op);
                        return;
                }
                op->moved = p;
                snprintf(mv.name, sizeof(mv.name), "%s", op->mdevs[i].uuid);
                op->moved[op->n_moved++] = mv;
        }
        if (lease_add_moved(l, op->moved, op->n_moved) < 0) {
                manager_set_error(&op->err, "BindFailed", NULL, "out of memory");
                claim_fail(op);
                return;
        }
        if (!op->add) {
                l->holder_pidfd = TAKE_FD(op->holder_pidfd);
                l->manager = m;
                r = sd_event_add_io(m->event, &l->holder_source, l->holder_pidfd, EPOLLIN, on_holder_exit, l);
                if (r >= 0)
                        r = hashmap_put(m->leases, l->id_string, l);
                if (r < 0) {
                        manager_set_error(&op->err, "BindFailed", NULL, "cannot watch the holder: %s", strerror(-r));
                        claim_fail(op);
                        return;
                }
                op->lease = NULL;
        }
        claim_commit(m->claims, op->owner);
        lease_handed_out(l);
        watch_requests(m, l);
        /* On record before the caller hears of it: a crash after the
         * reply loses no lease.  Its files go to systemd's fd store right
         * after the reply (claim_finish()): a crash between the two leaves
         * the lease without them, as a stop would (see manager-restart.c). */
        manager_state_write(m);
        op->t_recorded = now_monotonic();
        claim_finish(op);
}

void manager_claim_cancel(ManagerClaim *op) {
        if (op && !op->cancelled) {
                log_info("Claim: the caller (pid %d, uid %u) went away; stopping at the next step",
                         (int) op->caller.pid, (unsigned) op->caller.uid);
                op->cancelled = true;
        }
}

/* The caller went away meanwhile: nothing must be granted to nobody
 * (the class of CVE-2021-3560).  Sets the error; the caller undoes. */
static bool claim_cancelled(ClaimOp *op) {
        if (!op->cancelled)
                return false;
        manager_set_error(&op->err, "Cancelled", NULL, "the caller went away before the claim was granted");
        return true;
}

/* Device @i of the claim (op->names[i]): known, in a group, allowed by
 * the policy, named once, not in the lease already; its group noted.  0,
 * or a refusal in @err (-EINVAL). */
static int check_device(ClaimOp *op, size_t i, ManagerError *err) {
        Manager *m = op->manager;
        const Device *d = registry_get_device(m->registry, op->names[i]);
        const char *name = op->names[i];
        char reason[512];
        bool seen = false;

        for (size_t k = 0; k < i; k++)
                if (strcmp(op->names[k], name) == 0) {
                        manager_set_error(err, "NoSuchDevice", name, "%s is named twice", name);
                        return -EINVAL;
                }
        if (!d) {
                manager_set_error(err, "NoSuchDevice", name, "there is no device %s", name);
                return -EINVAL;
        }
        if (d->iommu_group < 0) {
                manager_set_error(err, "NoIommuGroup", d->name,
                                  "%s has no IOMMU group (no IOMMU, or it is off): it cannot be assigned", d->name);
                return -EINVAL;
        }
        if (d->kind == DEVICE_PCI && device_is_bridge(d)) {
                manager_set_error(err, "NotAllowed", d->name, "%s is a PCI bridge or port: never assigned", d->name);
                return -EINVAL;
        }
        if (!manager_policy_verdict(m, d, reason, sizeof(reason))) {
                manager_set_error(err, "NotAllowed", d->name, "%s: %s", d->name, reason);
                return -EINVAL;
        }
        {
                ClaimOp *pending = hashmap_get(m->pending_mdevs, d->name);
                if (pending && pending != op) {
                        manager_set_error(err, "Busy", d->name, "mdev %s is being created for another claim",
                                          d->name);
                        err->group = d->iommu_group;
                        return -EINVAL;
                }
        }
        if (op->add) {
                Lease *l = manager_get_lease(m, op->owner);
                if (l && lease_find_device(l, d->name) >= 0) {
                        manager_set_error(err, "NoSuchDevice", d->name, "%s is in lease %s already", d->name,
                                          l->id_string);
                        return -EINVAL;
                }
        }
        for (size_t k = 0; k < op->n_groups; k++)
                seen = seen || op->groups[k] == (uint32_t) d->iommu_group;
        if (!seen)
                op->groups[op->n_groups++] = (uint32_t) d->iommu_group;
        return 0;
}

/* Polkit decides per device (root passes at once); then the rest.  Root
 * is answered at once, and op may be gone when this returns. */
static int claim_authorize(ClaimOp *op) {
        const char *ptrs[64];
        ManagerAuthRequest ar = {
                .action = POLKIT_ACTION_CLAIM,
                .verb = op->add ? "add to a lease" : "claim",
                .devices = ptrs,
                .n_devices = MIN(op->n, ELEMENTSOF(ptrs)),
                .group = -1,
                .mode = lease_mode_to_string(op->mode),
        };

        for (size_t i = 0; i < ar.n_devices; i++)
                ptrs[i] = op->names[i];
        return manager_authorize(op->manager, &op->caller, &ar, claim_authorized, op);
}

/* A failure in the mdev stage: answer, after removing what was made. */
static void claim_mdev_fail(ClaimOp *op) {
        op->failed = true;
        claim_finish(op);
}

static void claim_mdev_create_next(ClaimOp *op);

/* Every mdev is there: it joins the claim as a named device would. */
static void claim_mdevs_ready(ClaimOp *op) {
        op->t_mdevs = now_monotonic();
        for (size_t i = 0; i < op->n_mdevs; i++) {
                snprintf(op->names[op->n], sizeof(op->names[op->n]), "%s", op->mdevs[i].uuid);
                op->n++;
                if (check_device(op, op->n - 1, &op->err) < 0) {
                        claim_mdev_fail(op);
                        return;
                }
        }
        if (claim_authorize(op) < 0) {
                manager_set_error(&op->err, "BindFailed", NULL, "out of memory");
                claim_mdev_fail(op);
        }
}

/* Wait for the new mdev to be in the registry with its group and VFIO
 * nodes: re-read from sysfs now (its uevents may be queued behind
 * others), then every MDEV_POLL_USEC until MDEV_APPEAR_USEC. */
static int claim_mdev_wait(sd_event_source *s, uint64_t usec, void *userdata) {
        ClaimOp *op = userdata;
        Manager *m = op->manager;
        ClaimMdev *c = &op->mdevs[op->next_mdev];
        const Device *d;

        scanner_refresh_device(m->scanner, DEVICE_MDEV, c->uuid);
        d = registry_get_device(m->registry, c->uuid);
        if (d && d->iommu_group >= 0 &&
            (op_backend(op) == LEASE_BACKEND_LEGACY ? d->vfio_group_node : d->vfio_cdev != NULL)) {
                op->next_mdev++;
                claim_mdev_create_next(op);
                return 0;
        }
        if (claim_cancelled(op)) {
                claim_mdev_fail(op);
                return 0;
        }
        if (now_monotonic() >= op->mdev_deadline) {
                manager_set_error(&op->err, "MdevFailed", c->uuid,
                                  "mdev %s was created, but did not show up with %s within %llu s", c->uuid,
                                  !d ? "its device" : d->iommu_group < 0 ? "an IOMMU group" : "its VFIO device node",
                                  (unsigned long long) (MDEV_APPEAR_USEC / 1000000));
                snprintf(op->err.step, sizeof(op->err.step), "create");
                claim_mdev_fail(op);
                return 0;
        }
        if (sd_event_source_set_time_relative(op->mdev_source, MDEV_POLL_USEC) < 0 ||
            sd_event_source_set_enabled(op->mdev_source, SD_EVENT_ONESHOT) < 0) {
                manager_set_error(&op->err, "MdevFailed", c->uuid, "cannot wait for mdev %s", c->uuid);
                claim_mdev_fail(op);
        }
        return 0;
}

static void claim_mdev_created(Manager *m, const ManagerError *err, const char *uuid, void *userdata) {
        ClaimOp *op = userdata;
        int r;

        if (err) {
                op->err = *err;
                claim_mdev_fail(op);
                return;
        }
        op->mdevs[op->next_mdev].created = true;
        op->mdev_source = sd_event_source_disable_unref(op->mdev_source);
        op->mdev_deadline = now_monotonic() + MDEV_APPEAR_USEC;
        r = sd_event_add_time_relative(m->event, &op->mdev_source, CLOCK_MONOTONIC, 0, 0, claim_mdev_wait, op);
        if (r < 0) {
                manager_set_error(&op->err, "MdevFailed", uuid, "cannot wait for mdev %s: %s", uuid, strerror(-r));
                claim_mdev_fail(op);
        }
}

static void claim_mdev_create_next(ClaimOp *op) {
        ClaimMdev *c;
        char why[96];
        int r;

        if (claim_cancelled(op)) {
                claim_mdev_fail(op);
                return;
        }
        if (op->next_mdev == op->n_mdevs) {
                claim_mdevs_ready(op);
                return;
        }
        c = &op->mdevs[op->next_mdev];
        snprintf(why, sizeof(why), "for a claim of uid %u", (unsigned) op->caller.uid);
        r = manager_mdev_write(op->manager, false, c->parent, c->type, c->uuid, why, claim_mdev_created, op);
        if (r < 0) {
                manager_set_error(&op->err, "MdevFailed", NULL, "cannot create mdev %s: %s", c->uuid, strerror(-r));
                claim_mdev_fail(op);
        }
}

static void claim_mdev_authorized(Manager *m, const ManagerError *auth_err, void *userdata);

/* Each mdev as CreateMdev asks for it: org.iommud.manage-mdev, with the
 * parent and the type as details. */
static void claim_mdev_authorize_next(ClaimOp *op) {
        ClaimMdev *c;
        const char *devices[1];
        ManagerAuthRequest ar = { .action = POLKIT_ACTION_MANAGE_MDEV, .verb = "create an mdev for a claim on",
                                  .group = -1 };

        if (claim_cancelled(op)) {
                claim_mdev_fail(op);
                return;
        }
        if (op->next_mdev == op->n_mdevs) {
                op->next_mdev = 0;
                claim_mdev_create_next(op);
                return;
        }
        c = &op->mdevs[op->next_mdev];
        devices[0] = c->parent;
        ar.devices = devices;
        ar.n_devices = 1;
        ar.mdev_type = c->type;
        if (manager_authorize(op->manager, &op->caller, &ar, claim_mdev_authorized, op) < 0) {
                manager_set_error(&op->err, "MdevFailed", NULL, "out of memory");
                claim_mdev_fail(op);
        }
}

static void claim_mdev_authorized(Manager *m, const ManagerError *auth_err, void *userdata) {
        ClaimOp *op = userdata;

        if (auth_err) {
                op->err = *auth_err;
                claim_mdev_fail(op);
                return;
        }
        op->next_mdev++;
        claim_mdev_authorize_next(op);
}

/* Deferred from manager_claim(), so that the claim is under way (and can
 * be cancelled) when manager_claim() returns, for root too. */
static int claim_mdev_start(sd_event_source *s, void *userdata) {
        ClaimOp *op = userdata;

        op->mdev_source = sd_event_source_disable_unref(op->mdev_source);
        op->next_mdev = 0;
        claim_mdev_authorize_next(op);
        return 0;
}

/* The mdevs asked for: parent and type offered, enough instances left
 * for all of them, UUIDs free and distinct (a random one for each that
 * names none); each UUID is then pending, so that no one else claims or
 * removes it while it is made.  0, a refusal in @err (-EINVAL), -ENOMEM. */
static int check_mdevs(ClaimOp *op, const ManagerClaimRequest *req, ManagerError *err) {
        Manager *m = op->manager;
        int r;

        if (req->n_mdevs == 0)
                return 0;
        op->mdevs = calloc(req->n_mdevs, sizeof(*op->mdevs));
        if (!op->mdevs)
                return -ENOMEM;
        for (size_t i = 0; i < req->n_mdevs; i++)
                if (!req->mdevs[i].parent || !req->mdevs[i].type ||
                    strlen(req->mdevs[i].parent) >= sizeof(op->mdevs[i].parent) ||
                    strlen(req->mdevs[i].type) >= sizeof(op->mdevs[i].type)) {
                        manager_set_error(err, "NoSuchMdevType", NULL, "an mdev's parent or type is missing or too long");
                        return -EINVAL;
                }
        for (size_t i = 0; i < req->n_mdevs; i++) {
                const ManagerMdevSpec *sp = &req->mdevs[i];
                ClaimMdev *c = &op->mdevs[i];
                unsigned want = 0;

                snprintf(c->parent, sizeof(c->parent), "%s", sp->parent);
                snprintf(c->type, sizeof(c->type), "%s", sp->type);
                if (sp->uuid)
                        snprintf(c->uuid, sizeof(c->uuid), "%s", sp->uuid);
                else if ((r = mdev_uuid_new(c->uuid)) < 0)
                        return r;
                op->n_mdevs = i + 1;
                for (size_t k = 0; k < req->n_mdevs; k++)
                        want += strcmp(req->mdevs[k].parent, sp->parent) == 0 && strcmp(req->mdevs[k].type, sp->type) == 0;
                r = manager_mdev_check_create(m, c->parent, c->type, c->uuid, want, err);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < op->n; k++)
                        if (strcmp(op->names[k], c->uuid) == 0) {
                                manager_set_error(err, "MdevExists", c->uuid, "an mdev %s is named twice", c->uuid);
                                return -EINVAL;
                        }
                for (size_t k = 0; k < i; k++)
                        if (strcmp(op->mdevs[k].uuid, c->uuid) == 0) {
                                manager_set_error(err, "MdevExists", c->uuid, "an mdev %s is named twice", c->uuid);
                                return -EINVAL;
                        }
                if (hashmap_get(m->pending_mdevs, c->uuid)) {
                        manager_set_error(err, "MdevExists", c->uuid, "an mdev %s is being created for another claim",
                                          c->uuid);
                        return -EINVAL;
                }
        }
        for (size_t i = 0; i < op->n_mdevs; i++) {
                r = hashmap_put(m->pending_mdevs, op->mdevs[i].uuid, op);
                if (r < 0)
                        return r == -EEXIST ? -EINVAL : r;
        }
        return 0;
}

bool manager_mdev_is_pending(Manager *m, const char *uuid) {
        return m->pending_mdevs && hashmap_get(m->pending_mdevs, uuid);
}

int manager_claim(Manager *m, const ManagerCaller *caller, const ManagerClaimRequest *req, ManagerClaimDone done,
                  void *userdata, ManagerClaim **ret_claim) {
        ClaimOp *op;
        ManagerError err = { .group = -1 };
        size_t total = req->n + req->n_mdevs;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op) {
                safe_close(req->holder_pidfd);
                return -ENOMEM;
        }
        op->t_start = now_monotonic();
        op->manager = m;
        op->caller = *caller;
        op->caller_pidfd = -EBADF;
        op->mode = req->mode;
        op->holder_pidfd = req->holder_pidfd;
        op->memlock = req->memlock;
        if (req->vf_token && uuid_canonicalize(req->vf_token, op->vf_token) < 0) {
                safe_close(req->holder_pidfd);
                free(op);
                return -EINVAL;
        }
        op->done = done;
        op->userdata = userdata;
        op->err.group = -1;
        op->names = calloc(total + 1, sizeof(*op->names));
        op->groups = calloc(total + 1, sizeof(*op->groups));
        op->needs_prepare = calloc(total + 1, sizeof(*op->needs_prepare));
        op->prepared = calloc(total + 1, sizeof(*op->prepared));
        if (!op->names || !op->groups || !op->needs_prepare || !op->prepared) {
                claim_op_free(op);
                return -ENOMEM;
        }

        op->caller.pidfd = -EBADF;      /* borrowed: not kept past this call */
        op->caller.bus_name = NULL;
        if (req->lease) {
                Lease *l = find_lease(m, req->lease, &err);

                if (!l)
                        goto refuse;
                refresh_holder(m, l);
                if (!lease_is_callers(l, caller)) {
                        snprintf(err.lease, sizeof(err.lease), "%s", l->id_string);
                        manager_set_error(&err, "PermissionDenied", NULL,
                                  "lease %s is not yours: only its holder or whoever asked for it may add devices",
                                  l->id_string);
                        goto refuse;
                }
                op->add = true;
                op->owner = l->id;
                op->mode = l->mode;
        }
        if (total == 0) {
                manager_set_error(&err, "NoSuchDevice", NULL, "no devices named");
                goto refuse;
        }
        if (total > MANAGER_CLAIM_DEVICES_MAX) {
                manager_set_error(&err, "TooManyDevices", NULL,
                                  "%zu devices and %zu mdevs to create are more than one claim takes (%d)", req->n,
                                  req->n_mdevs, MANAGER_CLAIM_DEVICES_MAX);
                goto refuse;
        }

        /* Every device: known, in a group, allowed by the policy.  The
         * host guard's picture is kept current by mount and route events;
         * a device that must move is checked again, fresh, by the
         * prepare. */
        for (size_t i = 0; i < req->n; i++) {
                snprintf(op->names[i], sizeof(op->names[i]), "%s", req->names[i]);
                op->n = i + 1;
                if (check_device(op, i, &err) < 0)
                        goto refuse;
        }
        r = check_mdevs(op, req, &err);
        if (r == -EINVAL)
                goto refuse;
        if (r < 0) {
                claim_op_free(op);
                return r;
        }

        if (!op->add) {
                LeaseBackend backend = manager_lease_backend(m);

                op->backend_auto = m->config->backend == CONFIG_BACKEND_AUTO;
                r = lease_new(backend, op->mode, &op->lease);
                if (r == -EINVAL) {
                        manager_set_error(&err, "ModeUnavailable", NULL,
                                  "mode %s is not offered by the %s backend this host leases through (iommufd: "
                                  "bound, parked; legacy: bound, access)",
                                  lease_mode_to_string(op->mode), lease_backend_to_string(backend));
                        goto refuse;
                }
                if (r < 0) {
                        claim_op_free(op);
                        return r;
                }
                op->owner = op->lease->id;
                op->lease->owner = (ProcessInfo) { .pid = caller->pid, .uid = caller->uid };
                r = process_identify(m->proc_root, op->holder_pidfd, &op->lease->holder);
                if (r == -EMFILE || r == -ENFILE) {
                        manager_set_error(&err, "TooManyOpenFiles", NULL,
                                  "iommud has no file descriptors left to read the holder's /proc entry (%s): end "
                                  "other leases, or raise iommud's LimitNOFILE=", strerror(-r));
                        goto refuse;
                }
                if (r < 0) {
                        manager_set_error(&err, "HolderGone", NULL, "cannot identify the holder process: %s",
                                  r == -ESRCH ? "it has exited" : strerror(-r));
                        goto refuse;
                }
                /* The holder is the caller unless it named another process:
                 * its name was read just now. */
                if (op->lease->holder.pid == caller->pid)
                        memcpy(op->lease->owner.comm, op->lease->holder.comm, sizeof(op->lease->owner.comm));
                else
                        process_read_comm(m->proc_root, caller->pid, op->lease->owner.comm,
                                          sizeof(op->lease->owner.comm));
                if (caller->uid != 0 && op->lease->holder.uid != caller->uid) {
                        manager_set_error(&err, "PermissionDenied", NULL,
                                  "the holder (pid %d) runs as uid %u, not as the caller's uid %u: only root may "
                                  "claim for another user's process",
                                  (int) op->lease->holder.pid, (unsigned) op->lease->holder.uid,
                                  (unsigned) caller->uid);
                        goto refuse;
                }
                if (op->memlock > 0 && op->memlock > m->config->max_memlock) {
                        manager_set_error(&err, "MemlockNotAllowed", NULL,
                                  "a memlock limit of %llu bytes was asked for; iommud.conf allows at most %llu "
                                  "(MaxMemlock= in [Limits])",
                                  (unsigned long long) op->memlock, (unsigned long long) m->config->max_memlock);
                        goto refuse;
                }
        }
        op->t_checked = now_monotonic();
        op->work = manager_work_begin(m, "%s%s%s%s%s by uid %u (pid %d)", op->add ? "adding " : "claim of ",
                                      op->n > 0 ? op->names[0] : "", op->n > 1 ? " and others" : "",
                                      op->n_mdevs > 0 ? (op->n > 0 ? " and new mdevs" : "new mdevs") : "",
                                      op->add ? " to a lease" : "", (unsigned) caller->uid, (int) caller->pid);

        if (op->n_mdevs > 0) {
                /* Polkit is asked again after the mdevs are made, with the
                 * caller as it is now: keep what names it. */
                if (caller->bus_name) {
                        snprintf(op->bus_name, sizeof(op->bus_name), "%s", caller->bus_name);
                        op->caller.bus_name = op->bus_name;
                }
                if (caller->pidfd >= 0) {
                        op->caller_pidfd = fcntl(caller->pidfd, F_DUPFD_CLOEXEC, 3);
                        if (op->caller_pidfd < 0) {
                                r = -errno;
                                claim_op_free(op);
                                return r;
                        }
                }
                op->caller.pidfd = op->caller_pidfd;
                r = sd_event_add_defer(m->event, &op->mdev_source, claim_mdev_start, op);
                if (r < 0) {
                        claim_op_free(op);
                        return r;
                }
                if (ret_claim)
                        *ret_claim = op;
                return 0;
        }

        op->t_mdevs = op->t_checked;
        {
                bool root = caller->uid == 0;

                /* The caller's borrowed names, for polkit now. */
                op->caller.bus_name = caller->bus_name;
                op->caller.pidfd = caller->pidfd;
                r = claim_authorize(op);
                if (r < 0) {
                        claim_op_free(op);
                        return r;
                }
                /* Root is answered at once, and op may be gone by now;
                 * anyone else waits for polkit, which is the window in
                 * which a caller going away must stop the claim.  (A root
                 * caller's claim stops when its holder, by default the
                 * caller, turns out gone before the bind.) */
                if (ret_claim)
                        *ret_claim = root ? NULL : op;
                if (!root) {
                        op->caller.bus_name = NULL;
                        op->caller.pidfd = -EBADF;
                }
        }
        return 0;

refuse:
        /* Answered, and recorded, where every refusal is. */
        op->err = err;
        op->failed = true;
        claim_finish(op);
        return 0;
}

/* Allowed: take the groups, prepare what needs it, bind. */
static void claim_authorized(Manager *m, const ManagerError *auth_err, void *userdata) {
        ClaimOp *op = userdata;
        uint32_t conflict;
        int r;

        op->t_authorized = now_monotonic();
        if (auth_err || claim_cancelled(op)) {
                if (auth_err)
                        op->err = *auth_err;
                op->failed = true;
                claim_finish(op);
                return;
        }
        /* A lease to add to may have ended while polkit thought. */
        if (op->add && !manager_get_lease(m, op->owner)) {
                manager_set_error(&op->err, "NoSuchLease", NULL, "lease %016llx has ended", (unsigned long long) op->owner);
                op->failed = true;
                claim_finish(op);
                return;
        }
        /* All the groups, or none: from here the claim owns them. */
        r = claim_begin(m->claims, op->groups, op->n_groups, op->owner, &conflict);
        if (r < 0) {
                if (r == -EBUSY)
                        set_busy(m, &op->err, conflict);
                else
                        manager_set_error(&op->err, "BindFailed", NULL, "cannot claim: %s", strerror(-r));
                op->failed = true;
                claim_finish(op);
                return;
        }

        /* Which groups need preparing: not viable, or a named device not
         * on a VFIO driver.  Only managed devices are prepared for a claim. */
        for (size_t i = 0; i < op->n_groups; i++) {
                const Group *g;
                bool ready = true, managed = true;

                /* The registry first; only when it says the group needs
                 * work is sysfs read again (a bind's uevents may still be
                 * on their way).  A group the registry wrongly thinks ready
                 * is caught by the kernel at bind, with a named error. */
                for (int pass = 0; pass < 2; pass++) {
                        if (pass == 1)
                                scanner_refresh_group(m->scanner, op->groups[i]);
                        ready = managed = true;
                        g = registry_get_group(m->registry, op->groups[i]);
                        for (size_t k = 0; g && k < op->n; k++) {
                                const Device *d = op_device(op, k);
                                if (!d || d->iommu_group != g->id)
                                        continue;
                                /* An mdev's driver is its parent's VFIO driver: only its nodes matter. */
                                ready = ready &&
                                        (d->kind == DEVICE_MDEV || (d->driver && device_driver_manages_dma(d->driver))) &&
                                        (op_backend(op) == LEASE_BACKEND_LEGACY ? d->vfio_group_node
                                                                                : d->vfio_cdev != NULL);
                                managed = managed && manager_device_is_managed(m, d);
                        }
                        if (g && g->viable && ready)
                                break;
                }
                if (!g) {
                        manager_set_error(&op->err, "NoSuchGroup", NULL, "IOMMU group %u went away", op->groups[i]);
                        claim_fail(op);
                        return;
                }
                if (g->viable && ready)
                        continue;
                if (!managed) {
                        op->err.group = g->id;
                        if (!g->viable) {
                                char why[256] = "a member is on a host driver";

                                for (size_t k = 0; k < g->n_members; k++) {
                                        const char *because;
                                        if (device_blocks_group(g->members[k], &because)) {
                                                snprintf(why, sizeof(why), "%s is on %s: %s", g->members[k]->name,
                                                         g->members[k]->driver ? g->members[k]->driver : "?",
                                                         because);
                                                break;
                                        }
                                }
                                manager_set_error(&op->err, "GroupNotViable", NULL,
                                          "IOMMU group %u cannot be handed out: %s (prepare it with 'iommuctl "
                                          "prepare --group %u', or list its devices under [Managed])",
                                          g->id, why, g->id);
                        } else
                                manager_set_error(&op->err, "NotReady", NULL,
                                          "a device of IOMMU group %u is not on a VFIO driver: prepare it with "
                                          "'iommuctl prepare', or list it under [Managed] in iommud.conf",
                                          g->id);
                        claim_fail(op);
                        return;
                }
                op->needs_prepare[i] = true;
        }
        /* Watchers hear of the claim when it can be seen: while groups
         * are prepared, which takes turns of the loop.  Without a prepare
         * the claim ends before anyone else is served, and they hear the
         * outcome once its caller has its answer (claim_finish()), or the
         * groups free again after a failure (rollback_next()). */
        for (size_t i = 0; i < op->n_groups; i++)
                if (op->needs_prepare[i]) {
                        for (size_t k = 0; k < op->n_groups; k++)
                                notify_group(m, op->groups[k]);
                        break;
                }
        claim_prepare_next(op);
}

/* ---- leases taken back after a restart (manager-restart.c) ---- */

int manager_lease_adopt(Manager *m, Lease *l) {
        uint32_t groups[LEASE_DEVICES_ADOPT_MAX], conflict = 0;
        size_t ng = 0;
        int r;

        for (size_t i = 0; i < l->n_devices && ng < ELEMENTSOF(groups); i++)
                if (!lease_has_group_before(l, i))
                        groups[ng++] = l->devices[i].group;
        r = claim_begin(m->claims, groups, ng, l->id, &conflict);
        if (r < 0) {
                log_error("Lease %s cannot be taken back: IOMMU group %u is %s", l->id_string, conflict,
                          claim_state_to_string(claim_get(m->claims, conflict, NULL)));
                return r;
        }
        l->manager = m;
        r = hashmap_put(m->leases, l->id_string, l);
        if (r < 0) {
                (void) claim_abort(m->claims, l->id);
                return r;
        }
        (void) claim_commit(m->claims, l->id);
        if (l->holder_pidfd >= 0 &&
            sd_event_add_io(m->event, &l->holder_source, l->holder_pidfd, EPOLLIN, on_holder_exit, l) < 0)
                log_warning("Lease %s: cannot watch its holder (pid %d)", l->id_string, (int) l->holder.pid);
        if (l->release_reason) {
                uint64_t now = now_realtime();
                uint64_t left = l->release_deadline_usec > now ? l->release_deadline_usec - now : 0;

                if (sd_event_add_time_relative(m->event, &l->release_timer, CLOCK_MONOTONIC, left, 0,
                                               on_release_deadline, l) < 0)
                        log_warning("Lease %s: cannot arm its release deadline again", l->id_string);
        }
        watch_requests(m, l);
        return 0;
}

bool manager_lease_devices_held(Manager *m, const Lease *l) {
        bool held = false;

        for (size_t i = 0; i < l->n_devices && !held; i++) {
                Releasing tmp = { .manager = m };

                if (lease_has_group_before(l, i))
                        continue;
                tmp.rec.group = l->devices[i].group;
                tmp.rec.backend = l->backend;
                tmp.rec.cdevs = calloc(l->n_devices + 1, sizeof(*tmp.rec.cdevs));
                if (!tmp.rec.cdevs)
                        return true;    /* cannot tell: held is the safe side */
                for (size_t k = 0; k < l->n_devices; k++)
                        if (l->devices[k].group == tmp.rec.group && l->devices[k].cdev[0])
                                memcpy(tmp.rec.cdevs[tmp.rec.n_cdevs++], l->devices[k].cdev, 16);
                if (releasing_add_group_cdevs(m, &tmp) < 0)
                        held = true;
                else
                        held = probe(&tmp) == 0;
                if (held && tmp.seen_valid)
                        log_info("Lease %s: IOMMU group %u is held by %s (pid %d) through %s", l->id_string,
                                 tmp.rec.group, tmp.seen.comm, (int) tmp.seen.pid, tmp.seen.path);
                state_releasing_done(&tmp.rec);
        }
        return held;
}

/* ---- RemoveDevices, Release, RequestRelease ---- */

static void release_groups_left(Manager *m, Lease *l, const uint32_t *groups, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (lease_has_group(l, groups[i]))
                        continue;
                (void) start_releasing(m, l, groups[i]);
                notify_group(m, groups[i]);
        }
}

typedef enum LeaseOpKind {
        LEASE_OP_REMOVE_DEVICES,
        LEASE_OP_RELEASE,
        LEASE_OP_REQUEST_RELEASE,
} LeaseOpKind;

typedef struct LeaseOp {
        LeaseOpKind kind;
        char lease[LEASE_ID_STRING_MAX];
        uid_t uid;
        pid_t pid;
        bool admin;                     /* not the lease's own: polkit allowed it */
        char (*names)[UUID_STRING_MAX];
        size_t n;
        char *reason;
        uint64_t grace_usec;
        ManagerLeaseDone done;
        void *userdata;
} LeaseOp;

static void lease_op_free(LeaseOp *op) {
        free(op->names);
        free(op->reason);
        free(op);
}

static int remove_devices(Manager *m, Lease *l, LeaseOp *op, ManagerError *err) {
        uint32_t groups[64];
        size_t ng = 0;

        /* All named devices must be in the lease: check first, then act. */
        for (size_t i = 0; i < op->n; i++)
                if (lease_find_device(l, op->names[i]) < 0) {
                        manager_set_error(err, "NoSuchDevice", op->names[i], "%s is not in lease %s", op->names[i],
                                  l->id_string);
                        return -ENOENT;
                }
        for (size_t i = 0; i < op->n && ng < ELEMENTSOF(groups); i++) {
                int k = lease_find_device(l, op->names[i]);
                if (k < 0)
                        continue;       /* named twice */
                groups[ng++] = l->devices[k].group;
                lease_remove_device(l, (size_t) k);
        }
        log_info("Lease %s: %zu devices removed by uid %u", l->id_string, op->n, (unsigned) op->uid);
        release_groups_left(m, l, groups, ng);
        manager_state_sync(m);
        notify_lease(m, "change", l, NULL);
        return 0;
}

static int request_release(Manager *m, Lease *l, LeaseOp *op, uint64_t *ret_deadline) {
        char line[512];
        int r;

        free(l->release_reason);
        l->release_reason = TAKE_PTR(op->reason);
        l->release_deadline_usec = now_realtime() + op->grace_usec;
        if (!l->release_timer) {
                r = sd_event_add_time_relative(m->event, &l->release_timer, CLOCK_MONOTONIC, op->grace_usec, 0,
                                               on_release_deadline, l);
                if (r < 0)
                        return r;
        } else {
                /* A second request replaces the first's deadline. */
                (void) sd_event_source_set_time_relative(l->release_timer, op->grace_usec);
                (void) sd_event_source_set_enabled(l->release_timer, SD_EVENT_ONESHOT);
        }
        snprintf(line, sizeof(line), "Lease %s of %s (pid %d): release requested by uid %u: %s; grace %llu s",
                 l->id_string, l->holder.comm, (int) l->holder.pid, (unsigned) op->uid, l->release_reason,
                 (unsigned long long) (op->grace_usec / 1000000u));
        manager_state_sync(m);
        audit_lease(l, NULL, 0, &(AuditEvent) { .type = AUDIT_RELEASE_REQUESTED, .message = line,
                    .reason = l->release_reason, .requester = &(ProcessInfo) { .uid = op->uid, .pid = op->pid } });
        notify_lease(m, "releaseRequested", l, NULL);
        *ret_deadline = l->release_deadline_usec;
        return 0;
}

/* Allowed (or the caller's own): do it on the lease as it is now. */
static void lease_op_run(Manager *m, const ManagerError *auth_err, void *userdata) {
        LeaseOp *op = userdata;
        ManagerError err = { .group = -1 };
        uint64_t deadline = 0;
        Lease *l;
        int r = 0;

        if (auth_err) {
                op->done(m, auth_err, NULL, 0, op->userdata);
                lease_op_free(op);
                return;
        }
        l = find_lease(m, op->lease, &err);
        if (!l) {
                op->done(m, &err, NULL, 0, op->userdata);
                lease_op_free(op);
                return;
        }
        switch (op->kind) {
        case LEASE_OP_REMOVE_DEVICES:
                r = remove_devices(m, l, op, &err);
                break;
        case LEASE_OP_RELEASE: {
                char why[64];
                snprintf(why, sizeof(why), "released by %s (uid %u)",
                         op->uid == l->holder.uid ? "its holder" : op->uid == l->owner.uid ? "whoever asked for it"
                         : op->admin && op->uid != 0 ? "another user polkit allowed" : "an administrator",
                         (unsigned) op->uid);
                manager_end_lease(m, l, why);
                l = NULL;
                break;
        }
        case LEASE_OP_REQUEST_RELEASE:
                r = request_release(m, l, op, &deadline);
                if (r < 0)
                        manager_set_error(&err, "BindFailed", NULL, "cannot arm the release timer: %s", strerror(-r));
                break;
        }
        op->done(m, r < 0 ? &err : NULL, l, deadline, op->userdata);
        lease_op_free(op);
}

static int lease_op_start(Manager *m, const ManagerCaller *caller, LeaseOp *op, bool admin_only) {
        ManagerError err = { .group = -1 };
        const char *ptrs[64];
        ManagerAuthRequest ar = {
                .action = POLKIT_ACTION_RELEASE_OTHER,
                .verb = op->kind == LEASE_OP_REQUEST_RELEASE ? "ask for the release of" : "release",
                .devices = ptrs,
                .group = -1,
        };
        Lease *l = find_lease(m, op->lease, &err);
        int r;

        op->uid = caller->uid;
        op->pid = caller->pid;
        if (!l) {
                op->done(m, &err, NULL, 0, op->userdata);
                lease_op_free(op);
                return 0;
        }
        refresh_holder(m, l);
        if (!admin_only && lease_is_callers(l, caller)) {
                lease_op_run(m, NULL, op);
                return 0;
        }
        /* Someone else's lease: polkit decides, asked about its devices. */
        op->admin = true;
        for (size_t i = 0; i < l->n_devices && ar.n_devices < ELEMENTSOF(ptrs); i++)
                ptrs[ar.n_devices++] = l->devices[i].name;
        r = manager_authorize(m, caller, &ar, lease_op_run, op);
        if (r < 0)
                lease_op_free(op);
        return r;
}

static LeaseOp *lease_op_new(LeaseOpKind kind, const char *lease, ManagerLeaseDone done, void *userdata) {
        LeaseOp *op = calloc(1, sizeof(*op));

        if (!op)
                return NULL;
        op->kind = kind;
        snprintf(op->lease, sizeof(op->lease), "%.16s", lease ? lease : "");
        op->done = done;
        op->userdata = userdata;
        return op;
}

int manager_remove_devices(Manager *m, const ManagerCaller *caller, const char *lease, const char *const *names,
                           size_t n, ManagerLeaseDone done, void *userdata) {
        LeaseOp *op = lease_op_new(LEASE_OP_REMOVE_DEVICES, lease, done, userdata);

        if (!op)
                return -ENOMEM;
        op->names = calloc(n + 1, sizeof(*op->names));
        if (!op->names) {
                lease_op_free(op);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                snprintf(op->names[i], sizeof(op->names[i]), "%s", names[i]);
        op->n = n;
        return lease_op_start(m, caller, op, false);
}

int manager_release(Manager *m, const ManagerCaller *caller, const char *lease, ManagerLeaseDone done,
                    void *userdata) {
        LeaseOp *op = lease_op_new(LEASE_OP_RELEASE, lease, done, userdata);

        return op ? lease_op_start(m, caller, op, false) : -ENOMEM;
}

int manager_request_release(Manager *m, const ManagerCaller *caller, const char *lease, const char *reason,
                            uint64_t grace_usec, ManagerLeaseDone done, void *userdata) {
        LeaseOp *op = lease_op_new(LEASE_OP_REQUEST_RELEASE, lease, done, userdata);

        if (!op)
                return -ENOMEM;
        op->reason = strdup(reason);
        if (!op->reason) {
                lease_op_free(op);
                return -ENOMEM;
        }
        op->grace_usec = grace_usec;
        return lease_op_start(m, caller, op, true);
}

int manager_check_holder(int pidfd, ManagerError *err) {
        pid_t pid;
        int r = pidfd_get_pid(pidfd, &pid);

        if (r == -ESRCH)
                manager_set_error(err, "HolderGone", NULL, "the holder process has already exited");
        else if (r == -EMFILE || r == -ENFILE)
                manager_set_error(err, "TooManyOpenFiles", NULL,
                                  "iommud has no file descriptors left for the holder's pidfd: end other leases, "
                                  "or raise iommud's LimitNOFILE=");
        return r < 0 ? r : 0;
}

json_object *manager_list_leases(Manager *m) {
        json_object *a = json_object_new_array();
        size_t i = 0;
        void *v;

        if (!a)
                return NULL;
        while (hashmap_iterate(m->leases, &i, &v, NULL)) {
                refresh_holder(m, v);
                json_object_array_add(a, lease_to_json(v));
        }
        return a;
}

size_t manager_lease_count(Manager *m) {
        return m->leases ? hashmap_size(m->leases) : 0;
}

/* ---- life cycle ---- */

int manager_lease_init(Manager *m) {
        int r = claim_table_new(&m->claims);
        if (r < 0)
                return r;
        m->leases = hashmap_new();
        m->releasing = hashmap_new();
        m->pending_mdevs = hashmap_new();
        if (!m->leases || !m->releasing || !m->pending_mdevs)
                return -ENOMEM;
        r = sd_event_add_defer(m->event, &m->lease_check, on_lease_check, m);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(m->lease_check, SD_EVENT_OFF);
}

void manager_lease_done(Manager *m) {
        size_t i = 0;
        void *v;

        /* On shutdown the leases stay: iommud's copies of their files
         * close (systemd's fd store has others for the next start, and
         * the holders their own), nothing is cut, revoked or restored. */
        while (m->leases && hashmap_iterate(m->leases, &i, &v, NULL)) {
                /* The lease goes on without this process: an access-mode
                 * holder keeps its ACL entries for the next start. */
                lease_state_forget_acls(v);
                lease_free(v);
        }
        i = 0;
        while (m->releasing && hashmap_iterate(m->releasing, &i, &v, NULL))
                releasing_free(v);
        m->lease_check = sd_event_source_disable_unref(m->lease_check);
        hashmap_free(m->leases);
        hashmap_free(m->releasing);
        hashmap_free(m->pending_mdevs);
        claim_table_free(m->claims);
}
