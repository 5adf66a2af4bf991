/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager.h - the daemon: owns the event loop, the registry and its
 * scanner, and the front ends, in that start-up order.  The one API the
 * front ends (varlink today, D-Bus later) call.
 */
#pragma once

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "registry.h"
#include "scanner.h"
#include "sysfs.h"

typedef struct Manager Manager;
typedef struct ManagerWatch ManagerWatch;

typedef struct ManagerOptions {
        const char *varlink_socket;     /* path to bind when not socket-activated */
        const char *sysfs_root;         /* "/sys" */
        const char *config_path;        /* /etc/iommud/iommud.conf */
        const char *state_dir;          /* /run/iommud: what must survive a restart */
        const char *proc_root;          /* /proc: who holds device nodes */
        uint64_t rebind_timeout_usec;   /* each sysfs write and bind; 0: 10 s */
} ManagerOptions;

/* A refusal or failure, for the front ends to turn into a named error
 * (varlink: org.iommud.Manager.<name>; the IDL documents each). */
typedef struct ManagerError {
        const char *name;               /* NULL: no error */
        char device[64];                /* the device it is about, or "" */
        int64_t group;                  /* the group it is about, or -1 */
        char message[512];              /* a sentence for people */
        bool rolled_back;               /* RebindFailed: everything was put back */
        char rollback_message[256];     /* RebindFailed: the first rollback failure */
        pid_t pid;                      /* DeviceInUse: the holder */
        char command[17];
        char node[64];
} ManagerError;

/* Who asks. */
typedef struct ManagerCaller {
        uid_t uid;
        pid_t pid;
} ManagerCaller;

/* @event is "add", "remove" or "change"; exactly one of @device and @group
 * is non-NULL (borrowed for the call). */
typedef void (*ManagerWatchFn)(Manager *m, const char *event, json_object *device, json_object *group,
                               void *userdata);

int manager_new(const ManagerOptions *o, Manager **ret);
Manager *manager_free(Manager *m);
void manager_freep(Manager **m);

/** manager_startup() - monitor and enumerate devices, then listen. */
int manager_startup(Manager *m);
/** manager_run() - run until SIGTERM/SIGINT; READY=1 to systemd first. */
int manager_run(Manager *m);

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

/** manager_authorize() - whether @caller may do @action ("prepare",
 * "restore").  The one place the decision is made: root only for now
 * (polkit replaces it).  0, or -EPERM with @err filled. */
int manager_authorize(Manager *m, const ManagerCaller *caller, const char *action, ManagerError *err);

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

/** manager_device_is_managed() - the lease hook: a Claim prepares a
 * managed device first (manager_prepare()) and restores it when the lease
 * ends (manager_restore()); an unmanaged one must already be prepared. */
bool manager_device_is_managed(Manager *m, const Device *d);

/** manager_policy() - the GetPolicy reply: the rules and every device's
 * verdict. */
json_object *manager_policy(Manager *m);
