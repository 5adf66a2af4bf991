/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "polkit.h"
#include "shared/macro.h"

#define POLKIT_SERVICE   "org.freedesktop.PolicyKit1"
#define POLKIT_PATH      "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_INTERFACE "org.freedesktop.PolicyKit1.Authority"

/* CheckAuthorization's flags. */
#define POLKIT_FLAG_ALLOW_USER_INTERACTION 1U

struct Polkit {
        sd_event *event;
        char *bus_address;              /* NULL: the system bus */
        sd_bus *bus;                    /* NULL until the first check */
        uint64_t timeout_usec, interactive_timeout_usec;
        PolkitQuery *queries;           /* pending, doubly linked */
        unsigned n_queries;
        uint64_t n_cancel_ids;
};

struct PolkitQuery {
        Polkit *polkit;                 /* NULL once unlinked */
        PolkitQuery *prev, *next;
        /* The connection the call went out on.  Held by the query, so a
         * connection that dropped lives on until it has failed every call
         * pending on it, even after polkit->bus has moved to a new one. */
        sd_bus *bus;
        sd_bus_slot *slot;
        /* A failure found before polkit could be asked, reported from the
         * event loop. */
        sd_event_source *defer;
        int error;
        char *error_message;
        char *cancel_id;                /* interactive checks only */
        PolkitDone cb;
        void *userdata;
};

static void query_unlink(PolkitQuery *q) {
        Polkit *p = q->polkit;

        if (!p)
                return;
        if (q->prev)
                q->prev->next = q->next;
        else
                p->queries = q->next;
        if (q->next)
                q->next->prev = q->prev;
        q->prev = q->next = NULL;
        q->polkit = NULL;
        p->n_queries--;
}

static PolkitQuery *query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        query_unlink(q);
        sd_bus_slot_unref(q->slot);
        sd_event_source_disable_unref(q->defer);
        sd_bus_unref(q->bus);
        free(q->error_message);
        free(q->cancel_id);
        free(q);
        return NULL;
}

/* Unlink first, so the callback may start checks, cancel others or free
 * the Polkit; then call it; then free the query. */
static void query_complete(PolkitQuery *q, int result, bool challenge, const char *error_message) {
        query_unlink(q);
        q->cb(result, challenge, result < 0 ? error_message : NULL, q->userdata);
        query_free(q);
}

static int on_defer(sd_event_source *source, void *userdata) {
        PolkitQuery *q = userdata;

        query_complete(q, q->error, false, q->error_message);
        return 0;
}

static int query_fail_later(Polkit *p, PolkitQuery *q, int error, const char *what) {
        int r;

        if (asprintf(&q->error_message, "%s: %s", what, strerror(-error)) < 0) {
                q->error_message = NULL;
                return -ENOMEM;
        }
        q->error = error;
        r = sd_event_add_defer(p->event, &q->defer, on_defer, q);
        return r < 0 ? r : 0;
}

/* The D-Bus error polkit (or the bus) answered, as an errno. */
static int error_to_errno(sd_bus_message *reply, const sd_bus_error *e) {
        int r;

        /* A connection that dropped fails its pending calls with a NoReply
         * of its own making; it is no longer open by then. */
        if (sd_bus_is_open(sd_bus_message_get_bus(reply)) <= 0)
                return -ECONNRESET;
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN))
                return -EHOSTUNREACH;
        /* From the bus, about polkit; from polkit, about a bus-name subject. */
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
                const char *sender = sd_bus_message_get_sender(reply);
                return sender && strcmp(sender, "org.freedesktop.DBus") == 0 ? -EHOSTUNREACH : -ESRCH;
        }
        if (sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT,
                                   "org.freedesktop.DBus.Error.TimedOut"))
                return -ETIMEDOUT;
        if (sd_bus_error_has_name(e, "org.freedesktop.PolicyKit1.Error.NotAuthorized"))
                return -EACCES;
        if (sd_bus_error_has_name(e, "org.freedesktop.PolicyKit1.Error.Cancelled"))
                return -ECANCELED;
        if (sd_bus_error_has_name(e, "org.freedesktop.PolicyKit1.Error.Failed"))
                return -EIO;
        r = sd_bus_error_get_errno(e);
        return r > 0 ? -r : -EIO;
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        const sd_bus_error *e;
        int authorized = 0, challenge = 0, r;

        e = sd_bus_message_get_error(reply);
        if (e) {
                _cleanup_free_ char *msg = NULL;

                r = error_to_errno(reply, e);
                if (asprintf(&msg, "%s: %s", e->name, e->message ? e->message : "") < 0)
                        msg = NULL;
                query_complete(q, r, false, msg ? msg : e->name);
                return 0;
        }

        /* (bba{ss}): authorized, challenge, details (unused). */
        if (!sd_bus_message_has_signature(reply, "(bba{ss})"))
                r = -EBADMSG;
        else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        }
        if (r < 0) {
                query_complete(q, r, false, "Unexpected reply from polkit");
                return 0;
        }
        query_complete(q, !!authorized, !authorized && challenge, NULL);
        return 0;
}

/* Field 22 of /proc/PID/stat: what polkit compares to tell a process from
 * a later one with the same pid.  Read, then check through @pidfd that the
 * process is still there (alive or a zombie: either way its pid is not
 * free), so what we read belongs to it and not to a successor. */
static int process_start_time(pid_t pid, int pidfd, uint64_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[2048], *s, *end;
        unsigned long long v;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;

        /* comm, in parentheses, may hold anything: start after the last ')'.
         * The 20th field after it is field 22. */
        s = strrchr(buf, ')');
        if (!s)
                return -EBADMSG;
        s++;
        for (int i = 0; i < 19; i++) {
                s += strspn(s, " ");
                s += strcspn(s, " ");
        }
        s += strspn(s, " ");
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || (*end != ' ' && *end != 0))
                return -EBADMSG;

        if (pidfd >= 0) {
                _cleanup_close_ int info = -EBADF;
                const char *p;

                snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
                info = open(path, O_RDONLY | O_CLOEXEC);
                if (info < 0)
                        return -errno;
                n = read(info, buf, sizeof(buf) - 1);
                if (n < 0)
                        return -errno;
                buf[n] = 0;
                /* Not a pidfd, or one of another process: the caller's bug. */
                p = strstr(buf, "\nPid:\t");
                if (!p)
                        return -EBADF;
                if (atoi(p + 6) != (int) pid)
                        return -ESRCH;  /* -1 once reaped, on newer kernels */
                /* EPERM: another user's process, and iommud has no
                 * CAP_KILL (see units/iommud.service): it is there. */
                if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno != EPERM)
                        return -errno;  /* -ESRCH: gone */
        }

        *ret = (uint64_t) v;
        return 0;
}

static int polkit_connect(Polkit *p) {
        sd_bus *bus = NULL;
        int r;

        if (p->bus && sd_bus_is_open(p->bus) > 0)
                return 0;
        /* Gone or going: calls still pending on it hold it until they fail. */
        p->bus = sd_bus_unref(p->bus);

        if (!p->bus_address)
                r = sd_bus_open_system_with_description(&bus, "iommud-polkit");
        else {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return r;
                r = sd_bus_set_address(bus, p->bus_address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_set_description(bus, "iommud-polkit");
                if (r >= 0)
                        r = sd_bus_start(bus);
        }
        if (r >= 0)
                r = sd_bus_attach_event(bus, p->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                sd_bus_close_unref(bus);
                return r;
        }
        p->bus = bus;
        return 0;
}

static int append_subject(sd_bus_message *m, const PolkitSubject *s, uint64_t start_time) {
        int r;

        if (s->kind == POLKIT_SUBJECT_BUS_NAME)
                return sd_bus_message_append(m, "(sa{sv})", "system-bus-name", 1, "name", "s", s->bus_name);

        /* pid, start-time and uid: polkit 122 needs the three, and newer
         * polkit insists they come together.  The pidfd: newer polkit
         * prefers it, 122 ignores it. */
        if (s->pidfd >= 0)
                r = sd_bus_message_append(m, "(sa{sv})", "unix-process", 4,
                                          "pid", "u", (uint32_t) s->pid,
                                          "start-time", "t", start_time,
                                          "uid", "i", (int32_t) s->uid,
                                          "pidfd", "h", s->pidfd);
        else
                r = sd_bus_message_append(m, "(sa{sv})", "unix-process", 3,
                                          "pid", "u", (uint32_t) s->pid,
                                          "start-time", "t", start_time,
                                          "uid", "i", (int32_t) s->uid);
        return r;
}

static int query_send(Polkit *p, PolkitQuery *q, const PolkitSubject *s, uint64_t start_time,
                      const char *action_id, const char *const *details, bool interactive) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(p->bus, &m, POLKIT_SERVICE, POLKIT_PATH, POLKIT_INTERFACE,
                                           "CheckAuthorization");
        if (r < 0)
                return r;
        r = append_subject(m, s, start_time);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", action_id);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{ss}");
        if (r < 0)
                return r;
        for (const char *const *d = details; d && *d; d += 2) {
                r = sd_bus_message_append(m, "{ss}", d[0], d[1]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "us",
                                  interactive ? POLKIT_FLAG_ALLOW_USER_INTERACTION : 0U,
                                  q->cancel_id ? q->cancel_id : "");
        if (r < 0)
                return r;

        r = sd_bus_call_async(p->bus, &q->slot, m, on_reply, q,
                              interactive ? p->interactive_timeout_usec : p->timeout_usec);
        if (r < 0)
                return r;
        q->bus = sd_bus_ref(p->bus);
        return 0;
}

static bool subject_valid(const PolkitSubject *s) {
        if (!s)
                return false;
        if (s->kind == POLKIT_SUBJECT_PROCESS)
                return s->pid > 0;
        if (s->kind == POLKIT_SUBJECT_BUS_NAME)
                return s->bus_name && s->bus_name[0] == ':';
        return false;
}

int polkit_check(Polkit *p,
                 const PolkitSubject *subject,
                 const char *action_id,
                 const char *const *details,
                 bool interactive,
                 PolkitDone cb,
                 void *userdata,
                 PolkitQuery **ret_query) {
        PolkitQuery *q;
        uint64_t start_time = 0;
        int r;

        if (!p || !cb || !action_id || !action_id[0] || !subject_valid(subject))
                return -EINVAL;
        for (const char *const *d = details; d && *d; d += 2)
                if (!d[1])
                        return -EINVAL;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->cb = cb;
        q->userdata = userdata;
        q->polkit = p;
        q->next = p->queries;
        if (q->next)
                q->next->prev = q;
        p->queries = q;
        p->n_queries++;

        if (interactive && asprintf(&q->cancel_id, "iommud-%" PRIu64, ++p->n_cancel_ids) < 0) {
                q->cancel_id = NULL;
                r = -ENOMEM;
                goto fail;
        }

        if (subject->kind == POLKIT_SUBJECT_PROCESS) {
                r = process_start_time(subject->pid, subject->pidfd, &start_time);
                if (r < 0) {
                        r = query_fail_later(p, q, r, "Cannot identify the calling process");
                        goto out;
                }
        }

        r = polkit_connect(p);
        if (r < 0) {
                r = query_fail_later(p, q, r, "Cannot connect to the bus");
                goto out;
        }
        r = query_send(p, q, subject, start_time, action_id, details, interactive);
        if (r == -ENOTCONN || r == -ECONNRESET) {
                /* The connection died since we last looked: one more try, on
                 * a new one. */
                r = polkit_connect(p);
                if (r >= 0)
                        r = query_send(p, q, subject, start_time, action_id, details, interactive);
        }
        if (r < 0 && r != -ENOMEM && r != -EINVAL)
                r = query_fail_later(p, q, r, "Cannot reach polkit");
out:
        if (r < 0)
                goto fail;
        if (ret_query)
                *ret_query = q;
        return 0;
fail:
        query_free(q);
        return r;
}

PolkitQuery *polkit_query_cancel(PolkitQuery *q) {
        if (!q)
                return NULL;
        /* An authentication dialog may be up for it. */
        if (q->cancel_id && q->slot && q->bus && sd_bus_is_open(q->bus) > 0)
                (void) sd_bus_call_method_async(q->bus, NULL, POLKIT_SERVICE, POLKIT_PATH, POLKIT_INTERFACE,
                                                "CancelCheckAuthorization", NULL, NULL, "s", q->cancel_id);
        return query_free(q);
}

int polkit_new(sd_event *event, const char *bus_address, Polkit **ret) {
        Polkit *p;

        if (!event || !ret)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        if (bus_address) {
                p->bus_address = strdup(bus_address);
                if (!p->bus_address) {
                        free(p);
                        return -ENOMEM;
                }
        }
        p->event = sd_event_ref(event);
        p->timeout_usec = POLKIT_TIMEOUT_USEC;
        p->interactive_timeout_usec = POLKIT_INTERACTIVE_TIMEOUT_USEC;
        *ret = p;
        return 0;
}

Polkit *polkit_free(Polkit *p) {
        if (!p)
                return NULL;
        while (p->queries)
                query_free(p->queries);
        /* No flush: it would wait without limit for a stuck bus. */
        sd_bus_close_unref(p->bus);
        sd_event_unref(p->event);
        free(p->bus_address);
        free(p);
        return NULL;
}

void polkit_set_timeouts(Polkit *p, uint64_t usec, uint64_t interactive_usec) {
        if (usec > 0)
                p->timeout_usec = usec;
        if (interactive_usec > 0)
                p->interactive_timeout_usec = interactive_usec;
}

unsigned polkit_pending(Polkit *p) {
        return p ? p->n_queries : 0;
}
