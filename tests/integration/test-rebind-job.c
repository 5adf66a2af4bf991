/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * RebindJob end to end against a fake /sys in a temporary directory, with
 * a thread playing the kernel.
 *
 * The tree has what rebind.c and sysfs.c touch: bus/pci/devices/ADDR
 * links to devices/pci0000:00/ADDR, each with driver_override, a driver
 * link and an iommu_group link; bus/pci/drivers/NAME/unbind and
 * bus/pci/drivers_probe.  The kernel thread watches the attribute files
 * with inotify (IN_CLOSE_WRITE) and applies each write as Linux does:
 * unbind removes the device's driver link, drivers_probe binds an
 * unbound device to its driver_override's driver, or else to its native
 * driver, and a bind is announced to the main loop, as a uevent would be,
 * through an eventfd the loop passes on to rebind_job_device_changed().
 *
 * Linux applies a sysfs write before write(2) returns; the kernel thread
 * applies it after close(2).  So that the job never sees a write done that
 * the kernel has not applied yet, the main loop runs sd-event by hand and,
 * between waiting and dispatching, waits for the kernel thread to drain
 * its inotify queue (kernel_sync()): a writer thread closes the attribute,
 * queueing its event, before it signals the job, so whatever the loop is
 * about to dispatch, the kernel has already applied.
 *
 * The kernel keeps driver_override in memory, as sysfs does, and empties
 * the file after each write: the writer does not truncate, and a short
 * value written over a longer one could not be told from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <systemd/sd-event.h>

#include "rebind.h"
#include "shared/macro.h"
#include "sysfs-write.h"
#include "sysfs.h"

#define NIC "0000:00:04.0"      /* natively on e1000e */
#define NET "0000:00:05.0"      /* natively on virtio-pci */
#define GROUP 5
#define N_DEVS 2
#define N_DRIVERS 3
#define MAX_WATCHES 16
#define MSEC 1000ULL
#define SEC 1000000ULL

static const char *const drivers[N_DRIVERS] = { "e1000e", "virtio-pci", "vfio-pci" };

/* ---- the kernel ---- */

typedef struct KDev {
        const char *name;
        const char *native;             /* bound by drivers_probe without an override */
        const char *refuse;             /* a driver whose probe fails for it, or NULL */
        unsigned delay_ms;              /* binds this long after drivers_probe */
        char override[REBIND_DRIVER_MAX];       /* "" when unset */
        unsigned unbinds, probes;
        uint64_t bind_due;              /* CLOCK_MONOTONIC µs of a delayed bind, 0 none */
        char pending[REBIND_DRIVER_MAX];
} KDev;

typedef enum WatchKind {
        WATCH_OVERRIDE,
        WATCH_UNBIND,
        WATCH_PROBE,
} WatchKind;

typedef struct Watch {
        int wd;
        WatchKind kind;
        size_t index;                   /* device (OVERRIDE) or driver (UNBIND) */
        char path[PATH_MAX + 64];
} Watch;

typedef struct Kernel {
        char sys[PATH_MAX];
        pthread_t thread;
        bool running;
        int inotify_fd, stop_fd, uevent_fd;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        Watch watches[MAX_WATCHES];
        size_t n_watches;
        KDev dev[N_DEVS];
        unsigned writes;                /* writes applied, all attributes */
        unsigned errors;                /* the thread cannot use cmocka's asserts */
        size_t uevents[64];             /* device indexes, for the loop */
        size_t n_uevents;
} Kernel;

#define KCHECK(k, cond) do { if (!(cond)) (k)->errors++; } while (0)

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void dev_dir(const Kernel *k, size_t i, const char *attr, char *buf, size_t n) {
        snprintf(buf, n, "%s/devices/pci0000:00/%s%s%s", k->sys, k->dev[i].name, attr ? "/" : "", attr ? attr : "");
}

/* The driver link's last component, "" when unbound. */
static void current_driver(Kernel *k, size_t i, char *buf, size_t n) {
        char p[PATH_MAX + 64], t[PATH_MAX];
        ssize_t r;
        const char *base;

        dev_dir(k, i, "driver", p, sizeof(p));
        r = readlink(p, t, sizeof(t) - 1);
        if (r < 0) {
                buf[0] = 0;
                return;
        }
        t[r] = 0;
        base = strrchr(t, '/');
        KCHECK(k, snprintf(buf, n, "%s", base ? base + 1 : t) < (int) n);
}

static ssize_t find_dev(const Kernel *k, const char *name) {
        for (size_t i = 0; i < N_DEVS; i++)
                if (strcmp(k->dev[i].name, name) == 0)
                        return (ssize_t) i;
        return -1;
}

static void bind_now(Kernel *k, size_t i, const char *driver) {
        char p[PATH_MAX + 64], target[128];

        dev_dir(k, i, "driver", p, sizeof(p));
        snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", driver);
        KCHECK(k, symlink(target, p) == 0);
        KCHECK(k, k->n_uevents < ELEMENTSOF(k->uevents));
        if (k->n_uevents < ELEMENTSOF(k->uevents))
                k->uevents[k->n_uevents++] = i;
        KCHECK(k, eventfd_write(k->uevent_fd, 1) == 0);
}

static void apply_probe(Kernel *k, size_t i) {
        KDev *d = &k->dev[i];
        char cur[REBIND_DRIVER_MAX], p[PATH_MAX + 64];
        const char *target = d->override[0] ? d->override : d->native;
        struct stat st;

        d->probes++;
        current_driver(k, i, cur, sizeof(cur));
        if (cur[0] || d->bind_due)
                return;
        if (d->refuse && strcmp(target, d->refuse) == 0)
                return;         /* the driver's probe fails */
        snprintf(p, sizeof(p), "%s/bus/pci/drivers/%s", k->sys, target);
        if (stat(p, &st) < 0)
                return;         /* no such driver (not loaded) */
        if (d->delay_ms > 0) {
                d->bind_due = now_usec() + d->delay_ms * MSEC;
                snprintf(d->pending, sizeof(d->pending), "%s", target);
                return;
        }
        bind_now(k, i, target);
}

static void apply_write(Kernel *k, const Watch *w) {
        char buf[256], cur[REBIND_DRIVER_MAX];
        ssize_t n, i;
        int fd;

        fd = open(w->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        n = read(fd, buf, sizeof(buf) - 1);
        safe_close(fd);
        if (n <= 0)
                return;         /* nothing written since we emptied it */
        buf[n] = 0;
        KCHECK(k, truncate(w->path, 0) == 0);
        k->writes++;

        switch (w->kind) {
        case WATCH_OVERRIDE:
                /* A trailing newline is dropped; nothing left clears it. */
                buf[strcspn(buf, "\n")] = 0;
                KCHECK(k, snprintf(k->dev[w->index].override, sizeof(k->dev[w->index].override), "%s", buf) <
                                  (int) sizeof(k->dev[w->index].override));
                break;
        case WATCH_UNBIND:
                buf[strcspn(buf, "\n")] = 0;
                i = find_dev(k, buf);
                if (i < 0)
                        break;
                current_driver(k, (size_t) i, cur, sizeof(cur));
                if (strcmp(cur, drivers[w->index]) == 0) {
                        char p[PATH_MAX + 64];
                        dev_dir(k, (size_t) i, "driver", p, sizeof(p));
                        KCHECK(k, unlink(p) == 0);
                        k->dev[i].unbinds++;
                }
                break;
        case WATCH_PROBE:
                buf[strcspn(buf, "\n")] = 0;
                i = find_dev(k, buf);
                if (i >= 0)
                        apply_probe(k, (size_t) i);
                break;
        }
}

static void apply_events(Kernel *k) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n;

        while ((n = read(k->inotify_fd, buf, sizeof(buf))) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *) p;
                        for (size_t i = 0; i < k->n_watches; i++)
                                if (k->watches[i].wd == ev->wd && (ev->mask & IN_CLOSE_WRITE))
                                        apply_write(k, &k->watches[i]);
                        p += sizeof(*ev) + ev->len;
                }
}

static void apply_due_binds(Kernel *k, int *timeout_ms) {
        uint64_t now = now_usec();

        *timeout_ms = -1;
        for (size_t i = 0; i < N_DEVS; i++) {
                KDev *d = &k->dev[i];
                if (!d->bind_due)
                        continue;
                if (d->bind_due <= now) {
                        d->bind_due = 0;
                        bind_now(k, i, d->pending);
                        continue;
                }
                int ms = (int) ((d->bind_due - now + MSEC - 1) / MSEC);
                if (*timeout_ms < 0 || ms < *timeout_ms)
                        *timeout_ms = ms;
        }
}

static void *kernel_main(void *userdata) {
        Kernel *k = userdata;
        int timeout_ms = -1;

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = k->inotify_fd, .events = POLLIN },
                        { .fd = k->stop_fd, .events = POLLIN },
                };
                if (poll(p, 2, timeout_ms) < 0 && errno != EINTR)
                        break;
                if (p[1].revents)
                        break;
                /* Read and apply under the lock, so that kernel_sync()
                 * never sees an event gone from the queue but not applied. */
                pthread_mutex_lock(&k->lock);
                apply_events(k);
                apply_due_binds(k, &timeout_ms);
                pthread_cond_broadcast(&k->cond);
                pthread_mutex_unlock(&k->lock);
        }
        return NULL;
}

/* Wait until every write queued so far has been applied. */
static void kernel_sync(Kernel *k) {
        int n;

        pthread_mutex_lock(&k->lock);
        while (ioctl(k->inotify_fd, FIONREAD, &n) == 0 && n > 0)
                pthread_cond_wait(&k->cond, &k->lock);
        pthread_mutex_unlock(&k->lock);
}

static void watch(Kernel *k, const char *path, WatchKind kind, size_t index) {
        Watch *w = &k->watches[k->n_watches];
        struct stat st;

        /* Only regular files: a FIFO planted in a test is for the writer
         * to block on, not for the kernel to read. */
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                return;
        assert_true(k->n_watches < MAX_WATCHES);
        snprintf(w->path, sizeof(w->path), "%s", path);
        w->kind = kind;
        w->index = index;
        w->wd = inotify_add_watch(k->inotify_fd, path, IN_CLOSE_WRITE);
        assert_true(w->wd >= 0);
        k->n_watches++;
}

static void kernel_start(Kernel *k) {
        char p[PATH_MAX + 64];

        k->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(k->inotify_fd >= 0);
        for (size_t i = 0; i < N_DEVS; i++) {
                dev_dir(k, i, "driver_override", p, sizeof(p));
                watch(k, p, WATCH_OVERRIDE, i);
        }
        for (size_t i = 0; i < N_DRIVERS; i++) {
                snprintf(p, sizeof(p), "%s/bus/pci/drivers/%s/unbind", k->sys, drivers[i]);
                watch(k, p, WATCH_UNBIND, i);
        }
        snprintf(p, sizeof(p), "%s/bus/pci/drivers_probe", k->sys);
        watch(k, p, WATCH_PROBE, 0);
        assert_int_equal(pthread_create(&k->thread, NULL, kernel_main, k), 0);
        k->running = true;
}

static void kernel_stop(Kernel *k) {
        if (k->running) {
                assert_int_equal(eventfd_write(k->stop_fd, 1), 0);
                assert_int_equal(pthread_join(k->thread, NULL), 0);
                k->running = false;
        }
        k->inotify_fd = safe_close(k->inotify_fd);
}

/* ---- the fixture ---- */

typedef struct Fixture {
        char tmp[PATH_MAX];
        char proc[PATH_MAX + 8];
        Kernel k;
        Sysfs *sysfs;
        sd_event *event;
        sd_event_source *uevent_source, *guard, *tick;
        RebindJob *job;
        bool done, guard_hit;
        RebindJobResult result;
        unsigned ticks;
} Fixture;

static void mkdirs(const char *root, const char *rel) {
        char p[2 * PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        for (char *s = p + strlen(root) + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        (void) mkdir(p, 0755);
                        *s = '/';
                }
        (void) mkdir(p, 0755);
}

static void put(const char *root, const char *rel, const char *content) {
        char p[2 * PATH_MAX];
        FILE *f;
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        f = fopen(p, "we");
        assert_non_null(f);
        fputs(content, f);
        assert_int_equal(fclose(f), 0);
}

static void link_(const char *root, const char *rel, const char *target) {
        char p[2 * PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        assert_int_equal(symlink(target, p), 0);
}

static void remove_(const char *root, const char *rel) {
        char p[2 * PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        assert_int_equal(unlink(p), 0);
}

static int on_uevent(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Fixture *f = userdata;
        size_t q[ELEMENTSOF(f->k.uevents)], n;
        eventfd_t v;

        (void) eventfd_read(fd, &v);
        pthread_mutex_lock(&f->k.lock);
        n = f->k.n_uevents;
        memcpy(q, f->k.uevents, n * sizeof(q[0]));
        f->k.n_uevents = 0;
        pthread_mutex_unlock(&f->k.lock);
        for (size_t i = 0; i < n; i++)
                rebind_job_device_changed(f->job, f->k.dev[q[i]].name);
        return 0;
}

static int on_guard(sd_event_source *s, uint64_t usec, void *userdata) {
        Fixture *f = userdata;
        f->guard_hit = true;
        return 0;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Fixture *f = userdata;
        if (!f->done)
                f->ticks++;
        (void) sd_event_source_set_time_relative(s, 50 * MSEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        char sys[PATH_MAX + 8], rel[256], target[256];

        assert_non_null(f);
        snprintf(f->tmp, sizeof(f->tmp), "/tmp/iommud-test-rebind-XXXXXX");
        assert_non_null(mkdtemp(f->tmp));
        snprintf(sys, sizeof(sys), "%s/sys", f->tmp);
        snprintf(f->proc, sizeof(f->proc), "%s/proc", f->tmp);
        assert_int_equal(mkdir(sys, 0755), 0);
        assert_int_equal(mkdir(f->proc, 0755), 0);

        f->k = (Kernel) {
                .inotify_fd = -EBADF,
                .dev = {
                        { .name = NIC, .native = "e1000e" },
                        { .name = NET, .native = "virtio-pci" },
                },
        };
        assert_true(snprintf(f->k.sys, sizeof(f->k.sys), "%s", sys) < (int) sizeof(f->k.sys));
        pthread_mutex_init(&f->k.lock, NULL);
        pthread_cond_init(&f->k.cond, NULL);
        f->k.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        f->k.uevent_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(f->k.stop_fd >= 0 && f->k.uevent_fd >= 0);

        mkdirs(sys, "bus/pci/devices");
        mkdirs(sys, "kernel/iommu_groups/5/devices");
        for (size_t i = 0; i < N_DRIVERS; i++) {
                snprintf(rel, sizeof(rel), "bus/pci/drivers/%s", drivers[i]);
                mkdirs(sys, rel);
                snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/unbind", drivers[i]);
                put(sys, rel, "");
        }
        put(sys, "bus/pci/drivers_probe", "");
        for (size_t i = 0; i < N_DEVS; i++) {
                const KDev *d = &f->k.dev[i];
                snprintf(rel, sizeof(rel), "devices/pci0000:00/%s", d->name);
                mkdirs(sys, rel);
                snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/driver_override", d->name);
                put(sys, rel, "(null)\n");
                snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/driver", d->name);
                snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", d->native);
                link_(sys, rel, target);
                snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/iommu_group", d->name);
                link_(sys, rel, "../../../kernel/iommu_groups/5");
                snprintf(rel, sizeof(rel), "bus/pci/devices/%s", d->name);
                snprintf(target, sizeof(target), "../../../devices/pci0000:00/%s", d->name);
                link_(sys, rel, target);
        }

        assert_int_equal(sysfs_new(sys, &f->sysfs), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(sd_event_add_io(f->event, &f->uevent_source, f->k.uevent_fd, EPOLLIN, on_uevent, f), 0);
        /* Nothing here takes anywhere near this long. */
        assert_int_equal(sd_event_add_time_relative(f->event, &f->guard, CLOCK_MONOTONIC, 30 * SEC, 0, on_guard, f),
                         0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[PATH_MAX + 16];

        kernel_stop(&f->k);
        rebind_job_free(f->job);
        sd_event_source_disable_unref(f->uevent_source);
        sd_event_source_disable_unref(f->guard);
        sd_event_source_disable_unref(f->tick);
        sd_event_unref(f->event);
        sysfs_free(f->sysfs);
        safe_close(f->k.stop_fd);
        safe_close(f->k.uevent_fd);
        pthread_mutex_destroy(&f->k.lock);
        pthread_cond_destroy(&f->k.cond);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmp);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

/* ---- running jobs ---- */

static void on_done(RebindJob *j, const RebindJobResult *result, void *userdata) {
        Fixture *f = userdata;
        assert_ptr_equal(j, f->job);
        assert_false(f->done);          /* once */
        f->result = *result;
        f->done = true;
}

/* sd_event_run(), with the kernel caught up before each dispatch. */
static void run_once(Fixture *f) {
        int r = sd_event_prepare(f->event);
        if (r == 0)
                r = sd_event_wait(f->event, UINT64_MAX);
        assert_true(r >= 0);
        if (r > 0) {
                kernel_sync(&f->k);
                assert_true(sd_event_dispatch(f->event) >= 0);
        }
}

static const RebindTimeouts quick = { .write_usec = 5 * SEC, .bind_usec = 5 * SEC };

/* Run @plan (taken) to its end; the result is in f->result. */
static void run_job(Fixture *f, RebindPlan *plan, const RebindTimeouts *t) {
        f->job = rebind_job_free(f->job);
        f->done = false;
        memset(&f->result, 0, sizeof(f->result));
        assert_int_equal(rebind_job_start(f->event, f->sysfs, f->proc, plan, t, on_done, f, &f->job), 0);
        while (!f->done && !f->guard_hit)
                run_once(f);
        assert_false(f->guard_hit);
        assert_int_equal(f->k.errors, 0);
}

static RebindPlan *prepare_plan(void) {
        RebindPlan *p = calloc(1, sizeof(*p));
        assert_non_null(p);
        assert_int_equal(rebind_plan_add(p, NIC, "e1000e", NULL, "vfio-pci", "vfio-pci"), 0);
        assert_int_equal(rebind_plan_add(p, NET, "virtio-pci", NULL, "vfio-pci", "vfio-pci"), 0);
        return p;
}

static RebindPlan *restore_plan(void) {
        _cleanup_(rebind_plan_freep) RebindPlan *p = prepare_plan();
        RebindPlan *r = NULL;
        assert_int_equal(rebind_plan_reverse(p, p->n, &r), 0);
        return r;
}

static void assert_device(Fixture *f, size_t i, const char *driver, const char *override) {
        _cleanup_free_ char *cur = NULL;
        PciAddress a;
        char o[REBIND_DRIVER_MAX];

        assert_int_equal(pci_address_parse(f->k.dev[i].name, &a), 0);
        if (driver) {
                assert_int_equal(sysfs_pci_driver(f->sysfs, &a, &cur), 0);
                assert_string_equal(cur, driver);
        } else
                assert_int_equal(sysfs_pci_driver(f->sysfs, &a, &cur), -ENOENT);
        pthread_mutex_lock(&f->k.lock);
        snprintf(o, sizeof(o), "%s", f->k.dev[i].override);
        pthread_mutex_unlock(&f->k.lock);
        assert_string_equal(o, override ? override : "");
}

/* Both devices on vfio-pci, by a job that worked. */
static void prepare_both(Fixture *f) {
        run_job(f, prepare_plan(), &quick);
        assert_int_equal(f->result.error, 0);
        assert_device(f, 0, "vfio-pci", "vfio-pci");
        assert_device(f, 1, "vfio-pci", "vfio-pci");
}

/* ---- the cases ---- */

static void test_prepare_group(void **state) {
        Fixture *f = *state;

        /* The second device binds a while after drivers_probe: the job
         * learns of it from the uevent. */
        f->k.dev[1].delay_ms = 30;
        kernel_start(&f->k);
        run_job(f, prepare_plan(), &quick);
        assert_int_equal(f->result.error, 0);
        assert_false(f->result.rolled_back);
        assert_device(f, 0, "vfio-pci", "vfio-pci");
        assert_device(f, 1, "vfio-pci", "vfio-pci");
        assert_int_equal(f->k.dev[0].unbinds, 1);
        assert_int_equal(f->k.dev[1].unbinds, 1);
        assert_int_equal(f->k.dev[0].probes, 1);
        assert_int_equal(f->k.dev[1].probes, 1);
}

static void test_restore_group(void **state) {
        Fixture *f = *state;

        kernel_start(&f->k);
        prepare_both(f);
        run_job(f, restore_plan(), &quick);
        assert_int_equal(f->result.error, 0);
        assert_device(f, 0, "e1000e", NULL);
        assert_device(f, 1, "virtio-pci", NULL);
        assert_int_equal(f->k.dev[0].unbinds, 2);
        assert_int_equal(f->k.dev[1].unbinds, 2);

        /* Already where it should be: a plan that changes nothing writes
         * driver_override and nothing else. */
        {
                unsigned writes = f->k.writes;
                run_job(f, restore_plan(), &quick);
                assert_int_equal(f->result.error, 0);
                assert_int_equal(f->k.writes, writes + 2);
                assert_int_equal(f->k.dev[0].unbinds, 2);
                assert_device(f, 0, "e1000e", NULL);
        }
}

/* Reserved at boot: on vfio-pci with no known original.  A reprobe step
 * clears the override, unbinds, probes, and takes the native driver. */
static void test_reprobe(void **state) {
        Fixture *f = *state;
        RebindPlan *p = calloc(1, sizeof(*p));

        kernel_start(&f->k);
        prepare_both(f);
        assert_non_null(p);
        assert_int_equal(rebind_plan_add_reprobe(p, NIC, "vfio-pci", "vfio-pci"), 0);
        assert_true(p->steps[0].reprobe);
        assert_null(p->steps[0].to_driver);
        run_job(f, p, &quick);
        assert_int_equal(f->result.error, 0);
        assert_device(f, 0, "e1000e", NULL);
        assert_int_equal(f->k.dev[0].probes, 2);
        /* The other device was not in the plan. */
        assert_device(f, 1, "vfio-pci", "vfio-pci");
}

static void test_bind_never_completes(void **state) {
        Fixture *f = *state;
        const RebindTimeouts t = { .write_usec = 5 * SEC, .bind_usec = 300 * MSEC };
        uint64_t t0;

        /* vfio-pci's probe fails for the second device: drivers_probe
         * returns and nothing binds. */
        f->k.dev[1].refuse = "vfio-pci";
        kernel_start(&f->k);
        t0 = now_usec();
        run_job(f, prepare_plan(), &t);
        assert_int_equal(f->result.error, -ETIMEDOUT);
        assert_int_equal(f->result.failed_step, 1);
        /* The bind deadline given, not the 10 s default. */
        assert_true(now_usec() - t0 < 5 * SEC);
        assert_non_null(strstr(f->result.message, "300 ms"));
        assert_true(f->result.rolled_back);
        assert_string_equal(f->result.rollback_message, "");
        assert_device(f, 0, "e1000e", NULL);
        assert_device(f, 1, "virtio-pci", NULL);
}

static void test_write_fails_half_way(void **state) {
        Fixture *f = *state;

        /* The second device's driver_override is gone: its very first
         * write fails, after the first device was moved. */
        remove_(f->k.sys, "devices/pci0000:00/" NET "/driver_override");
        kernel_start(&f->k);
        run_job(f, prepare_plan(), &quick);
        assert_int_equal(f->result.error, -ENOENT);
        assert_int_equal(f->result.failed_step, 1);
        /* The first device is back; the second was never touched, and
         * nothing about it needed undoing. */
        assert_true(f->result.rolled_back);
        assert_string_equal(f->result.rollback_message, "");
        assert_device(f, 0, "e1000e", NULL);
        assert_device(f, 1, "virtio-pci", NULL);
        assert_int_equal(f->k.dev[0].unbinds, 2);
        assert_int_equal(f->k.dev[1].unbinds, 0);
}

static void test_unbind_fails_step_undone(void **state) {
        Fixture *f = *state;

        /* virtio-pci has no unbind attribute: the second step fails after
         * it set driver_override, which the rollback clears again. */
        remove_(f->k.sys, "bus/pci/drivers/virtio-pci/unbind");
        kernel_start(&f->k);
        run_job(f, prepare_plan(), &quick);
        assert_int_equal(f->result.error, -ENOENT);
        assert_int_equal(f->result.failed_step, 1);
        assert_true(f->result.rolled_back);
        assert_device(f, 0, "e1000e", NULL);
        assert_device(f, 1, "virtio-pci", NULL);
}

static void test_write_stuck_in_kernel(void **state) {
        Fixture *f = *state;
        const RebindTimeouts t = { .write_usec = 300 * MSEC, .bind_usec = 5 * SEC };
        char fifo[PATH_MAX + 64];
        unsigned before = sysfs_write_abandoned();
        int reader;

        /* e1000e's unbind never returns: a FIFO nobody reads, on which
         * open(O_WRONLY) blocks. */
        snprintf(fifo, sizeof(fifo), "%s/bus/pci/drivers/e1000e/unbind", f->k.sys);
        assert_int_equal(unlink(fifo), 0);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        kernel_start(&f->k);
        assert_int_equal(sd_event_add_time_relative(f->event, &f->tick, CLOCK_MONOTONIC, 50 * MSEC, 1, on_tick, f),
                         0);
        run_job(f, prepare_plan(), &t);

        assert_int_equal(f->result.error, -ETIMEDOUT);
        assert_int_equal(f->result.failed_step, 0);
        /* The loop went on while the write was stuck: the 50 ms timer
         * fired through the 300 ms deadline. */
        assert_true(f->ticks >= 3);
        /* The unbind never happened, so putting the override back was all
         * the rollback had to do. */
        assert_true(f->result.rolled_back);
        assert_device(f, 0, "e1000e", NULL);
        assert_device(f, 1, "virtio-pci", NULL);
        assert_int_equal(f->k.dev[1].unbinds, 0);
        assert_int_equal(sysfs_write_abandoned(), before + 1);

        /* Let the stuck writer go: it is no longer counted. */
        reader = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        assert_true(reader >= 0);
        for (int i = 0; i < 500 && sysfs_write_abandoned() != before; i++)
                usleep(10 * 1000);
        assert_int_equal(sysfs_write_abandoned(), before);
        safe_close(reader);
}

static void add_holder(Fixture *f, const char *pid, const char *comm, const char *node) {
        char rel[64];

        snprintf(rel, sizeof(rel), "%s/fd", pid);
        mkdirs(f->proc, rel);
        snprintf(rel, sizeof(rel), "%s/comm", pid);
        put(f->proc, rel, comm);
        snprintf(rel, sizeof(rel), "%s/fd/0", pid);
        link_(f->proc, rel, "/dev/null");
        snprintf(rel, sizeof(rel), "%s/fd/7", pid);
        link_(f->proc, rel, node);
}

static const char *other_pid(void) {
        return getpid() == 4242 ? "4243" : "4242";
}

static void test_group_node_held(void **state) {
        Fixture *f = *state;
        unsigned unbinds[N_DEVS];

        kernel_start(&f->k);
        prepare_both(f);
        for (size_t i = 0; i < N_DEVS; i++)
                unbinds[i] = f->k.dev[i].unbinds;
        add_holder(f, other_pid(), "qemu-kvm\n", "/dev/vfio/5");

        run_job(f, restore_plan(), &quick);
        assert_int_equal(f->result.error, -EBUSY);
        assert_int_equal(f->result.failed_step, 0);
        assert_int_equal(f->result.holder.pid, atoi(other_pid()));
        assert_string_equal(f->result.holder.comm, "qemu-kvm");
        assert_string_equal(f->result.holder.path, "/dev/vfio/5");
        assert_non_null(strstr(f->result.message, other_pid()));
        /* Nothing was unbound; driver_override is vfio-pci again. */
        assert_true(f->result.rolled_back);
        for (size_t i = 0; i < N_DEVS; i++) {
                assert_int_equal(f->k.dev[i].unbinds, unbinds[i]);
                assert_device(f, i, "vfio-pci", "vfio-pci");
        }
}

static void test_cdev_held(void **state) {
        Fixture *f = *state;
        unsigned nic_unbinds, net_unbinds;

        /* The NIC has a VFIO cdev, which a process holds; the group node
         * is free.  Restore would run the NET step first (it went last);
         * the check before the first step refuses the whole job at the
         * NIC's step with nothing touched: NET is not unbound either. */
        mkdirs(f->k.sys, "devices/pci0000:00/" NIC "/vfio-dev/vfio0");
        kernel_start(&f->k);
        prepare_both(f);
        nic_unbinds = f->k.dev[0].unbinds;
        net_unbinds = f->k.dev[1].unbinds;
        add_holder(f, other_pid(), "cloud-hyperviso\n", "/dev/vfio/devices/vfio0");

        run_job(f, restore_plan(), &quick);
        assert_int_equal(f->result.error, -EBUSY);
        assert_int_equal(f->result.failed_step, 1);
        assert_int_equal(f->result.holder.pid, atoi(other_pid()));
        assert_string_equal(f->result.holder.comm, "cloud-hyperviso");
        assert_string_equal(f->result.holder.path, "/dev/vfio/devices/vfio0");
        assert_true(f->result.rolled_back);
        assert_int_equal(f->k.dev[0].unbinds, nic_unbinds);
        assert_int_equal(f->k.dev[1].unbinds, net_unbinds);
        assert_device(f, 0, "vfio-pci", "vfio-pci");
        assert_device(f, 1, "vfio-pci", "vfio-pci");
}

static void test_own_pid_not_a_holder(void **state) {
        Fixture *f = *state;
        char pid[16];

        /* iommud itself has the group open (a lease it is ending): not a
         * reason to refuse. */
        kernel_start(&f->k);
        prepare_both(f);
        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        add_holder(f, pid, "iommud\n", "/dev/vfio/5");
        run_job(f, restore_plan(), &quick);
        assert_int_equal(f->result.error, 0);
        assert_device(f, 0, "e1000e", NULL);
        assert_device(f, 1, "virtio-pci", NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_prepare_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restore_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reprobe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bind_never_completes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_fails_half_way, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unbind_fails_step_undone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_stuck_in_kernel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_node_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdev_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_own_pid_not_a_holder, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
