/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager.h - the daemon: owns the event loop, the registry and its
 * scanner, and the front ends, in that start-up order.  The one API the
 * front ends (varlink today, D-Bus later) call.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "lease.h"
#include "registry.h"
#include "scanner.h"
#include "sysfs.h"

typedef struct Manager Manager;
typedef struct ManagerWatch ManagerWatch;
typedef struct ClaimOp ManagerClaim;

typedef struct ManagerOptions {
        const char *varlink_socket;     /* path to bind when not socket-activated */
        const char *sysfs_root;         /* "/sys" */
        const char *config_path;        /* /etc/iommud/iommud.conf */
        const char *state_dir;          /* /run/iommud: what must survive a restart */
        const char *proc_root;          /* /proc: who holds device nodes */
        uint64_t rebind_timeout_usec;   /* each sysfs write and bind; 0: 10 s */
        bool no_dbus;                   /* varlink alone: no org.iommud1 on the system bus */
        uint64_t stop_timeout_usec;     /* how long a stop waits for work under way; 0: 20 s */
} ManagerOptions;

/* The default of ManagerOptions.stop_timeout_usec: below the unit's
 * TimeoutStopSec= (30 s), so iommud says what it gives up on before
 * systemd kills it. */
#define MANAGER_STOP_TIMEOUT_USEC (20 * 1000 * 1000ULL)

/* A refusal or failure, for the front ends to turn into a named error
 * (varlink: org.iommud.Manager.<name>; the IDL documents each). */
typedef struct ManagerError {
        const char *name;               /* NULL: no error */
        char device[64];                /* the device it is about, or "" */
        int64_t group;                  /* the group it is about, or -1 */
        char message[512];              /* a sentence for people */
        bool rolled_back;               /* RebindFailed: everything was put back */
        char rollback_message[256];     /* RebindFailed: the first rollback failure */
        pid_t pid;                      /* DeviceInUse, GroupBusy: the holder */
        uid_t uid;                      /* GroupBusy: the holder's uid */
        char command[17];
        char node[64];
        char lease[LEASE_ID_STRING_MAX];        /* GroupBusy, NoSuchLease */
        char state[16];                 /* GroupBusy: "claiming", "held", "releasing" */
        char step[64];                  /* BindFailed, GroupNotViable: the kernel call that failed */
        int errno_value;                /* ... and its errno */
        bool challenge;                 /* PermissionDenied: authenticating could change it */
} ManagerError;

/* Who asks: from SO_PEERCRED, and a pidfd for the same process (-1 when
 * there is none; borrowed for the call, not kept); or, on D-Bus, from
 * the bus daemon's credentials of the sender, and its unique name. */
typedef struct ManagerCaller {
        uid_t uid;
        pid_t pid;
        int pidfd;
        const char *bus_name;   /* a D-Bus caller: its unique name (polkit's subject), else NULL */
        bool interactive;       /* D-Bus: the message allows interactive authorization */
} ManagerCaller;

/* The outcome of a call that may wait for polkit: @err NULL on success. */
typedef void (*ManagerDone)(Manager *m, const ManagerError *err, void *userdata);

/* @event is "add", "remove" or "change" (and "releaseRequested" for a
 * lease); exactly one of @device, @group and @lease is non-NULL (borrowed
 * for the call).  A lease's "remove" carries "endReason". */
typedef void (*ManagerWatchFn)(Manager *m, const char *event, json_object *device, json_object *group,
                               json_object *lease, void *userdata);

int manager_new(const ManagerOptions *o, Manager **ret);
Manager *manager_free(Manager *m);
void manager_freep(Manager **m);

/** manager_startup() - monitor and enumerate devices, then listen. */
int manager_startup(Manager *m);
/** manager_run() - run until SIGTERM/SIGINT; READY=1 to systemd first.
 * On the signal iommud stops (iommud(8), STOPPING): it accepts no new
 * connections and starts no new work, refuses what still waits for
 * polkit, lets the rest finish (up to ManagerOptions.stop_timeout_usec),
 * and leaves every lease as it is. */
int manager_run(Manager *m);

/** manager_is_stopping() - whether a stop began; then @err (may be NULL)
 * gets ShuttingDown, for a face to refuse a call that would start work
 * (a read may still be answered). */
bool manager_is_stopping(Manager *m, ManagerError *err);

/** manager_reload_config() - read iommud.conf again (SIGHUP, Reload); a
 * file that does not parse leaves the policy in force: -EINVAL, with
 * "FILE:LINE: problem" in *@ret_error (may be NULL; caller frees). */
int manager_reload_config(Manager *m, char **ret_error);

const Config *manager_get_config(Manager *m);
Registry *manager_get_registry(Manager *m);
Sysfs *manager_get_sysfs(Manager *m);
sd_event *manager_get_event(Manager *m);

/** manager_status() - the GetStatus reply. */
json_object *manager_status(Manager *m);

/** manager_watch() - call @fn for every registry change until
 * manager_unwatch(). */
int manager_watch(Manager *m, ManagerWatchFn fn, void *userdata, ManagerWatch **ret);
void manager_unwatch(Manager *m, ManagerWatch *w);


/* The outcome of a prepare or restore: @err NULL on success, with
 * @result {group, devices: [{name, action, driver, originalDriver}]}
 * (borrowed for the call). */
typedef void (*ManagerRebindDone)(Manager *m, const ManagerError *err, json_object *result, void *userdata);

/** manager_prepare() - move @names (canonical device names, all in one
 * IOMMU group), or every member of @group when @n is 0, to VFIO drivers,
 * with every member that blocks the group; see rebind.h.  @done is
 * called exactly once, possibly before this returns.  Returns -ENOMEM
 * only (then @done is not called). */
int manager_prepare(Manager *m, const char *const *names, size_t n, int64_t group, ManagerRebindDone done,
                    void *userdata);

/** manager_restore() - the reverse: every device iommud prepared among
 * @names (or in @group) goes back to its original driver. */
int manager_restore(Manager *m, const char *const *names, size_t n, int64_t group, ManagerRebindDone done,
                    void *userdata);

/* The most devices one Prepare or Restore call may name, on any face. */
#define MANAGER_REBIND_DEVICES_MAX 64

/** manager_caller_rebind() - manager_prepare() (or, with @restore,
 * manager_restore()) for @caller, once polkit allows it (action
 * org.iommud.prepare, asked per device).  @done is called exactly once. */
int manager_caller_rebind(Manager *m, const ManagerCaller *caller, bool restore, const char *const *names, size_t n,
                          int64_t group, ManagerRebindDone done, void *userdata);

/** manager_caller_reload() - manager_reload_config() for @caller, once
 * polkit allows it (org.iommud.reload); ConfigInvalid when the file does
 * not parse. */
int manager_caller_reload(Manager *m, const ManagerCaller *caller, ManagerDone done, void *userdata);

/** manager_device_is_managed() - the lease hook: a Claim prepares a
 * managed device first (manager_prepare()) and restores it when the lease
 * ends (manager_restore()); an unmanaged one must already be prepared. */
bool manager_device_is_managed(Manager *m, const Device *d);

/* ---- mdevs (manager-mdev.c) ---- */

/* The outcome of CreateMdev and RemoveMdev: @err NULL on success, with
 * the mdev's UUID (borrowed for the call). */
typedef void (*ManagerMdevDone)(Manager *m, const ManagerError *err, const char *uuid, void *userdata);

/** manager_create_mdev() - create an mdev of @type on @parent (names as
 * 'iommuctl mdev types' lists them), with @uuid (canonical) or, when
 * NULL, a random one; behind polkit's org.iommud.manage-mdev (details:
 * device = the parent, mdev_type).  Refused with NoSuchParent,
 * NoSuchMdevType, MdevExists, NoInstancesLeft; MdevFailed when the kernel
 * fails otherwise.  @done is called exactly once, possibly before this
 * returns; -ENOMEM only (then it is not). */
int manager_create_mdev(Manager *m, const ManagerCaller *caller, const char *parent, const char *type,
                        const char *uuid, ManagerMdevDone done, void *userdata);

/** manager_remove_mdev() - remove mdev @uuid; refused (GroupBusy,
 * DeviceInUse) while its group is claimed or a process holds its VFIO
 * nodes. */
int manager_remove_mdev(Manager *m, const ManagerCaller *caller, const char *uuid, ManagerMdevDone done,
                        void *userdata);

/* ---- SR-IOV (manager-sriov.c) ---- */

typedef struct SriovOp SriovOp;

/* The outcome of SetNumVfs: @err NULL on success, with @result {device:
 * the PF, vfs: [its VFs' addresses]} (borrowed for the call). */
typedef void (*ManagerSriovDone)(Manager *m, const ManagerError *err, json_object *result, void *userdata);

/** manager_set_sriov_numvfs() - give PF @pf (canonical address) @n VFs,
 * behind polkit's org.iommud.manage-sriov (details: device = the PF,
 * num_vfs); VFs come up unbound (sriov_drivers_autoprobe is turned off).
 * Refused with NoSuchDevice, NotSriovCapable, TooManyVfs,
 * SriovNotConfigurable, Busy, and, when VFs would go, NotAllowed (the
 * host needs one), GroupBusy or DeviceInUse; SriovFailed when the kernel fails otherwise, after putting
 * back what was changed.  @done is called exactly once, possibly before
 * this returns; -EINVAL for @n outside 0..65535, -ENOMEM (then it is
 * not). */
int manager_set_sriov_numvfs(Manager *m, const ManagerCaller *caller, const char *pf, int n, ManagerSriovDone done,
                             void *userdata);

/* ---- leases (manager-lease.c) ---- */

/* An mdev a claim asks iommud to create for its lease: it is removed
 * again when the lease lets go of it (its group is free), and at once
 * when the claim fails. */
typedef struct ManagerMdevSpec {
        const char *parent;             /* as 'iommuctl mdev types' lists it */
        const char *type;
        const char *uuid;               /* canonical, or NULL for a random one */
} ManagerMdevSpec;

typedef struct ManagerClaimRequest {
        const char *const *names;       /* canonical device names */
        size_t n;
        const ManagerMdevSpec *mdevs;   /* mdevs to create and add to the claim */
        size_t n_mdevs;                 /* n + n_mdevs <= MANAGER_CLAIM_DEVICES_MAX */
        const char *vf_token;           /* canonical UUID: the VF token of VFs whose PF is on
                                         * vfio-pci (legacy backend), or NULL */
        LeaseMode mode;                 /* a new lease's; AddDevices keeps the lease's */
        int holder_pidfd;               /* taken, also on failure: the process the lease follows */
        uint64_t memlock;               /* raise the holder's RLIMIT_MEMLOCK to this; 0: leave it */
        const char *lease;              /* AddDevices: the lease's id; NULL: a new lease */
} ManagerClaimRequest;

/* What a granted claim hands out, duplicates of iommud's own files, in
 * this order: the lease's iommufd or legacy container (a new lease), the
 * legacy group files of the devices added, then each added device's file
 * (none in access mode).  The receiver owns them. */
typedef struct ManagerClaimFds {
        int iommufd;                    /* or -1 */
        int container;                  /* or -1 */
        int group_fds[LEASE_REPLY_FDS_MAX];
        uint32_t group_ids[LEASE_REPLY_FDS_MAX];
        size_t n_groups;
        int device_fds[LEASE_REPLY_FDS_MAX];    /* per added device, -1 in access mode */
} ManagerClaimFds;

/* The outcome of a claim: @err NULL on success, with @lease (borrowed for
 * the call), the indexes of the devices this call added in
 * @lease->devices, and @fds (the receiver's: it must close what it does
 * not pass on).  The duplicates are made before the lease is granted: a
 * daemon out of file descriptors refuses (TooManyOpenFiles) rather than
 * grant a lease whose fds it cannot hand out. */
typedef void (*ManagerClaimDone)(Manager *m, const ManagerError *err, const Lease *lease, const size_t *added,
                                 size_t n_added, ManagerClaimFds *fds, void *userdata);

/* The limits every face holds a request to. */
#define MANAGER_CLAIM_DEVICES_MAX (LEASE_REPLY_FDS_MAX - 1)     /* the iommufd takes one fd */
#define MANAGER_RELEASE_REASON_MAX 256                          /* bytes of a RequestRelease reason */
#define MANAGER_RELEASE_GRACE_MAX_SEC 86400                     /* a day: a longer wait is no request */

/** manager_check_holder() - @pidfd (borrowed) is a pidfd of a live
 * process: 0.  Else a named error in @err: HolderGone (the process has
 * exited: -ESRCH), TooManyOpenFiles (iommud cannot even look: -EMFILE or
 * -ENFILE); any other -errno (not a pidfd) leaves @err alone, for the
 * face to call it an invalid argument. */
int manager_check_holder(int pidfd, ManagerError *err);

/** manager_claim() - a new lease on @req->names' IOMMU groups (or, with
 * @req->lease, more devices for a held lease).  @done is called exactly
 * once, possibly before this returns; when it reports an error, nothing
 * was changed (every group prepared for it restored, every file closed).
 * With @req->mdevs, iommud first creates those mdevs (each creation
 * authorized as CreateMdev is, org.iommud.manage-mdev) and claims them
 * with the named devices; a failed claim removes them again, and the
 * lease removes them once it lets go of them.
 * Returns -ENOMEM, or -EINVAL for a @req->vf_token that is no UUID (the
 * faces check it first); then @done is not called. */
int manager_claim(Manager *m, const ManagerCaller *caller, const ManagerClaimRequest *req, ManagerClaimDone done,
                  void *userdata, ManagerClaim **ret_claim);

/** manager_claim_cancel() - the caller went away: the claim stops at its
 * next step and undoes what it did (@done is still called, with the
 * error Cancelled).  @claim is valid from manager_claim() until @done
 * runs; the caller must forget it then. */
void manager_claim_cancel(ManagerClaim *claim);

/* The outcome of RemoveDevices, Release and RequestRelease: @err NULL on
 * success, with @lease as it is afterwards (NULL once it ended) and, for
 * RequestRelease, @deadline (CLOCK_REALTIME, µs). */
typedef void (*ManagerLeaseDone)(Manager *m, const ManagerError *err, const Lease *lease, uint64_t deadline,
                                 void *userdata);

/* The holder and whoever asked for a lease (by uid) may change or end
 * it; anyone else needs polkit's org.iommud.release-other.  Each calls
 * @done exactly once, possibly before it returns; -ENOMEM only. */

/** manager_remove_devices() - take @names out of lease @lease: their DMA
 * is cut and each group left without a device of the lease is released. */
int manager_remove_devices(Manager *m, const ManagerCaller *caller, const char *lease, const char *const *names,
                           size_t n, ManagerLeaseDone done, void *userdata);

/** manager_release() - end lease @lease now. */
int manager_release(Manager *m, const ManagerCaller *caller, const char *lease, ManagerLeaseDone done,
                    void *userdata);

/** manager_request_release() - ask @lease's holder (through Monitor) to
 * give it back within @grace_usec; then the lease ends.  Always needs
 * org.iommud.release-other (root passes): asking oneself is Release. */
int manager_request_release(Manager *m, const ManagerCaller *caller, const char *lease, const char *reason,
                            uint64_t grace_usec, ManagerLeaseDone done, void *userdata);

/** manager_list_leases() - every lease, as the IDL's Lease. */
json_object *manager_list_leases(Manager *m);
Lease *manager_get_lease(Manager *m, uint64_t id);

/** manager_group_to_json() - the group with its claim state ("claim",
 * "lease", and who still holds it while "releasing"). */
json_object *manager_group_to_json(Manager *m, const Group *g);

/** manager_policy() - the GetPolicy reply: the rules and every device's
 * verdict. */
json_object *manager_policy(Manager *m);
