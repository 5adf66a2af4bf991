/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rebind.h"
#include "shared/macro.h"
#include "sysfs-write.h"

#define DEFAULT_TIMEOUT_USEC (10 * 1000000ULL)

extern char **environ;

/* ---- plans ---- */

static void step_clear(RebindStep *s) {
        free(s->from_driver);
        free(s->from_override);
        free(s->to_driver);
        free(s->to_override);
}

RebindPlan *rebind_plan_free(RebindPlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n; i++)
                step_clear(&p->steps[i]);
        free(p->steps);
        free(p);
        return NULL;
}

void rebind_plan_freep(RebindPlan **p) {
        rebind_plan_free(*p);
}

static int dup_name(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        if (!sysfs_name_is_valid(s) || strlen(s) >= REBIND_DRIVER_MAX)
                return -EINVAL;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int rebind_plan_add(RebindPlan *p, const char *name, const char *from_driver, const char *from_override,
                    const char *to_driver, const char *to_override) {
        char canon[PCI_ADDRESS_STRING_MAX];
        RebindStep s = { .from_driver = NULL }, *n;
        int r;

        if (pci_address_canonicalize(name, canon) < 0 || strcmp(canon, name) != 0)
                return -EINVAL;
        memcpy(s.name, canon, sizeof(canon));
        if ((r = dup_name(from_driver, &s.from_driver)) < 0 || (r = dup_name(from_override, &s.from_override)) < 0 ||
            (r = dup_name(to_driver, &s.to_driver)) < 0 || (r = dup_name(to_override, &s.to_override)) < 0) {
                step_clear(&s);
                return r;
        }
        n = realloc(p->steps, (p->n + 1) * sizeof(*n));
        if (!n) {
                step_clear(&s);
                return -ENOMEM;
        }
        p->steps = n;
        p->steps[p->n++] = s;
        return 0;
}

int rebind_plan_prepare(const Group *g, const Device *const *targets, size_t n_targets, RebindVariantFn variant,
                        void *userdata, RebindPlan **ret) {
        _cleanup_(rebind_plan_freep) RebindPlan *p = calloc(1, sizeof(*p));
        int r;

        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < g->n_members; i++) {
                const Device *d = g->members[i];
                const char *to;
                bool target = false;

                for (size_t k = 0; k < n_targets; k++)
                        target = target || targets[k] == d;
                if (d->kind != DEVICE_PCI || device_is_bridge(d) || device_driver_is_vfio(d->driver) ||
                    (d->driver && strcmp(d->driver, "pci-stub") == 0))
                        continue;
                if (!target && !device_blocks_group(d, NULL))
                        continue;
                to = variant ? variant(d, userdata) : NULL;
                if (!to)
                        to = "vfio-pci";
                r = rebind_plan_add(p, d->name, d->driver, d->driver_override, to, to);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

int rebind_plan_add_reprobe(RebindPlan *p, const char *name, const char *from_driver, const char *from_override) {
        int r = rebind_plan_add(p, name, from_driver, from_override, NULL, NULL);
        if (r >= 0)
                p->steps[p->n - 1].reprobe = true;
        return r;
}

int rebind_plan_reverse(const RebindPlan *p, size_t n, RebindPlan **ret) {
        _cleanup_(rebind_plan_freep) RebindPlan *q = calloc(1, sizeof(*q));
        int r;

        if (!q)
                return -ENOMEM;
        if (n > p->n)
                n = p->n;
        for (size_t i = n; i > 0; i--) {
                const RebindStep *s = &p->steps[i - 1];
                r = rebind_plan_add(q, s->name, s->to_driver, s->to_override, s->from_driver, s->from_override);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(q);
        return 0;
}

/* ---- the job ---- */

typedef enum Phase {
        PHASE_OVERRIDE,         /* write driver_override */
        PHASE_UNBIND,           /* unbind from the current driver */
        PHASE_LOAD,             /* make sure the target driver is loaded */
        PHASE_PROBE,            /* drivers_probe */
        PHASE_WAIT,             /* wait for the bind */
        PHASE_NEXT,
} Phase;

struct RebindJob {
        sd_event *event;
        Sysfs *sysfs;
        char *proc;
        RebindPlan *plan;
        RebindPlan *rollback;
        bool rolling_back;
        size_t index;
        Phase phase;
        RebindTimeouts t;
        SysfsWrite *write;
        sd_event_source *defer;
        sd_event_source *timer;         /* the bind deadline */
        sd_event_source *child;         /* modprobe */
        bool waiting;
        bool loaded_tried;
        RebindJobResult result;
        RebindJobDone done;
        void *userdata;
};

static void advance(RebindJob *j);

/* fail() and leave advance(). */
#define FAIL(...) do { fail(__VA_ARGS__); return; } while (0)

static RebindPlan *current_plan(RebindJob *j) {
        return j->rolling_back ? j->rollback : j->plan;
}

static void finish(RebindJob *j) {
        RebindJobDone done = j->done;

        j->done = NULL;
        if (done)
                done(j, &j->result, j->userdata);
}

/* A deadline for people: "10 s", or "300 ms" when not whole seconds. */
static const char *format_timeout(uint64_t usec, char buf[static 32]) {
        if (usec % 1000000 == 0)
                snprintf(buf, 32, "%llu s", (unsigned long long) (usec / 1000000));
        else
                snprintf(buf, 32, "%llu ms", (unsigned long long) (usec / 1000));
        return buf;
}

_printf_(3, 4) static void fail(RebindJob *j, int error, const char *fmt, ...) {
        va_list ap;

        j->waiting = false;
        j->timer = sd_event_source_disable_unref(j->timer);
        if (!j->rolling_back) {
                j->result.error = error;
                j->result.failed_step = j->index;
                va_start(ap, fmt);
                vsnprintf(j->result.message, sizeof(j->result.message), fmt, ap);
                va_end(ap);
                j->result.rolled_back = true;
                /* The failed step is undone too, unless it failed at its
                 * first write (driver_override) and so changed nothing:
                 * repeating that write would only fail again and report
                 * a group that is where it was as not rolled back.  A
                 * write that timed out may still land: undo it. */
                if (rebind_plan_reverse(j->plan,
                                        j->index + (j->phase == PHASE_OVERRIDE && error != -ETIMEDOUT ? 0 : 1),
                                        &j->rollback) < 0) {
                        j->result.rolled_back = false;
                        snprintf(j->result.rollback_message, sizeof(j->result.rollback_message),
                                 "out of memory planning the rollback");
                        finish(j);
                        return;
                }
                j->rolling_back = true;
                j->index = 0;
                j->phase = PHASE_OVERRIDE;
        } else {
                /* Best effort: note the first failure, go on with the rest. */
                if (j->result.rolled_back) {
                        va_start(ap, fmt);
                        vsnprintf(j->result.rollback_message, sizeof(j->result.rollback_message), fmt, ap);
                        va_end(ap);
                }
                j->result.rolled_back = false;
                j->index++;
                j->phase = PHASE_OVERRIDE;
        }
        advance(j);
}

static void on_write(SysfsWrite *w, int result, void *userdata) {
        RebindJob *j = userdata;
        const RebindStep *s = &current_plan(j)->steps[j->index];
        static const char *const what[] = {
                [PHASE_OVERRIDE] = "set driver_override of",
                [PHASE_UNBIND] = "unbind",
                [PHASE_PROBE] = "probe",
        };
        Phase p = j->phase;
        char t[32];

        j->write = sysfs_write_free(j->write);
        if (result == -ETIMEDOUT) {
                fail(j, -ETIMEDOUT, "%s %s: the kernel did not finish the write within %s", what[p], s->name,
                     format_timeout(j->t.write_usec, t));
                return;
        }
        /* drivers_probe answers a failed probe with the probe's error;
         * what counts is whether the driver bound, which PHASE_WAIT
         * checks. */
        if (result < 0 && p != PHASE_PROBE) {
                fail(j, result, "%s %s: %s", what[p], s->name, strerror(-result));
                return;
        }
        j->phase = p == PHASE_OVERRIDE ? PHASE_UNBIND : p == PHASE_UNBIND ? PHASE_LOAD : PHASE_WAIT;
        advance(j);
}

static int start_write(RebindJob *j, const char *dir, const char *attr, const char *value) {
        _cleanup_close_ int fd = sysfs_open_at(j->sysfs, dir, O_PATH | O_DIRECTORY);
        if (fd < 0)
                return fd;
        return sysfs_write_start(j->event, fd, attr, value, j->t.write_usec, on_write, j, &j->write);
}

static int on_bind_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        RebindJob *j = userdata;
        const RebindStep *s = &current_plan(j)->steps[j->index];
        char t[32];

        fail(j, -ETIMEDOUT, "%s did not bind to %s within %s", s->name, s->to_driver, format_timeout(j->t.bind_usec, t));
        return 0;
}

static int on_modprobe(sd_event_source *src, const siginfo_t *si, void *userdata) {
        RebindJob *j = userdata;
        j->child = sd_event_source_disable_unref(j->child);
        advance(j);
        return 0;
}

/* The driver directory exists, or modprobe was asked once to load it;
 * 1 when the caller must wait for modprobe. */
static int ensure_driver(RebindJob *j, const char *driver) {
        char path[32 + REBIND_DRIVER_MAX];
        char *argv[] = { (char *) "modprobe", (char *) "-q", (char *) "--", (char *) driver, NULL };
        pid_t pid;
        int r;

        snprintf(path, sizeof(path), "bus/pci/drivers/%s", driver);
        if (sysfs_exists(j->sysfs, path) > 0 || j->loaded_tried)
                return 0;
        j->loaded_tried = true;
        r = -posix_spawn(&pid, "/sbin/modprobe", NULL, NULL, argv, environ);
        if (r < 0)
                return 0;       /* then the bind will not happen, and say so */
        r = sd_event_add_child(j->event, &j->child, pid, WEXITED, on_modprobe, j);
        if (r < 0) {
                (void) waitpid(pid, NULL, 0);
                return 0;
        }
        return 1;
}

/* The VFIO nodes of @name: its cdev and its group's node, when they exist. */
static size_t node_paths(RebindJob *j, const char *name, char cdev_path[static 64], char group_path[static 32],
                         const char *paths[static 2]) {
        _cleanup_free_ char *cdev = NULL;
        PciAddress a;
        uint32_t group;
        size_t n = 0;

        (void) pci_address_parse(name, &a);
        if (sysfs_device_dir_entry(j->sysfs, SYSFS_BUS_PCI, name, "vfio-dev", "vfio", &cdev) >= 0) {
                snprintf(cdev_path, 64, "/dev/vfio/devices/%s", cdev);
                paths[n++] = cdev_path;
        }
        if (sysfs_pci_iommu_group(j->sysfs, &a, &group) >= 0) {
                snprintf(group_path, 32, "/dev/vfio/%u", group);
                paths[n++] = group_path;
        }
        return n;
}

/* One step's nodes (used on the way back, for devices this job bound). */
static int held_check(RebindJob *j, const RebindStep *s) {
        char cdev_path[64], group_path[32];
        const char *paths[2];
        size_t n = node_paths(j, s->name, cdev_path, group_path, paths);
        int r = holders_find(j->proc, paths, n, getpid(), &j->result.holder);

        if (r < 0)
                return r;
        return r > 0 ? -EBUSY : 0;
}

/* Before anything is touched: does anybody hold a VFIO node of a device
 * the plan takes off a VFIO driver?  One walk of /proc for the whole
 * plan (it reads every fd of every process, the costliest part of a
 * Restore), and a refusal with nothing changed.  Returns the index of the
 * held step, -1 when none is, or -errno. */
static ssize_t held_check_plan(RebindJob *j) {
        size_t n = j->plan->n, k = 0;
        _cleanup_free_ char (*cdevs)[64] = calloc(n, sizeof(*cdevs));
        _cleanup_free_ char (*groups)[32] = calloc(n, sizeof(*groups));
        _cleanup_free_ const char **paths = calloc(2 * n, sizeof(*paths));
        _cleanup_free_ size_t *owner = calloc(2 * n, sizeof(*owner));
        int r;

        if (!cdevs || !groups || !paths || !owner)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const RebindStep *s = &j->plan->steps[i];
                _cleanup_free_ char *cur = NULL;
                PciAddress a;
                const char *two[2];
                size_t m;

                (void) pci_address_parse(s->name, &a);
                if (sysfs_pci_driver(j->sysfs, &a, &cur) < 0 || !device_driver_is_vfio(cur) ||
                    (s->to_driver && strcmp(cur, s->to_driver) == 0))
                        continue;
                m = node_paths(j, s->name, cdevs[i], groups[i], two);
                for (size_t x = 0; x < m; x++) {
                        paths[k] = two[x];
                        owner[k++] = i;
                }
        }
        r = holders_find(j->proc, paths, k, getpid(), &j->result.holder);
        if (r <= 0)
                return r < 0 ? r : -1;
        for (size_t x = 0; x < k; x++)
                if (strcmp(paths[x], j->result.holder.path) == 0)
                        return (ssize_t) owner[x];
        return 0;
}

static void advance(RebindJob *j) {
        for (;;) {
                RebindPlan *p = current_plan(j);
                const RebindStep *s;
                _cleanup_free_ char *cur = NULL;
                PciAddress a;
                char dir[64];
                int r;

                if (j->index >= p->n) {
                        finish(j);
                        return;
                }
                s = &p->steps[j->index];
                (void) pci_address_parse(s->name, &a);
                snprintf(dir, sizeof(dir), "bus/pci/devices/%s", s->name);

                switch (j->phase) {
                case PHASE_OVERRIDE:
                        r = start_write(j, dir, "driver_override", s->to_override ? s->to_override : "\n");
                        if (r < 0)
                                FAIL(j, r == -ENOENT ? -ENODEV : r, "set driver_override of %s: %s",
                                            s->name, strerror(-r));
                        return;

                case PHASE_UNBIND:
                        r = sysfs_pci_driver(j->sysfs, &a, &cur);
                        if (r == -ENOENT || (r >= 0 && s->to_driver && strcmp(cur, s->to_driver) == 0)) {
                                j->phase = PHASE_LOAD;
                                continue;
                        }
                        if (r < 0)
                                FAIL(j, r, "read the driver of %s: %s", s->name, strerror(-r));
                        /* Forward steps were checked all at once
                         * before the job began (held_check_plan()); on
                         * the way back, the devices this job bound are
                         * checked one by one. */
                        if (j->rolling_back && device_driver_is_vfio(cur)) {
                                r = held_check(j, s);
                                if (r == -EBUSY)
                                        FAIL(j, -EBUSY, "%s is in use: %s (pid %d) holds %s", s->name,
                                                    j->result.holder.comm, (int) j->result.holder.pid,
                                                    j->result.holder.path);
                                if (r < 0)
                                        FAIL(j, r, "cannot tell who holds %s: %s", s->name, strerror(-r));
                        }
                        if (!sysfs_name_is_valid(cur))
                                FAIL(j, -EINVAL, "%s: driver name '%s' is not valid", s->name, cur);
                        snprintf(dir, sizeof(dir), "bus/pci/drivers/%s", cur);
                        r = start_write(j, dir, "unbind", s->name);
                        if (r < 0)
                                FAIL(j, r, "unbind %s from %s: %s", s->name, cur, strerror(-r));
                        return;

                case PHASE_LOAD:
                        if (!s->to_driver) {
                                j->phase = s->reprobe ? PHASE_PROBE : PHASE_NEXT;
                                continue;
                        }
                        if (ensure_driver(j, s->to_driver) > 0)
                                return;         /* on_modprobe() comes back here */
                        j->phase = PHASE_PROBE;
                        continue;

                case PHASE_PROBE:
                        r = sysfs_pci_driver(j->sysfs, &a, &cur);
                        if (r >= 0 && s->to_driver && strcmp(cur, s->to_driver) == 0) {
                                j->phase = PHASE_NEXT;
                                continue;
                        }
                        r = start_write(j, "bus/pci", "drivers_probe", s->name);
                        if (r < 0)
                                FAIL(j, r, "probe %s: %s", s->name, strerror(-r));
                        return;

                case PHASE_WAIT:
                        if (!s->to_driver) {
                                /* A reprobe: whichever driver the kernel
                                 * picked, or none, is where it belongs. */
                                j->phase = PHASE_NEXT;
                                continue;
                        }
                        r = sysfs_pci_driver(j->sysfs, &a, &cur);
                        if (r >= 0 && strcmp(cur, s->to_driver) == 0) {
                                j->waiting = false;
                                j->timer = sd_event_source_disable_unref(j->timer);
                                j->phase = PHASE_NEXT;
                                continue;
                        }
                        if (r >= 0)
                                FAIL(j, -EIO, "%s bound to %s instead of %s", s->name, cur, s->to_driver);
                        if (r != -ENOENT)
                                FAIL(j, r, "read the driver of %s: %s", s->name, strerror(-r));
                        if (sysfs_exists(j->sysfs, dir) <= 0)
                                FAIL(j, -ENODEV, "%s went away", s->name);
                        if (!j->waiting) {
                                uint64_t now;
                                j->waiting = true;
                                r = sd_event_now(j->event, CLOCK_MONOTONIC, &now);
                                if (r >= 0)
                                        r = sd_event_add_time(j->event, &j->timer, CLOCK_MONOTONIC,
                                                              now + j->t.bind_usec, 10 * 1000, on_bind_timeout, j);
                                if (r < 0)
                                        FAIL(j, r, "wait for %s: %s", s->name, strerror(-r));
                        }
                        return;         /* rebind_job_device_changed() or the timer */

                case PHASE_NEXT:
                        j->index++;
                        j->phase = PHASE_OVERRIDE;
                        j->loaded_tried = false;
                        continue;
                }
        }
}

static int on_defer(sd_event_source *src, void *userdata) {
        RebindJob *j = userdata;
        ssize_t held;

        j->defer = sd_event_source_disable_unref(j->defer);
        held = held_check_plan(j);
        if (held >= 0 || held < -1) {
                /* Refused before anything was touched: nothing to undo. */
                j->result.error = held >= 0 ? -EBUSY : (int) held;
                j->result.failed_step = held >= 0 ? (size_t) held : 0;
                j->result.rolled_back = true;
                if (held >= 0)
                        snprintf(j->result.message, sizeof(j->result.message), "%s is in use: %s (pid %d) holds %s",
                                 j->plan->steps[held].name, j->result.holder.comm, (int) j->result.holder.pid,
                                 j->result.holder.path);
                else
                        snprintf(j->result.message, sizeof(j->result.message), "cannot tell who holds the devices: %s",
                                 strerror((int) -held));
                finish(j);
                return 0;
        }
        advance(j);
        return 0;
}

int rebind_job_start(sd_event *e, Sysfs *s, const char *proc, RebindPlan *plan, const RebindTimeouts *t,
                     RebindJobDone done, void *userdata, RebindJob **ret) {
        RebindJob *j = calloc(1, sizeof(*j));
        int r;

        if (!j) {
                rebind_plan_free(plan);
                return -ENOMEM;
        }
        j->event = sd_event_ref(e);
        j->sysfs = s;
        j->plan = plan;
        j->proc = strdup(proc);
        j->done = done;
        j->userdata = userdata;
        j->t.write_usec = t && t->write_usec ? t->write_usec : DEFAULT_TIMEOUT_USEC;
        j->t.bind_usec = t && t->bind_usec ? t->bind_usec : DEFAULT_TIMEOUT_USEC;
        if (!j->proc) {
                rebind_job_free(j);
                return -ENOMEM;
        }
        r = sd_event_add_defer(e, &j->defer, on_defer, j);
        if (r < 0) {
                rebind_job_free(j);
                return r;
        }
        *ret = j;
        return 0;
}

RebindJob *rebind_job_free(RebindJob *j) {
        if (!j)
                return NULL;
        sysfs_write_free(j->write);
        sd_event_source_disable_unref(j->defer);
        sd_event_source_disable_unref(j->timer);
        sd_event_source_disable_unref(j->child);
        rebind_plan_free(j->plan);
        rebind_plan_free(j->rollback);
        sd_event_unref(j->event);
        free(j->proc);
        free(j);
        return NULL;
}

const RebindPlan *rebind_job_get_plan(const RebindJob *j) {
        return j->plan;
}

void rebind_job_device_changed(RebindJob *j, const char *name) {
        if (!j || !j->waiting || j->phase != PHASE_WAIT)
                return;
        if (strcmp(current_plan(j)->steps[j->index].name, name) != 0)
                return;
        advance(j);
}
