/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-stop.c - stopping on SIGTERM or SIGINT without leaving anything
 * half done, and without touching the leases.
 *
 * The stop: STOPPING=1 to systemd; the varlink listener is no longer
 * polled (a socket systemd passed stays open and queues new clients for
 * the next start; a socket iommud bound itself is removed at once); the
 * faces refuse calls that would start work with ShuttingDown
 * (manager_is_stopping()); calls still waiting for polkit are refused
 * the same way (manager_auth_shutdown()), since nothing happened for them
 * yet.  Work already under way goes on: a rebind, a claim past polkit, an
 * mdev or SR-IOV write.  Abandoning one would leave a group half moved,
 * or an mdev made for nobody.  Once none is left iommud exits, or at the
 * deadline (ManagerOptions.stop_timeout_usec), after saying what it gives
 * up on.
 *
 * Leases are left alone: no DMA is cut, no lease ended, nothing restored
 * or removed.  iommud's copies of a lease's files close with the process,
 * and its holder keeps its own.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "manager-internal.h"
#include "shared/log.h"
#include "shared/macro.h"

struct ManagerWork {
        ManagerWork *next, *prev;
        uint64_t started;       /* CLOCK_MONOTONIC */
        char what[192];
};

static uint64_t now_monotonic(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

ManagerWork *manager_work_begin(Manager *m, const char *fmt, ...) {
        ManagerWork *w = calloc(1, sizeof(*w));
        va_list ap;

        if (!w)
                return NULL;
        va_start(ap, fmt);
        (void) vsnprintf(w->what, sizeof(w->what), fmt, ap);
        va_end(ap);
        w->started = now_monotonic();
        w->next = m->work;
        if (m->work)
                m->work->prev = w;
        m->work = w;
        return w;
}

static size_t work_count(Manager *m) {
        size_t n = 0;
        for (ManagerWork *w = m->work; w; w = w->next)
                n++;
        return n;
}

/* "2 operations: claim of 0000:00:03.0 by uid 1000 (pid 4242), for
 * 1.2 s; prepare of IOMMU group 1 (1 device), for 0.9 s", oldest first. */
static void describe(Manager *m, char *buf, size_t size) {
        uint64_t now = now_monotonic();
        size_t n = work_count(m), len;
        ManagerWork *last = m->work;

        snprintf(buf, size, "%zu operation%s", n, n == 1 ? "" : "s");
        while (last && last->next)
                last = last->next;
        for (ManagerWork *w = last; w; w = w->prev) {
                len = strlen(buf);
                snprintf(buf + len, size - len, "%s%s, for %.1f s", w == last ? ": " : "; ", w->what,
                         (double) (now - w->started) / 1e6);
        }
}

static void stop_status(Manager *m) {
        char what[1024], status[1100];

        describe(m, what, sizeof(what));
        snprintf(status, sizeof(status), "STATUS=Stopping: waiting for %s", what);
        (void) sd_notify(false, status);
}

void manager_work_end(Manager *m, ManagerWork *w) {
        if (!w)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                m->work = w->next;
        if (w->next)
                w->next->prev = w->prev;
        /* Not once the loop has finished: then it is freed, not done. */
        if (m->stopping && m->stop_exit && sd_event_get_state(m->event) != SD_EVENT_FINISHED) {
                if (m->work) {
                        char what[1024];
                        describe(m, what, sizeof(what));
                        log_info("Stopping: %s finished; still waiting for %s", w->what, what);
                        stop_status(m);
                } else {
                        log_info("Stopping: %s finished; nothing is under way any more", w->what);
                        (void) sd_event_source_set_enabled(m->stop_exit, SD_EVENT_ONESHOT);
                }
        }
        free(w);
}

bool manager_is_stopping(Manager *m, ManagerError *err) {
        if (!m->stopping)
                return false;
        if (err) {
                *err = (ManagerError) { .group = -1 };
                manager_set_error(err, "ShuttingDown", NULL,
                                  "iommud is stopping and takes no new work; nothing was changed: ask again once "
                                  "it runs again");
        }
        return true;
}

static void log_leases(Manager *m) {
        size_t n = manager_lease_count(m);

        if (n > 0)
                log_info("Stopped; %zu lease%s left in place: the holders keep their devices (nothing was "
                         "detached, restored or removed)", n, n == 1 ? "" : "s");
        else
                log_info("Stopped; no leases were held");
}

#define STOP_LINGER_USEC (1000 * 1000ULL)
#define STOP_LINGER_POLL_USEC (20 * 1000ULL)

static int on_stop_linger(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        return sd_event_source_set_enabled(m->stop_exit, SD_EVENT_ONESHOT);
}

/* Idle priority: the replies and the calls queued behind them (each
 * answered ShuttingDown) go out first.  A client that connected just
 * before the stop and has not asked yet gets a moment (1 s at most) to
 * ask, and its answer, rather than a closed connection. */
static int on_stop_exit(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        uint64_t now = now_monotonic();

        if (m->varlink && varlink_server_count_silent(m->varlink) > 0) {
                if (m->stop_linger_until == 0)
                        m->stop_linger_until = now + STOP_LINGER_USEC;
                if (now < m->stop_linger_until) {
                        if (!m->stop_linger &&
                            sd_event_add_time_relative(m->event, &m->stop_linger, CLOCK_MONOTONIC,
                                                       STOP_LINGER_POLL_USEC, 0, on_stop_linger, m) >= 0)
                                return 0;
                        if (m->stop_linger &&
                            sd_event_source_set_time_relative(m->stop_linger, STOP_LINGER_POLL_USEC) >= 0 &&
                            sd_event_source_set_enabled(m->stop_linger, SD_EVENT_ONESHOT) >= 0)
                                return 0;
                }
        }
        log_leases(m);
        return sd_event_exit(m->event, 0);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        char what[1024];

        describe(m, what, sizeof(what));
        log_warning("Stopping: gave up waiting after %.0f s; exiting with work still under way, %s.  A rebind cut "
                    "short leaves its group as it is now, with its record in %s/prepared for 'iommuctl restore'",
                    (double) m->stop_timeout_usec / 1e6, what, m->state_dir);
        log_leases(m);
        return sd_event_exit(m->event, 0);
}

void manager_stop(Manager *m, const char *signal_name) {
        char what[1024];
        bool had_work;
        int r;

        if (m->stopping) {
                /* A second signal: whoever sent it means now. */
                describe(m, what, sizeof(what));
                log_warning("Received %s again: exiting now%s%s", signal_name, m->work ? ", abandoning " : "",
                            m->work ? what : "");
                log_leases(m);
                (void) sd_event_exit(m->event, 0);
                return;
        }
        m->stopping = true;
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping");

        /* No new clients.  systemd's socket stays open in systemd: clients
         * that connect now wait for the next start.  Our own is removed,
         * so that they fail at once rather than wait for nobody. */
        if (m->varlink)
                varlink_server_stop_listening(m->varlink);
        if (m->bound_socket) {
                (void) unlink(m->varlink_socket);
                m->bound_socket = false;
        }

        r = sd_event_add_defer(m->event, &m->stop_exit, on_stop_exit, m);
        if (r >= 0)
                r = sd_event_source_set_priority(m->stop_exit, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->stop_exit, SD_EVENT_OFF);
        if (r < 0) {
                log_warning_errno(r, "Received %s, but cannot wait for the work under way (%m): exiting now",
                                  signal_name);
                (void) sd_event_exit(m->event, 0);
                return;
        }
        log_info("Received %s: stopping.  Taking no new calls or connections; leases stay as they are",
                 signal_name);

        /* Nothing happened yet for a call waiting for polkit: refuse it. */
        had_work = m->work != NULL;
        manager_auth_shutdown(m);

        if (!m->work) {
                if (!had_work)
                        log_info("Stopping: nothing is under way");
                (void) sd_event_source_set_enabled(m->stop_exit, SD_EVENT_ONESHOT);
                return;
        }
        describe(m, what, sizeof(what));
        log_info("Stopping: waiting up to %.0f s for %s", (double) m->stop_timeout_usec / 1e6, what);
        stop_status(m);
        r = sd_event_add_time_relative(m->event, &m->stop_timer, CLOCK_MONOTONIC, m->stop_timeout_usec, 0,
                                       on_stop_timeout, m);
        if (r < 0)
                log_warning_errno(r, "Stopping: cannot set the deadline (%m): waiting without one");
}

void manager_stop_done(Manager *m) {
        m->stop_timer = sd_event_source_disable_unref(m->stop_timer);
        m->stop_exit = sd_event_source_disable_unref(m->stop_exit);
        m->stop_linger = sd_event_source_disable_unref(m->stop_linger);
        /* Work the deadline cut short: its owners are gone already. */
        while (m->work) {
                ManagerWork *w = m->work;
                m->work = w->next;
                free(w);
        }
}
