/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "build-config.h"
#include "config.h"
#include "manager-internal.h"
#include "bus-manager.h"
#include "manager.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "varlink-manager.h"
#include "varlink.h"

static void on_varlink_log(const char *message, void *userdata) {
        log_debug("%s", message);
}

static void on_device(Registry *r, RegistryChange what, const Device *d, void *userdata) {
        static const char *const names[] = { "add", "remove", "change" };
        Manager *m = userdata;
        json_object *o;

        if (what == REGISTRY_CHANGED)
                manager_rebind_device_changed(m, d);
        if (what != REGISTRY_ADDED)
                manager_lease_device_event(m, d);
        /* A stop starts no new work, [Persistent] definitions neither. */
        if (!m->stopping)
                manager_persistent_device_event(m, d);
        if (!m->watches)
                return;
        o = registry_device_to_json(r, d);
        if (!o)
                return;
        for (ManagerWatch *w = m->watches, *next; w; w = next) {
                next = w->next;
                w->fn(m, names[what], o, NULL, NULL, w->userdata);
        }
        json_object_put(o);
}

void manager_set_error(ManagerError *e, const char *name, const char *device, const char *fmt, ...) {
        va_list ap;

        e->name = name;
        snprintf(e->device, sizeof(e->device), "%s", device ? device : "");
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
}

void manager_notify_device_changed(Manager *m, const Device *d) {
        on_device(m->registry, REGISTRY_CHANGED, d, m);
}

struct ManagerPolicySnapshot {
        const Device **list;
        char **before;
        size_t n;
};

ManagerPolicySnapshot *manager_policy_snapshot(Manager *m) {
        ManagerPolicySnapshot *ps;

        /* Without watchers there is nobody to tell. */
        if (!m->watches || !(ps = calloc(1, sizeof(*ps))))
                return NULL;
        if (registry_list_devices(m->registry, &ps->list, &ps->n) < 0 ||
            !(ps->before = calloc(ps->n + 1, sizeof(*ps->before)))) {
                free(ps->list);
                free(ps);
                return NULL;
        }
        for (size_t i = 0; i < ps->n; i++) {
                const char *t = registry_device_json_text(m->registry, ps->list[i]);
                ps->before[i] = t ? strdup(t) : NULL;
        }
        return ps;
}

void manager_policy_changed(Manager *m, ManagerPolicySnapshot *ps) {
        registry_invalidate_json(m->registry, NULL);
        if (!ps)
                return;
        /* Tell watchers about each device whose verdict (or another
         * policy field) changed: the device itself did not. */
        for (size_t i = 0; i < ps->n; i++) {
                const char *t = registry_device_json_text(m->registry, ps->list[i]);
                if (!ps->before[i] || !t || strcmp(ps->before[i], t) != 0)
                        manager_notify_device_changed(m, ps->list[i]);
                free(ps->before[i]);
        }
        free(ps->before);
        free(ps->list);
        free(ps);
}

static void on_group(Registry *r, RegistryChange what, const Group *g, void *userdata) {
        static const char *const names[] = { "add", "remove", "change" };
        Manager *m = userdata;
        json_object *o;

        if (what != REGISTRY_CHANGED)
                manager_lease_group_event(m, g->id);
        if (!m->watches)
                return;
        o = manager_group_to_json(m, g);
        if (!o)
                return;
        for (ManagerWatch *w = m->watches, *next; w; w = next) {
                next = w->next;
                w->fn(m, names[what], NULL, o, NULL, w->userdata);
        }
        json_object_put(o);
}

void manager_notify_group_changed(Manager *m, const Group *g) {
        on_group(m->registry, REGISTRY_CHANGED, g, m);
}

/* iommud.conf's verdict, with what the host cannot lose (see
 * manager-rebind.c); the registry caches it in each device's JSON until
 * registry_invalidate_json(). */
static bool on_policy(const Device *d, char *reason, size_t size, void *userdata) {
        return manager_policy_verdict(userdata, d, reason, size);
}

static void on_annotate(const Device *d, json_object *o, void *userdata) {
        manager_annotate_device(userdata, d, o);
}

int manager_new(const ManagerOptions *o, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        RegistryCallbacks cb;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->mountinfo_fd = m->rtnl_fd = -EBADF;
        {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                m->started_usec = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
        }
        /* For sd_event_add_child() (modprobe): blocked before any thread. */
        {
                sigset_t mask;
                sigemptyset(&mask);
                sigaddset(&mask, SIGCHLD);
                if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                        return -errno;
        }
        m->no_dbus = o->no_dbus;
        m->stop_timeout_usec = o->stop_timeout_usec ? o->stop_timeout_usec : MANAGER_STOP_TIMEOUT_USEC;
        m->varlink_socket = strdup(o->varlink_socket);
        if (!m->varlink_socket)
                return -ENOMEM;
        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        {
                _cleanup_free_ char *err = NULL;
                /* A broken policy stops the daemon: guessing could hand
                 * out a device the admin meant to keep. */
                r = config_load(o->config_path, &m->config, &err);
                if (r < 0)
                        return log_error_errno(r, "Refusing to start: %s", err ? err : strerror(-r));
        }
        r = sysfs_new(o->sysfs_root, &m->sysfs);
        if (r < 0)
                return log_error_errno(r, "Failed to open %s: %m", o->sysfs_root);
        cb = (RegistryCallbacks) { .device = on_device, .group = on_group, .policy = on_policy,
                                   .annotate = on_annotate, .userdata = m };
        r = registry_new(&cb, &m->registry);
        if (r < 0)
                return r;
        r = manager_rebind_init(m, o);
        if (r < 0)
                return r;
        r = manager_lease_init(m);
        if (r < 0)
                return r;
        r = manager_restart_init(m);
        if (r < 0)
                return r;
        r = manager_persistent_init(m);
        if (r < 0)
                return r;
        manager_persistent_set_sriov_hook(m, manager_sriov_set_numvfs_internal);
        r = scanner_new(m->event, m->sysfs, m->registry, &m->scanner);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* The faces first: freeing them cancels Monitor calls and
         * their watches. */
        bus_face_free(m->bus);
        varlink_server_free(m->varlink);
        while (m->watches)
                manager_unwatch(m, m->watches);
        if (m->bound_socket)
                (void) unlink(m->varlink_socket);
        scanner_free(m->scanner);
        polkit_free(m->polkit);
        manager_persistent_done(m);
        manager_lease_done(m);
        manager_restart_done(m);
        manager_rebind_done(m);
        registry_free(m->registry);
        config_free(m->config);
        sysfs_free(m->sysfs);
        manager_stop_done(m);
        sd_event_unref(m->event);
        free(m->varlink_socket);
        free(m);
        return NULL;
}

void manager_freep(Manager **m) {
        manager_free(*m);
}

const Config *manager_get_config(Manager *m) {
        return m->config;
}

Registry *manager_get_registry(Manager *m) {
        return m->registry;
}

Sysfs *manager_get_sysfs(Manager *m) {
        return m->sysfs;
}

sd_event *manager_get_event(Manager *m) {
        return m->event;
}

static int mkdir_parent(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = 0;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int listen_varlink(Manager *m, int fd) {
        int r;

        if (fd >= 0) {
                r = varlink_server_listen_fd(m->varlink, fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to listen on the socket from systemd: %m");
                log_debug("Listening on the socket systemd passed in");
                return 0;
        }
        r = mkdir_parent(m->varlink_socket);
        if (r < 0)
                return log_error_errno(r, "Failed to create the directory of %s: %m", m->varlink_socket);
        r = varlink_server_listen_address(m->varlink, m->varlink_socket, 0666);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", m->varlink_socket);
        m->bound_socket = true;
        log_debug("Listening on %s", m->varlink_socket);
        return 0;
}

int manager_startup(Manager *m) {
        VarlinkServerInfo info = {
                .vendor = "iommud",
                .product = "iommud",
                .version = PACKAGE_VERSION,
                .url = "https://github.com/iommud/iommud",
        };
        int varlink_fd = -1, r;

        /* 0. what systemd passed: the varlink socket, and the files the
         * leases of the last run left in its fd store. */
        r = manager_restart_take_fds(m, &varlink_fd);
        if (r < 0)
                return r;

        /* 1. hotplug first, then what exists: nothing slips between. */
        r = scanner_start(m->scanner);
        if (r < 0)
                return log_error_errno(r, "Failed to enumerate devices: %m");
        log_info("Found %zu devices in %zu IOMMU groups", registry_n_devices(m->registry),
                 registry_n_groups(m->registry));
        manager_rebind_check_records(m);
        /* The leases of the last run, before anyone can ask for a group. */
        r = manager_restart_recover(m);
        if (r < 0)
                return log_error_errno(r, "Failed to take back the leases of the last run: %m");
        /* The [Persistent] mdevs and VF counts that are missing: the
         * creations run from the event loop, a failure is logged. */
        manager_persistent_apply(m, "start");

        /* 2. the front ends. */
        r = varlink_server_new(m->event, &info, &m->varlink);
        if (r < 0)
                return r;
        /* Connections opened and closed, and clients dropped for breaking
         * a limit: at debug level, one line per connection event. */
        varlink_server_set_log(m->varlink, on_varlink_log, m);
        r = varlink_manager_register(m, m->varlink);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the varlink interface: %m");
        r = listen_varlink(m, varlink_fd);
        if (r < 0)
                return r;
        if (m->no_dbus) {
                log_info("D-Bus disabled (--no-dbus): serving varlink alone");
                return 0;
        }
        r = bus_face_new(m, NULL, &m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the D-Bus interface: %m");
        return 0;
}

/* See manager-stop.c. */
static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        manager_stop(userdata, si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        return 0;
}

int manager_reload_config(Manager *m, char **ret_error) {
        _cleanup_free_ char *err = NULL;
        Config *c = NULL;
        int r;

        (void) sd_notify(false, "RELOADING=1");
        r = config_load(m->config->path, &c, &err);
        if (r < 0) {
                /* Keep what is in force: a typo must not open or close
                 * every device at once. */
                log_error("Not reloading, keeping the policy in force: %s", err ? err : strerror(-r));
                (void) sd_notify(false, "READY=1");
                if (ret_error)
                        *ret_error = err ? TAKE_PTR(err) : strdup(strerror(-r));
                return r;
        }
        {
                ManagerPolicySnapshot *ps = manager_policy_snapshot(m);
                config_free(m->config);
                m->config = c;
                manager_policy_changed(m, ps);
        }
        log_info("Reloaded %s%s: %zu [Assignable], %zu [Managed], %zu [Reserve] rules", c->path,
                 c->found ? "" : " (not found: nothing is assignable)", c->assignable.n, c->managed.n, c->reserve.n);
        manager_persistent_apply(m, "reload");
        (void) sd_notify(false, "READY=1");
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload_config(userdata, NULL);
        return 0;
}

int manager_run(Manager *m) {
        sigset_t mask;
        char status[128];
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r < 0)
                return r;
        /* Sends WATCHDOG=1 at half of $WATCHDOG_USEC when it is set. */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return r;
        snprintf(status, sizeof(status), "READY=1\nSTATUS=Watching %zu devices in %zu IOMMU groups",
                 registry_n_devices(m->registry), registry_n_groups(m->registry));
        (void) sd_notify(false, status);
        return sd_event_loop(m->event);
}

bool manager_is_char_device(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

json_object *manager_status(Manager *m) {
        const ScannerStats *st = scanner_get_stats(m->scanner);
        json_object *o = json_object_new_object();
        const Device **list = NULL;
        size_t n = 0, mdevs = 0;
        bool iommufd = manager_is_char_device("/dev/iommu");
        bool cdev = sysfs_exists(m->sysfs, "class/vfio-dev") > 0;
        bool legacy = manager_is_char_device("/dev/vfio/vfio");

        if (!o)
                return NULL;
        if (registry_list_devices(m->registry, &list, &n) >= 0)
                for (size_t i = 0; i < n; i++)
                        mdevs += list[i]->kind == DEVICE_MDEV;
        free(list);
        json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
        json_object_object_add(o, "backend", json_object_new_string(iommufd && cdev ? "iommufd" : legacy ? "legacy" : "none"));
        json_object_object_add(o, "leaseBackend",
                               json_object_new_string(lease_backend_to_string(manager_lease_backend(m))));
        json_object_object_add(o, "iommufd", json_object_new_boolean(iommufd));
        json_object_object_add(o, "vfioCdev", json_object_new_boolean(cdev));
        json_object_object_add(o, "legacyContainer", json_object_new_boolean(legacy));
        json_object_object_add(o, "devices", json_object_new_int64((int64_t) registry_n_devices(m->registry)));
        json_object_object_add(o, "groups", json_object_new_int64((int64_t) registry_n_groups(m->registry)));
        json_object_object_add(o, "mdevs", json_object_new_int64((int64_t) mdevs));
        json_object_object_add(o, "events", json_object_new_int64((int64_t) st->events));
        json_object_object_add(o, "rescans", json_object_new_int64((int64_t) st->rescans));
        json_object_object_add(o, "overruns", json_object_new_int64((int64_t) st->overruns));
        json_object_object_add(o, "config", json_object_new_string(m->config->path));
        json_object_object_add(o, "configFound", json_object_new_boolean(m->config->found));
        json_object_object_add(o, "assignableRules", json_object_new_int64((int64_t) m->config->assignable.n));
        json_object_object_add(o, "prepared", json_object_new_int64((int64_t) manager_prepared_count(m)));
        json_object_object_add(o, "leases", json_object_new_int64((int64_t) manager_lease_count(m)));
        json_object_object_add(o, "releasingGroups",
                               json_object_new_int64((int64_t) claim_count(m->claims, CLAIM_RELEASING)));
        json_object_object_add(o, "pid", json_object_new_int64((int64_t) getpid()));
        json_object_object_add(o, "started", json_object_new_int64((int64_t) m->started_usec));
        json_object_object_add(o, "lastStart", manager_restart_status(m));
        return o;
}

int manager_watch(Manager *m, ManagerWatchFn fn, void *userdata, ManagerWatch **ret) {
        ManagerWatch *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->fn = fn;
        w->userdata = userdata;
        w->next = m->watches;
        if (m->watches)
                m->watches->prev = w;
        m->watches = w;
        if (ret)
                *ret = w;
        return 0;
}

void manager_unwatch(Manager *m, ManagerWatch *w) {
        if (!w)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                m->watches = w->next;
        if (w->next)
                w->next->prev = w->prev;
        free(w);
}
