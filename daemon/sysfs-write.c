/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shared/macro.h"
#include "sysfs-write.h"
#include "sysfs.h"

#define VALUE_MAX 4095

/* What the thread owns; shared with the loop side by reference count. */
typedef struct Op {
        atomic_int refs;
        atomic_int state;       /* OP_RUNNING, then OP_DONE or OP_ABANDONED */
        int dirfd;
        int efd;                /* the thread signals completion here */
        int result;             /* written by the thread before efd */
        char *attr;
        char *value;
} Op;

enum { OP_RUNNING, OP_DONE, OP_ABANDONED };

struct SysfsWrite {
        Op *op;
        sd_event_source *io;
        sd_event_source *timer;
        SysfsWriteDone done;
        void *userdata;
};

static atomic_uint abandoned_stuck;

static void op_unref(Op *op) {
        if (!op || atomic_fetch_sub(&op->refs, 1) != 1)
                return;
        safe_close(op->dirfd);
        safe_close(op->efd);
        free(op->attr);
        free(op->value);
        free(op);
}

static void *thread_main(void *p) {
        Op *op = p;
        struct open_how how = {
                .flags = O_WRONLY | O_CLOEXEC | O_NOCTTY,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        size_t len = strlen(op->value);
        ssize_t n;
        int fd;

        fd = (int) syscall(SYS_openat2, op->dirfd, op->attr, &how, sizeof(how));
        /* No openat2() (a kernel before 5.6, or a seccomp filter that does
         * not know it, as systemd 252's @system-service): the attribute is
         * one validated name, so O_NOFOLLOW beneath the directory fd keeps
         * the same promise. */
        if (fd < 0 && errno == ENOSYS)
                fd = openat(op->dirfd, op->attr, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                op->result = -errno;
        else {
                n = write(fd, op->value, len);
                op->result = n < 0 ? -errno : (size_t) n != len ? -EIO : 0;
                safe_close(fd);
        }
        /* Whoever moves the state first decides: the thread (done in
         * time) or the deadline (abandoned, counted until it returns). */
        {
                int expected = OP_RUNNING;
                if (!atomic_compare_exchange_strong(&op->state, &expected, OP_DONE))
                        atomic_fetch_sub(&abandoned_stuck, 1);
        }
        (void) eventfd_write(op->efd, 1);
        op_unref(op);
        return NULL;
}

static void finish(SysfsWrite *w, int result) {
        SysfsWriteDone done = w->done;

        w->io = sd_event_source_disable_unref(w->io);
        w->timer = sd_event_source_disable_unref(w->timer);
        w->done = NULL;
        if (done)
                done(w, result, w->userdata);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        SysfsWrite *w = userdata;
        eventfd_t v;

        (void) eventfd_read(fd, &v);
        finish(w, w->op->result);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        SysfsWrite *w = userdata;

        int expected = OP_RUNNING;

        if (atomic_compare_exchange_strong(&w->op->state, &expected, OP_ABANDONED))
                atomic_fetch_add(&abandoned_stuck, 1);
        else
                return 0;       /* it finished just now: its eventfd reports it */
        finish(w, -ETIMEDOUT);
        return 0;
}

unsigned sysfs_write_abandoned(void) {
        return atomic_load(&abandoned_stuck);
}

int sysfs_write_start(sd_event *e, int dirfd, const char *attr, const char *value, uint64_t timeout_usec,
                      SysfsWriteDone done, void *userdata, SysfsWrite **ret) {
        SysfsWrite *w = NULL;
        pthread_attr_t pa;
        pthread_t t;
        sigset_t all, old;
        uint64_t now;
        Op *op;
        int r;

        if (!sysfs_name_is_valid(attr) || !value || strlen(value) > VALUE_MAX || !done)
                return -EINVAL;
        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        atomic_init(&op->refs, 1);
        atomic_init(&op->state, OP_RUNNING);
        op->dirfd = op->efd = -EBADF;
        op->attr = strdup(attr);
        op->value = strdup(value);
        op->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        op->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (!op->attr || !op->value || op->dirfd < 0 || op->efd < 0) {
                r = !op->attr || !op->value ? -ENOMEM : -errno;
                goto fail;
        }
        w = calloc(1, sizeof(*w));
        if (!w) {
                r = -ENOMEM;
                goto fail;
        }
        w->op = op;
        w->done = done;
        w->userdata = userdata;
        r = sd_event_add_io(e, &w->io, op->efd, EPOLLIN, on_io, w);
        if (r < 0)
                goto fail;
        r = sd_event_now(e, CLOCK_MONOTONIC, &now);
        if (r < 0)
                goto fail;
        r = sd_event_add_time(e, &w->timer, CLOCK_MONOTONIC, now + timeout_usec, 10 * 1000, on_timer, w);
        if (r < 0)
                goto fail;

        /* The thread takes a reference and must get no signals: the
         * daemon's are for sd-event's signalfd on the main thread. */
        atomic_fetch_add(&op->refs, 1);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_attr_init(&pa);
        pthread_attr_setdetachstate(&pa, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&pa, 64 * 1024);
        r = -pthread_create(&t, &pa, thread_main, op);
        pthread_attr_destroy(&pa);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                atomic_fetch_sub(&op->refs, 1);
                goto fail;
        }
        *ret = w;
        return 0;
fail:
        if (w) {
                sd_event_source_disable_unref(w->io);
                sd_event_source_disable_unref(w->timer);
                free(w);
        }
        op_unref(op);
        return r;
}

SysfsWrite *sysfs_write_free(SysfsWrite *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->io);
        sd_event_source_disable_unref(w->timer);
        op_unref(w->op);
        free(w);
        return NULL;
}
