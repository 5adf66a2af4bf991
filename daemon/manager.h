/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager.h - the daemon: owns the event loop, the registry and its
 * scanner, and the front ends, in that start-up order.  The one API the
 * front ends (varlink today, D-Bus later) call.
 */
#pragma once

#include <json-c/json.h>
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
} ManagerOptions;

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
