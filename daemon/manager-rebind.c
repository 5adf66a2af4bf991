/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-rebind.c - the policy's verdict on each device, and Prepare and
 * Restore: the checks before anything is touched, the record on disk, the
 * rebind job, and what the front ends are told.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#include "audit.h"
#include "manager-internal.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "vfio-variant.h"

/* A refresh of the host guard waits this long for more mount or route
 * changes, so a burst costs one scan. */
#define GUARD_REFRESH_DELAY_USEC (100 * 1000ULL)

typedef struct ManagerJob {
        Manager *manager;
        bool restore;
        uint32_t group;
        ProcessInfo who;        /* the caller who asked, for the audit records */
        bool has_who;           /* else iommud, for a claim or after a lease */
        char key[12];
        RebindJob *job;
        ManagerRebindDone done;
        void *userdata;
        ManagerWork *work;      /* what a stop waits for */
} ManagerJob;

static void manager_job_free(ManagerJob *mj) {
        if (!mj)
                return;
        manager_work_end(mj->manager, mj->work);
        rebind_job_free(mj->job);
        free(mj);
}

/* ---- the host guard: devices the host cannot lose ---- */

void manager_guard_refresh(Manager *m) {
        ManagerPolicySnapshot *ps;
        HostGuard *h = NULL;
        int r = host_guard_scan_host(m->sysfs, &h);

        if (r < 0) {
                log_warning_errno(r, "Cannot tell which devices the host needs (%m): refusing every device");
                h = NULL;
        }
        if (m->host_guard && h && host_guard_equal(m->host_guard, h)) {
                host_guard_free(h);
                return;
        }
        ps = manager_policy_snapshot(m);
        host_guard_free(m->host_guard);
        m->host_guard = h;
        if (h)
                log_debug("The host needs %zu PCI devices (boot VGA, mounted filesystems, default route)",
                          host_guard_count(h));
        manager_policy_changed(m, ps);
}

static int on_guard_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_guard_refresh(userdata);
        return 0;
}

static void guard_schedule(Manager *m) {
        uint64_t now;

        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        if (sd_event_source_set_time(m->guard_timer, now + GUARD_REFRESH_DELAY_USEC) < 0 ||
            sd_event_source_set_enabled(m->guard_timer, SD_EVENT_ONESHOT) < 0)
                manager_guard_refresh(m);
}

static int on_mountinfo(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        guard_schedule(userdata);
        return 0;
}

static int on_rtnl(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        char buf[8192];

        while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
                ;
        guard_schedule(userdata);
        return 0;
}

static int guard_watch(Manager *m) {
        struct sockaddr_nl sa = {
                .nl_family = AF_NETLINK,
                .nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_LINK,
        };
        int r;

        r = sd_event_add_time(m->event, &m->guard_timer, CLOCK_MONOTONIC, 0, 0, on_guard_timer, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->guard_timer, SD_EVENT_OFF);
        /* Mounts: /proc/self/mountinfo signals POLLPRI on every change. */
        m->mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        if (m->mountinfo_fd >= 0)
                (void) sd_event_add_io(m->event, &m->mountinfo_source, m->mountinfo_fd, EPOLLPRI, on_mountinfo, m);
        /* Routes and links: any rtnetlink message means "look again". */
        m->rtnl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        if (m->rtnl_fd >= 0 && bind(m->rtnl_fd, (struct sockaddr *) &sa, sizeof(sa)) >= 0)
                (void) sd_event_add_io(m->event, &m->rtnl_source, m->rtnl_fd, EPOLLIN, on_rtnl, m);
        return 0;
}

/* ---- the verdict ---- */

bool manager_policy_verdict(Manager *m, const Device *d, char *reason, size_t size) {
        char why[384];
        unsigned line;

        if (!m->config->found) {
                snprintf(reason, size, "no %s: nothing is assignable", m->config->path);
                return false;
        }
        if (!config_match(&m->config->assignable, d, &line)) {
                snprintf(reason, size, "not listed in [Assignable] of %s", m->config->path);
                return false;
        }
        if (!m->host_guard) {
                snprintf(reason, size, "iommud cannot tell which devices the host needs, so it refuses all");
                return false;
        }
        if (host_guard_refuses(m->host_guard, m->registry, d, why, sizeof(why))) {
                snprintf(reason, size, "the host needs it: it %s (listed in %s:%u, refused all the same)", why,
                         m->config->path, line);
                return false;
        }
        snprintf(reason, size, "allowed by %s:%u", m->config->path, line);
        return true;
}

bool manager_device_is_managed(Manager *m, const Device *d) {
        return config_match(&m->config->managed, d, NULL);
}

void manager_annotate_device(Manager *m, const Device *d, json_object *o) {
        const PreparedRecord *rec = m->prepared ? prepared_store_get(m->prepared, d->name) : NULL;
        const char *critical = m->host_guard && d->kind == DEVICE_PCI ? host_guard_reason(m->host_guard, d->name) : NULL;

        json_object_object_add(o, "managed", json_object_new_boolean(config_match(&m->config->managed, d, NULL)));
        json_object_object_add(o, "reserved", json_object_new_boolean(config_match(&m->config->reserve, d, NULL)));
        json_object_object_add(o, "prepared", json_object_new_boolean(rec != NULL));
        json_object_object_add(o, "originalDriver",
                               rec && rec->driver ? json_object_new_string(rec->driver) : NULL);
        json_object_object_add(o, "hostCritical", critical ? json_object_new_string(critical) : NULL);
        manager_annotate_claim(m, d->iommu_group, o);
        /* On vfio-pci or pci-stub with no record of ours and not reserved
         * by our policy: libvirt, driverctl or an admin put it there, and
         * iommud will not move it from under them. */
        json_object_object_add(o, "heldOutside", json_object_new_boolean(
                d->kind == DEVICE_PCI && !rec && d->driver && !device_is_bridge(d) &&
                device_driver_manages_dma(d->driver) && !config_match(&m->config->reserve, d, NULL)));
}

/* ---- life cycle ---- */

int manager_rebind_init(Manager *m, const ManagerOptions *o) {
        _cleanup_free_ char *dir = NULL;
        struct utsname u;
        char alias[512];
        unsigned damaged = 0;
        int r;

        m->mountinfo_fd = m->rtnl_fd = -EBADF;
        m->state_dir = strdup(o->state_dir ? o->state_dir : "/run/iommud");
        m->proc_root = strdup(o->proc_root ? o->proc_root : "/proc");
        m->jobs = hashmap_new();
        if (!m->state_dir || !m->proc_root || !m->jobs)
                return -ENOMEM;
        m->timeouts.write_usec = m->timeouts.bind_usec = o->rebind_timeout_usec;
        if (asprintf(&dir, "%s/prepared", m->state_dir) < 0)
                return -ENOMEM;
        r = prepared_store_open(dir, &m->prepared, &damaged);
        if (r < 0)
                return log_error_errno(r, "Failed to read the records of prepared devices in %s: %m", dir);
        if (damaged > 0)
                log_warning("Ignored %u damaged records in %s: those devices stay as they are", damaged, dir);
        if (prepared_store_size(m->prepared) > 0)
                log_info("%zu devices are prepared (recorded in %s)", prepared_store_size(m->prepared), dir);
        if (uname(&u) >= 0 && snprintf(alias, sizeof(alias), "/lib/modules/%s/modules.alias", u.release) < (int) sizeof(alias)) {
                r = vfio_variants_load(alias, &m->variants);
                if (r < 0)
                        log_warning_errno(r, "Cannot read %s (%m): using vfio-pci for every device", alias);
        }
        manager_guard_refresh(m);
        return guard_watch(m);
}

void manager_rebind_done(Manager *m) {
        size_t i = 0;
        void *v;

        if (m->jobs) {
                /* A job in flight leaves its records: the next start sees them. */
                while (hashmap_iterate(m->jobs, &i, &v, NULL))
                        manager_job_free(v);
                hashmap_free(m->jobs);
        }
        sd_event_source_disable_unref(m->guard_timer);
        sd_event_source_disable_unref(m->mountinfo_source);
        sd_event_source_disable_unref(m->rtnl_source);
        safe_close(m->mountinfo_fd);
        safe_close(m->rtnl_fd);
        host_guard_free(m->host_guard);
        prepared_store_free(m->prepared);
        vfio_variants_free(m->variants);
        free(m->state_dir);
        free(m->proc_root);
}

/* After the first scan: say what the records found at start describe,
 * when it is not what sysfs shows.  Nothing is changed: a record stays
 * until a Restore, which puts the device on the recorded driver. */
void manager_rebind_check_records(Manager *m) {
        const PreparedRecord *rec;
        size_t i = 0;

        while (prepared_store_iterate(m->prepared, &i, &rec)) {
                const Device *d = registry_get_device(m->registry, rec->name);
                const char *orig = rec->driver ? rec->driver : "no driver";

                if (!d)
                        log_warning("%s was prepared (from %s), but there is no such device now; its record "
                                    "stays for when it comes back", rec->name, orig);
                else if (!d->driver || !device_driver_is_vfio(d->driver))
                        log_warning("%s was prepared (from %s), but is on %s now, moved outside iommud; Restore "
                                    "will put it on %s", rec->name, orig, d->driver ? d->driver : "no driver", orig);
                else
                        log_debug("%s is prepared (from %s)", rec->name, orig);
        }
}

size_t manager_prepared_count(Manager *m) {
        return m->prepared ? prepared_store_size(m->prepared) : 0;
}

void manager_rebind_device_changed(Manager *m, const Device *d) {
        char key[12];
        ManagerJob *mj;

        if (!m->jobs || d->iommu_group < 0)
                return;
        snprintf(key, sizeof(key), "%u", (unsigned) d->iommu_group);
        mj = hashmap_get(m->jobs, key);
        if (mj)
                rebind_job_device_changed(mj->job, d->name);
}

/* ---- prepare and restore ---- */


static const char *variant_for(const Device *d, void *userdata) {
        Manager *m = userdata;
        static char buf[64];
        _cleanup_free_ char *modalias = NULL;
        const char *v;

        if (vfio_variants_count(m->variants) == 0 ||
            sysfs_device_read_attr(m->sysfs, SYSFS_BUS_PCI, d->name, "modalias", &modalias) < 0)
                return NULL;
        v = vfio_variants_lookup(m->variants, modalias);
        if (!v)
                return NULL;
        snprintf(buf, sizeof(buf), "%s", v);
        return buf;
}

/* {group, devices: [{name, action, driver, originalDriver}]}: the group's
 * PCI functions as sysfs shows them now. */
static json_object *report(Manager *m, uint32_t group, const RebindPlan *plan, bool restore) {
        const Group *g = registry_get_group(m->registry, group);
        json_object *o = json_object_new_object(), *a = json_object_new_array();

        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                return NULL;
        }
        for (size_t i = 0; g && i < g->n_members; i++) {
                const Device *d = g->members[i];
                const RebindStep *step = NULL;
                _cleanup_free_ char *drv = NULL;
                json_object *e;

                if (d->kind != DEVICE_PCI)
                        continue;
                for (size_t k = 0; plan && k < plan->n; k++)
                        if (strcmp(plan->steps[k].name, d->name) == 0)
                                step = &plan->steps[k];
                (void) sysfs_pci_driver(m->sysfs, &d->address, &drv);
                e = json_object_new_object();
                json_object_object_add(e, "name", json_object_new_string(d->name));
                json_object_object_add(e, "action", json_object_new_string(
                        step ? (restore ? "restored" : "rebound") : device_is_bridge(d) ? "bridge" : "unchanged"));
                json_object_object_add(e, "driver", drv ? json_object_new_string(drv) : NULL);
                json_object_object_add(e, "previousDriver",
                                       step && step->from_driver ? json_object_new_string(step->from_driver) : NULL);
                json_object_array_add(a, e);
        }
        json_object_object_add(o, "group", json_object_new_int64(group));
        json_object_object_add(o, "devices", a);
        return o;
}

static void reply(Manager *m, const ManagerError *err, json_object *result, ManagerRebindDone done, void *userdata) {
        done(m, err, result, userdata);
        json_object_put(result);
}

/* One record per device moved: who asked, or the lease the group is
 * being claimed for or was released by. */
static void audit_moved(Manager *m, const ManagerJob *mj, const RebindStep *step) {
        ManagerError claim = { .group = -1 };
        ProcessInfo holder;
        bool claimed = manager_group_is_claimed(m, mj->group, &claim);
        const char *device = step->name;
        char line[256];

        holder = (ProcessInfo) { .pid = claim.pid, .uid = claim.uid };
        snprintf(holder.comm, sizeof(holder.comm), "%s", claim.command);
        snprintf(line, sizeof(line), "%s: %s %s -> %s", mj->restore ? "restore" : "prepare", step->name,
                 step->from_driver ? step->from_driver : "(none)", step->to_driver ? step->to_driver : "(none)");
        audit_log(&(AuditEvent) {
                .type = mj->restore ? AUDIT_DEVICE_RESTORED : AUDIT_DEVICE_PREPARED,
                .message = line,
                .devices = &device,
                .n_devices = 1,
                .groups = &mj->group,
                .n_groups = 1,
                .lease = claimed ? claim.lease : NULL,
                .process = mj->has_who ? &mj->who : claimed && holder.pid > 0 ? &holder : NULL,
                .driver = step->to_driver,
                .previous_driver = step->from_driver,
        });
}

static void job_done(RebindJob *j, const RebindJobResult *res, void *userdata) {
        ManagerJob *mj = userdata;
        Manager *m = mj->manager;
        const RebindPlan *plan = rebind_job_get_plan(j);
        ManagerError err = { .group = mj->group };
        const char *what = mj->restore ? "restore" : "prepare";

        hashmap_remove(m->jobs, mj->key);
        /* The kernel's part is over: a stop waits on for whoever called
         * (a claim has work of its own), not for this job. */
        manager_work_end(m, mj->work);
        mj->work = NULL;
        if (res->error >= 0) {
                for (size_t i = 0; i < plan->n; i++) {
                        const Device *d;

                        if (mj->restore)
                                (void) prepared_store_remove(m->prepared, plan->steps[i].name);
                        registry_invalidate_json(m->registry, plan->steps[i].name);
                        /* The last uevent was seen with the record as it
                         * was; say what is true now. */
                        d = registry_get_device(m->registry, plan->steps[i].name);
                        if (d)
                                manager_notify_device_changed(m, d);
                        audit_moved(m, mj, &plan->steps[i]);
                }
                reply(m, NULL, report(m, mj->group, plan, mj->restore), mj->done, mj->userdata);
                manager_job_free(mj);
                return;
        }

        /* Failed.  A prepare that was rolled back leaves no device prepared;
         * steps after the failed one were never touched either way.  A
         * restore keeps its records: rolled back, the devices are on VFIO
         * again; not, the records still say where they belong. */
        if (!mj->restore)
                for (size_t i = 0; i < plan->n; i++)
                        if (res->rolled_back || i > res->failed_step) {
                                const Device *d;

                                (void) prepared_store_remove(m->prepared, plan->steps[i].name);
                                registry_invalidate_json(m->registry, plan->steps[i].name);
                                d = registry_get_device(m->registry, plan->steps[i].name);
                                if (d)
                                        manager_notify_device_changed(m, d);
                        }
        snprintf(err.device, sizeof(err.device), "%s", plan->steps[res->failed_step].name);
        snprintf(err.message, sizeof(err.message), "%s", res->message);
        err.rolled_back = res->rolled_back;
        snprintf(err.rollback_message, sizeof(err.rollback_message), "%s", res->rollback_message);
        if (res->error == -EBUSY && res->holder.pid > 0) {
                err.name = "DeviceInUse";
                err.pid = res->holder.pid;
                snprintf(err.command, sizeof(err.command), "%s", res->holder.comm);
                snprintf(err.node, sizeof(err.node), "%s", res->holder.path);
        } else
                err.name = "RebindFailed";
        log_warning("Failed to %s IOMMU group %u: %s; %s%s", what, mj->group, res->message,
                    res->rolled_back ? "every device was put back" : "rollback incomplete: ",
                    res->rolled_back ? "" : res->rollback_message);
        reply(m, &err, NULL, mj->done, mj->userdata);
        manager_job_free(mj);
}

/* The targets named (all in one group), or the group's PCI functions. */
static int resolve(Manager *m, const char *const *names, size_t n, int64_t group, const Group **ret_group,
                   const Device ***ret_targets, size_t *ret_n, ManagerError *err) {
        _cleanup_free_ const Device **t = NULL;
        const Group *g = NULL;
        size_t k = 0;

        if (n == 0) {
                if (group < 0 || group > UINT32_MAX || !(g = registry_get_group(m->registry, (uint32_t) group))) {
                        err->group = group;
                        manager_set_error(err, "NoSuchGroup", NULL, "there is no IOMMU group %lld", (long long) group);
                        return -ENOENT;
                }
                t = calloc(g->n_members + 1, sizeof(*t));
                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < g->n_members; i++)
                        if (g->members[i]->kind == DEVICE_PCI && !device_is_bridge(g->members[i]))
                                t[k++] = g->members[i];
        } else {
                t = calloc(n, sizeof(*t));
                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        const Device *d = registry_get_device(m->registry, names[i]);
                        const Group *dg;

                        if (!d) {
                                manager_set_error(err, "NoSuchDevice", names[i], "there is no device %s", names[i]);
                                return -ENOENT;
                        }
                        if (d->kind != DEVICE_PCI) {
                                manager_set_error(err, "NotPreparable", d->name,
                                          "%s is an mdev: it is created on its VFIO driver and needs no preparing",
                                          d->name);
                                return -EINVAL;
                        }
                        if (device_is_bridge(d)) {
                                manager_set_error(err, "NotPreparable", d->name,
                                          "%s is a PCI bridge or port: iommud never moves those", d->name);
                                return -EINVAL;
                        }
                        if (d->iommu_group < 0) {
                                manager_set_error(err, "NoIommuGroup", d->name,
                                          "%s has no IOMMU group (no IOMMU, or it is off): it cannot be assigned",
                                          d->name);
                                return -EINVAL;
                        }
                        dg = registry_get_group(m->registry, (uint32_t) d->iommu_group);
                        if (g && dg != g) {
                                manager_set_error(err, "NotPreparable", d->name,
                                          "%s is in IOMMU group %lld, %s in group %u: prepare one group at a time",
                                          d->name, (long long) d->iommu_group, t[0]->name, g->id);
                                return -EINVAL;
                        }
                        g = dg;
                        t[k++] = d;
                }
        }
        err->group = g->id;
        *ret_group = g;
        *ret_targets = TAKE_PTR(t);
        *ret_n = k;
        return 0;
}

/* resolve(), refused when a job runs on the group, and on the group as
 * sysfs has it now: uevents of a bind that
 * just happened may still be on their way, and a plan made on the old
 * state would miss a peer that has just been bound.  The registry is
 * refreshed and the names resolved again (the refresh may have replaced
 * the Device objects). */
static int resolve_fresh(Manager *m, const char *const *names, size_t n, int64_t group, bool claimed_ok,
                         const Group **ret_group, const Device ***ret_targets, size_t *ret_n, ManagerError *err) {
        _cleanup_free_ const Device **t = NULL;
        const Group *g;
        size_t k;
        int r;

        r = resolve(m, names, n, group, &g, &t, &k, err);
        if (r < 0)
                return r;
        /* One job per group: a second would race the first's writes. */
        if (hashmap_get(m->jobs, g->key)) {
                manager_set_error(err, "Busy", NULL, "IOMMU group %u is being prepared or restored already", g->id);
                return -EBUSY;
        }
        /* A group a lease has (or is getting, or just gave back) is the
         * lease's: moving its devices would pull them from under a VM. */
        if (!claimed_ok && manager_group_is_claimed(m, g->id, err))
                return -EBUSY;
        scanner_refresh_group(m->scanner, g->id);
        return resolve(m, names, n, group, ret_group, ret_targets, ret_n, err);
}

static int start(Manager *m, const ProcessInfo *who, bool restore, const Group *g, RebindPlan *plan,
                 ManagerRebindDone done, void *userdata) {
        ManagerJob *mj = calloc(1, sizeof(*mj));
        int r;

        if (!mj) {
                rebind_plan_free(plan);
                return -ENOMEM;
        }
        mj->manager = m;
        mj->restore = restore;
        mj->group = g->id;
        if (who) {
                mj->who = *who;
                mj->has_who = true;
        }
        mj->done = done;
        mj->userdata = userdata;
        snprintf(mj->key, sizeof(mj->key), "%u", g->id);
        mj->work = manager_work_begin(m, "%s of IOMMU group %u (%zu device%s)", restore ? "restore" : "prepare", g->id,
                                      plan->n, plan->n == 1 ? "" : "s");
        r = rebind_job_start(m->event, m->sysfs, m->proc_root, plan, &m->timeouts, job_done, mj, &mj->job);
        if (r < 0) {
                manager_work_end(m, mj->work);
                free(mj);
                return r;
        }
        r = hashmap_put(m->jobs, mj->key, mj);
        if (r < 0) {
                manager_job_free(mj);
                return r;
        }
        return 0;
}

static int prepare_impl(Manager *m, const ProcessInfo *who, const char *const *names, size_t n, int64_t group,
                        bool claimed_ok, ManagerRebindDone done, void *userdata) {
        _cleanup_(rebind_plan_freep) RebindPlan *plan = NULL;
        _cleanup_free_ const Device **targets = NULL;
        ManagerError err = { .group = group };
        const Group *g;
        char reason[512];
        size_t nt;
        int r;

        r = resolve_fresh(m, names, n, group, claimed_ok, &g, &targets, &nt, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                goto refuse;
        /* Decide on what the host needs now, not at the last change. */
        manager_guard_refresh(m);
        for (size_t i = 0; i < nt; i++)
                if (!manager_policy_verdict(m, targets[i], reason, sizeof(reason))) {
                        manager_set_error(&err, "NotAllowed", targets[i]->name, "%s: %s", targets[i]->name, reason);
                        goto refuse;
                }
        r = rebind_plan_prepare(g, targets, nt, variant_for, m, &plan);
        if (r < 0)
                return r;
        /* Every device that would move must be allowed, the peers that
         * block the group included: preparing is taking them from the host. */
        for (size_t i = 0; i < plan->n; i++) {
                const Device *d = registry_get_device(m->registry, plan->steps[i].name);
                if (d && !manager_policy_verdict(m, d, reason, sizeof(reason))) {
                        manager_set_error(&err, "NotAllowed", d->name,
                                  "%s shares IOMMU group %u and would have to leave %s, but %s", d->name, g->id,
                                  d->driver ? d->driver : "its driver", reason);
                        goto refuse;
                }
        }
        if (plan->n == 0) {
                reply(m, NULL, report(m, g->id, NULL, false), done, userdata);
                return 0;
        }
        /* The record first: a crash from here on leaves it for the next start. */
        for (size_t i = 0; i < plan->n; i++) {
                r = prepared_store_put(m->prepared, plan->steps[i].name, plan->steps[i].from_driver,
                                       plan->steps[i].from_override);
                if (r < 0) {
                        for (size_t k = 0; k < i; k++)
                                (void) prepared_store_remove(m->prepared, plan->steps[k].name);
                        manager_set_error(&err, "RebindFailed", plan->steps[i].name,
                                  "cannot record the original driver of %s in %s: %s; nothing was changed",
                                  plan->steps[i].name, m->state_dir, strerror(-r));
                        err.rolled_back = true;
                        goto refuse;
                }
        }
        log_info("Preparing IOMMU group %u: %zu devices to move", g->id, plan->n);
        return start(m, who, false, g, TAKE_PTR(plan), done, userdata);

refuse:
        log_info("Refused to prepare: %s", err.message);
        done(m, &err, NULL, userdata);
        return 0;
}

static int restore_impl(Manager *m, const ProcessInfo *who, const char *const *names, size_t n, int64_t group,
                        bool claimed_ok, ManagerRebindDone done, void *userdata) {
        _cleanup_(rebind_plan_freep) RebindPlan *plan = calloc(1, sizeof(*plan));
        _cleanup_free_ const Device **targets = NULL;
        ManagerError err = { .group = group };
        const Group *g;
        size_t nt;
        int r;

        if (!plan)
                return -ENOMEM;
        r = resolve_fresh(m, names, n, group, claimed_ok, &g, &targets, &nt, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                goto refuse;
        for (size_t i = 0; i < nt; i++) {
                const Device *d = targets[i];
                const PreparedRecord *rec = prepared_store_get(m->prepared, d->name);

                if (!rec && d->driver && device_driver_is_vfio(d->driver) &&
                    config_match(&m->config->reserve, d, NULL)) {
                        /* Reserved at boot by our own policy: its host
                         * driver was never known, so let the kernel pick
                         * one.  (The next boot reserves it again.) */
                        r = rebind_plan_add_reprobe(plan, d->name, d->driver, d->driver_override);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!rec) {
                        /* On a VFIO driver without our record: somebody
                         * else put it there and may be using it. */
                        if (n > 0 && d->driver && device_driver_manages_dma(d->driver) &&
                            strcmp(d->driver, "pcieport") != 0) {
                                manager_set_error(&err, "NotPrepared", d->name,
                                          "%s is on %s, but iommud did not put it there (libvirt, driverctl or an "
                                          "admin did): give it back the way it was taken",
                                          d->name, d->driver);
                                goto refuse;
                        }
                        continue;
                }
                r = rebind_plan_add(plan, d->name, d->driver, d->driver_override, rec->driver, rec->driver_override);
                if (r < 0)
                        return r;
        }
        if (plan->n == 0) {
                reply(m, NULL, report(m, g->id, NULL, true), done, userdata);
                return 0;
        }
        log_info("Restoring IOMMU group %u: %zu devices to move", g->id, plan->n);
        return start(m, who, true, g, TAKE_PTR(plan), done, userdata);

refuse:
        log_info("Refused to restore: %s", err.message);
        done(m, &err, NULL, userdata);
        return 0;
}

int manager_prepare(Manager *m, const char *const *names, size_t n, int64_t group, ManagerRebindDone done,
                    void *userdata) {
        return prepare_impl(m, NULL, names, n, group, false, done, userdata);
}

int manager_restore(Manager *m, const char *const *names, size_t n, int64_t group, ManagerRebindDone done,
                    void *userdata) {
        return restore_impl(m, NULL, names, n, group, false, done, userdata);
}

int manager_rebind_for(Manager *m, const ProcessInfo *who, bool restore, const char *const *names, size_t n,
                       int64_t group, ManagerRebindDone done, void *userdata) {
        return (restore ? restore_impl : prepare_impl)(m, who, names, n, group, false, done, userdata);
}

int manager_prepare_claimed(Manager *m, const char *const *names, size_t n, ManagerRebindDone done, void *userdata) {
        return prepare_impl(m, NULL, names, n, -1, true, done, userdata);
}

int manager_restore_claimed(Manager *m, const char *const *names, size_t n, ManagerRebindDone done,
                            void *userdata) {
        return restore_impl(m, NULL, names, n, -1, true, done, userdata);
}

/* ---- GetPolicy ---- */

static json_object *rules_json(const Config *c) {
        static const struct {
                const char *name;
                size_t off;
        } sections[] = {
                { "Assignable", offsetof(Config, assignable) },
                { "Managed", offsetof(Config, managed) },
                { "Reserve", offsetof(Config, reserve) },
        };
        json_object *a = json_object_new_array();
        char buf[128];

        for (size_t s = 0; a && s < ELEMENTSOF(sections); s++) {
                const ConfigMatchSet *set = (const ConfigMatchSet *) ((const char *) c + sections[s].off);
                for (size_t i = 0; i < set->n; i++) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "section", json_object_new_string(sections[s].name));
                        json_object_object_add(o, "line", json_object_new_int64(set->matches[i].line));
                        json_object_object_add(o, "rule", json_object_new_string(
                                config_match_to_string(&set->matches[i], buf, sizeof(buf))));
                        json_object_array_add(a, o);
                }
        }
        return a;
}

json_object *manager_policy(Manager *m) {
        _cleanup_free_ const Device **list = NULL;
        json_object *o = json_object_new_object(), *a;
        size_t n = 0;
        char reason[512];

        if (!o || registry_list_devices(m->registry, &list, &n) < 0) {
                json_object_put(o);
                return NULL;
        }
        json_object_object_add(o, "config", json_object_new_string(m->config->path));
        json_object_object_add(o, "configFound", json_object_new_boolean(m->config->found));
        json_object_object_add(o, "rules", rules_json(m->config));
        a = json_object_new_array_ext((int) n);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_new_object();
                bool ok = manager_policy_verdict(m, list[i], reason, sizeof(reason));
                json_object_object_add(e, "name", json_object_new_string(list[i]->name));
                json_object_object_add(e, "allowed", json_object_new_boolean(ok));
                json_object_object_add(e, "reason", json_object_new_string(reason));
                manager_annotate_device(m, list[i], e);
                json_object_array_add(a, e);
        }
        json_object_object_add(o, "devices", a);
        return o;
}
