/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-internal.h - the Manager's state, shared by the files that make
 * up the manager (manager.c: life cycle, registry and front ends;
 * manager-rebind.c: policy, prepare and restore).  Nothing else includes
 * it.
 */
#pragma once

#include "claims.h"
#include "host-guard.h"
#include "lease-state.h"
#include "manager.h"
#include "prepared.h"
#include "process.h"
#include "rebind.h"
#include "shared/hashmap.h"
#include "shared/macro.h"
#include "varlink.h"

struct ManagerWatch {
        ManagerWatchFn fn;
        void *userdata;
        ManagerWatch *next, *prev;
};

struct Manager {
        uint64_t started_usec;  /* CLOCK_REALTIME, when this process made its manager */
        sd_event *event;
        Sysfs *sysfs;
        Registry *registry;
        Scanner *scanner;
        VarlinkServer *varlink;
        struct BusFace *bus;    /* NULL with --no-dbus */
        bool no_dbus;
        Config *config;
        char *varlink_socket;
        bool bound_socket;      /* we made the socket file, so we remove it */
        ManagerWatch *watches;

        /* manager-rebind.c */
        char *state_dir;
        char *proc_root;
        PreparedStore *prepared;
        Hashmap *jobs;          /* group key -> ManagerJob: one job per group */
        HostGuard *host_guard;
        sd_event_source *guard_timer;
        int mountinfo_fd;
        sd_event_source *mountinfo_source;
        int rtnl_fd;
        sd_event_source *rtnl_source;
        struct VfioVariants *variants;
        RebindTimeouts timeouts;

        /* manager-lease.c */
        ClaimTable *claims;
        Hashmap *leases;        /* id string -> Lease */
        Hashmap *releasing;     /* group key -> Releasing */
        Hashmap *pending_mdevs; /* UUID -> the claim creating that mdev */
        sd_event_source *lease_check;   /* deferred: lease devices vs. the registry */

        /* manager-restart.c: the state file and the fd store */
        struct RestartState *restart;

        /* manager-sriov.c: the SetNumVfs calls under way */
        struct SriovOp *sriov_ops;

        /* manager-auth.c: connects to the system bus on the first check */
        struct Polkit *polkit;

        /* manager-persistent.c: [Persistent] definitions at start, reload
         * and when a missing parent appears */
        struct PersistentRunner *persistent;

        /* manager-stop.c: the work under way, which a stop waits for;
         * manager-auth.c: the authorizations waiting for polkit, which a
         * stop refuses */
        struct ManagerWork *work;
        struct AuthBatch *auth_batches;
        bool stopping;
        uint64_t stop_timeout_usec;
        sd_event_source *stop_timer, *stop_exit;
        sd_event_source *stop_linger;   /* waits for clients that connected but did not ask yet */
        uint64_t stop_linger_until;     /* CLOCK_MONOTONIC */
};

/* manager-stop.c: work a stop waits for (a rebind job, a claim, an mdev
 * or SR-IOV write), described for the admin ("claim of 0000:00:03.0 by
 * uid 1000 (pid 4242)"); begun when it starts, ended when it is freed.
 * NULL when out of memory: then a stop does not wait for it.
 * manager_work_end() is NULL-safe. */
typedef struct ManagerWork ManagerWork;
_printf_(2, 3) ManagerWork *manager_work_begin(Manager *m, const char *fmt, ...);
void manager_work_end(Manager *m, ManagerWork *w);
/* manager-stop.c: SIGTERM or SIGINT (@signal_name); a second one exits
 * at once.  manager_stop_done() frees what the stop keeps. */
void manager_stop(Manager *m, const char *signal_name);
void manager_stop_done(Manager *m);
/* manager-auth.c: refuse every authorization still waiting for polkit
 * with ShuttingDown (its polkit check is dropped); each @done runs. */
void manager_auth_shutdown(Manager *m);

/* manager-rebind.c */
int manager_rebind_init(Manager *m, const ManagerOptions *o);
void manager_rebind_done(Manager *m);
void manager_rebind_device_changed(Manager *m, const Device *d);
void manager_rebind_check_records(Manager *m);
size_t manager_prepared_count(Manager *m);
bool manager_policy_verdict(Manager *m, const Device *d, char *reason, size_t size);
void manager_annotate_device(Manager *m, const Device *d, json_object *o);

/* manager-auth.c: whether @caller may do @req; @done is called exactly
 * once: at once for root, else from the event loop when polkit answered
 * (never before this returns); -ENOMEM only. */
typedef void (*ManagerAuthDone)(Manager *m, const ManagerError *err, void *userdata);
typedef struct ManagerAuthRequest {
        const char *action;             /* POLKIT_ACTION_* */
        const char *verb;               /* for the denial: "claim", "prepare" */
        const char *const *devices;     /* each is asked about on its own */
        size_t n_devices;
        int64_t group;                  /* a whole group, or -1 */
        const char *mode;               /* Claim: "bound", "parked" */
        const char *mdev_type;          /* CreateMdev: the type asked for */
        const char *num_vfs;            /* SetNumVfs: the count asked for */
} ManagerAuthRequest;
int manager_authorize(Manager *m, const ManagerCaller *caller, const ManagerAuthRequest *req, ManagerAuthDone done,
                      void *userdata);

/* manager-rebind.c: manager_prepare() (or, with @restore,
 * manager_restore()) on behalf of @who, whom the audit records name. */
int manager_rebind_for(Manager *m, const ProcessInfo *who, bool restore, const char *const *names, size_t n,
                       int64_t group, ManagerRebindDone done, void *userdata);
/* manager-rebind.c: read what the host needs now (mounts, routes). */
void manager_guard_refresh(Manager *m);
/* manager-rebind.c: prepare and restore for a claim, on groups the claim
 * holds (manager_prepare()/manager_restore() refuse claimed groups);
 * a claim restores by name what its prepare moved, nothing else. */
int manager_prepare_claimed(Manager *m, const char *const *names, size_t n, ManagerRebindDone done, void *userdata);
int manager_restore_claimed(Manager *m, const char *const *names, size_t n, ManagerRebindDone done,
                            void *userdata);

/* manager-mdev.c: for a claim's own mdevs, with no polkit (the claim
 * asked it).  The checks CreateMdev makes: 0 when @want more instances
 * of @type on @parent can be made (and @uuid, unless NULL, is free); a
 * named refusal in @e and -EINVAL when not; -ENOMEM. */
int manager_mdev_check_create(Manager *m, const char *parent, const char *type, const char *uuid, unsigned want,
                              ManagerError *e);
/* Create (or, with @remove, remove) mdev @uuid, @why saying for whom
 * in the log ("for a claim of uid 1000"):
 * as CreateMdev and RemoveMdev do, without polkit; a removal is refused
 * (DeviceInUse) while a process holds the mdev's VFIO nodes, but not for
 * its group being claimed (the claim asking is the one holding it).
 * @done exactly once, possibly before this returns; -ENOMEM only. */
int manager_mdev_write(Manager *m, bool remove, const char *parent, const char *type, const char *uuid,
                       const char *why, ManagerMdevDone done, void *userdata);

/* manager-lease.c */
int manager_lease_init(Manager *m);
void manager_lease_done(Manager *m);
void manager_end_lease(Manager *m, Lease *l, const char *reason);
/* A device changed or went: if its group is a lease's, check the leases'
 * devices against the registry (soon, from the event loop). */
void manager_lease_device_event(Manager *m, const Device *d);
/* Check every lease's devices against the registry soon (after the
 * leases were taken back at start: a device may have gone meanwhile). */
void manager_lease_check_soon(Manager *m);
/* An IOMMU group came or went: if it is releasing, probe it now (a
 * hot-removed device's group goes once its holder let go, and its number
 * may come back for a new device). */
void manager_lease_group_event(Manager *m, uint32_t group);
size_t manager_lease_count(Manager *m);
/* The claim table's owner of a group found held at start by a process
 * iommud knows no lease of (a lease id is random, never this). */
#define RELEASING_UNKNOWN_OWNER UINT64_MAX
#define LEASE_DEVICES_ADOPT_MAX 256
/* A lease taken back from the state file (manager-restart.c): its groups
 * held in the claim table, its holder, release deadline and the kernel's
 * requests watched.  -EBUSY when a group of it is taken already. */
int manager_lease_adopt(Manager *m, Lease *l);
/* A releasing record from the state file (or one made up for a group
 * held by someone iommud knows nothing of: @rec->lease ""): the group is
 * releasing until the probe finds nobody holds it.  Takes @rec's arrays. */
int manager_releasing_adopt(Manager *m, StateReleasing *rec);
/* The releasing records, borrowed (valid until the loop runs again). */
size_t manager_releasing_records(Manager *m, StateReleasing *out, size_t max);
size_t manager_releasing_count(Manager *m);
/* Whether any process holds a device of @l's groups (the releasing
 * probe, once): for a lease taken back without its files. */
bool manager_lease_devices_held(Manager *m, const Lease *l);

/* manager-restart.c */
int manager_restart_init(Manager *m);
void manager_restart_done(Manager *m);
/* The fds systemd passed (socket activation, the fd store): the varlink
 * socket's, or -1; the stored ones are kept for the recovery. */
int manager_restart_take_fds(Manager *m, int *ret_varlink_fd);
/* Take back the leases of the state file and the fd store: before the
 * front ends listen. */
int manager_restart_recover(Manager *m);
/* The leases changed: write the state file and bring the fd store in
 * line, before the caller is answered. */
void manager_state_sync(Manager *m);
/* The two halves: a granted claim writes the file before its reply and
 * stores its files right after it (each FDSTORE message wakes PID 1,
 * which the caller should not wait for). */
void manager_state_write(Manager *m);
void manager_state_store(Manager *m);
/* GetStatus's "lastStart". */
json_object *manager_restart_status(Manager *m);

/* Whether mdev @uuid is being created for a claim not yet granted: no
 * one else may claim or remove it meanwhile. */
bool manager_mdev_is_pending(Manager *m, const char *uuid);
/* The backend a lease made now would use: iommufd.conf's Backend=, or
 * what the kernel offers. */
LeaseBackend manager_lease_backend(Manager *m);
/* Whether @group is claiming, held or releasing; GroupBusy in @err then. */
bool manager_group_is_claimed(Manager *m, uint32_t group, ManagerError *err);
/* "claim" and "lease" fields of a device's or group's JSON. */
void manager_annotate_claim(Manager *m, int64_t group, json_object *o);

/* manager.c: fill @e: a named refusal with its sentence. */
_printf_(4, 5) void manager_set_error(ManagerError *e, const char *name, const char *device, const char *fmt, ...);
/* manager.c: whether @path is a character device (/dev/iommu, /dev/vfio/vfio). */
bool manager_is_char_device(const char *path);

/* manager.c: tell watchers that @g's JSON changed (its claim state). */
void manager_notify_group_changed(Manager *m, const Group *g);

/* manager.c: tell watchers that @d's JSON changed though the device did
 * not (its record, its verdict). */
void manager_notify_device_changed(Manager *m, const Device *d);
/* manager.c: the policy or the host guard is about to change: take a
 * snapshot of every device's JSON (NULL when nobody watches); after the
 * change, manager_policy_changed() drops the cached JSON and announces
 * each device whose JSON differs from the snapshot (which it frees). */
typedef struct ManagerPolicySnapshot ManagerPolicySnapshot;
ManagerPolicySnapshot *manager_policy_snapshot(Manager *m);
void manager_policy_changed(Manager *m, ManagerPolicySnapshot *ps);

/* manager-mdev.c: create an mdev for iommud itself (a [Persistent]
 * definition): the checks and the kernel call of manager_create_mdev(),
 * without polkit; the journal says it was for @what_for ("FILE:LINE").
 * @done is called exactly once, possibly before this returns; -ENOMEM. */
int manager_create_mdev_internal(Manager *m, const char *parent, const char *type, const char *uuid,
                                 const char *what_for, ManagerMdevDone done, void *userdata);

/* manager-persistent.c: create the [Persistent] mdevs and set the VF
 * counts that are missing (never removing anything), now and again when
 * a device appears while a definition waits for its parent. */
int manager_persistent_init(Manager *m);
void manager_persistent_done(Manager *m);
/* After the first scan ("start") and after each reload ("reload"): read
 * the definitions (and /etc/mdevctl.d) again and plan. */
void manager_persistent_apply(Manager *m, const char *why);
/* A device was added or changed: plan again soon if a definition waits. */
void manager_persistent_device_event(Manager *m, const Device *d);

/* The SR-IOV hook: set @pf's sriov_numvfs to @n for iommud itself (no
 * polkit), calling @done exactly once; -ENOMEM only.  manager-sriov.c
 * provides it (manager_persistent_set_sriov_hook()); until then a
 * SriovNumVfs= definition is planned and reported, not carried out. */
typedef void (*ManagerNumVfsDone)(Manager *m, const ManagerError *err, void *userdata);
typedef int (*ManagerSetNumVfsFn)(Manager *m, const char *pf, unsigned n, const char *what_for,
                                  ManagerNumVfsDone done, void *userdata);
void manager_persistent_set_sriov_hook(Manager *m, ManagerSetNumVfsFn fn);
/* manager-sriov.c: that hook (SetNumVfs's checks and writes, as root). */
int manager_sriov_set_numvfs_internal(Manager *m, const char *pf, unsigned n, const char *what_for,
                                      ManagerNumVfsDone done, void *userdata);
