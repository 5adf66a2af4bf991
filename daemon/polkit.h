/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * polkit.h - asking polkit, asynchronously, whether a subject may do an
 * action: org.freedesktop.PolicyKit1.Authority.CheckAuthorization over
 * sd-bus, with no GLib and no libpolkit.
 *
 * The module only asks; it decides nothing itself.  Whether root skips
 * polkit, what an action means and which details describe it are the
 * caller's business.  Every failure on the way (polkitd not running or
 * hung, the bus gone, the subject exited or replaced, a reply that does not
 * parse) is reported as a negative errno, and callers must treat it as a
 * denial.
 *
 * Subjects.  A varlink peer is a "unix-process" subject: pid, start time
 * (field 22 of /proc/PID/stat) and uid, which is what polkit 122 (Debian
 * 12) needs; pid+start-time is polkit's defence against pid reuse.  The
 * start time is read through the peer's pidfd: after reading it, the
 * pidfd must still name a live process with that pid, or the check fails
 * with -ESRCH before polkit is asked.  The pidfd is sent too (key "pidfd",
 * type 'h'): polkit 122 ignores it beside pid, start-time and uid (measured
 * by tests/integration/test-polkit.c), newer polkit uses it instead of the
 * pid.  polkit trusts the uid it is sent: take it from SO_PEERCRED, never
 * from a request.  A D-Bus caller is a "system-bus-name" subject (its
 * unique name), which polkit resolves itself, race-free; it only means
 * something on the bus polkit is asked on.
 *
 * The bus.  The connection (the system bus, or the address given) is
 * opened on the first check, not before, so a daemon that never asks never
 * connects.  When it drops (dbus-daemon restarted), checks pending on it
 * fail, and the next check opens a new one.  Each call has a timeout
 * (polkit_set_timeouts()), much shorter than sd-bus's default of 25 s, so
 * a hung polkitd cannot hold a client for long.
 *
 * Single-threaded, on the sd_event given to polkit_new().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

typedef struct Polkit Polkit;
typedef struct PolkitQuery PolkitQuery;

/* The actions of policy/org.iommud.policy. */
#define POLKIT_ACTION_CLAIM             "org.iommud.claim"
#define POLKIT_ACTION_RELEASE_OTHER     "org.iommud.release-other"
#define POLKIT_ACTION_PREPARE           "org.iommud.prepare"
#define POLKIT_ACTION_RELOAD            "org.iommud.reload"
#define POLKIT_ACTION_MANAGE_MDEV       "org.iommud.manage-mdev"
#define POLKIT_ACTION_MANAGE_SRIOV      "org.iommud.manage-sriov"

/* The detail keys rules see through action.lookup() (iommud(8),
 * AUTHORIZATION, documents their values).  Only the caller fills them;
 * these names keep every front end spelling them the same. */
#define POLKIT_DETAIL_DEVICE            "device"        /* "0000:03:00.0" or an mdev UUID */
#define POLKIT_DETAIL_DEVICES           "devices"       /* every device the action touches, ", "-separated */
#define POLKIT_DETAIL_VENDOR            "vendor"        /* "10de": 4 hex digits, lowercase */
#define POLKIT_DETAIL_DEVICE_ID         "device_id"     /* "1eb8" */
#define POLKIT_DETAIL_CLASS             "class"         /* "030200": 6 hex digits */
#define POLKIT_DETAIL_IOMMU_GROUP       "iommu_group"   /* "7" */
#define POLKIT_DETAIL_DRIVER            "driver"        /* the driver bound now, "" if none */
#define POLKIT_DETAIL_MDEV_TYPE         "mdev_type"     /* an mdev's type ("mtty-2"); absent for PCI functions */
#define POLKIT_DETAIL_MODE              "mode"          /* how it is to be handed over, as the request names it */
#define POLKIT_DETAIL_NUM_VFS           "num_vfs"       /* SetNumVfs: the VF count asked for, "7" */

/* The default call timeouts. */
#define POLKIT_TIMEOUT_USEC             (5ULL * 1000000ULL)
#define POLKIT_INTERACTIVE_TIMEOUT_USEC (120ULL * 1000000ULL)

typedef enum PolkitSubjectKind {
        POLKIT_SUBJECT_PROCESS,         /* pid, uid, pidfd */
        POLKIT_SUBJECT_BUS_NAME,        /* bus_name */
} PolkitSubjectKind;

/** PolkitSubject - who asks.  For a process: @pid and @uid from
 * SO_PEERCRED, and @pidfd (SO_PEERPIDFD, or pidfd_open() checked) or -1
 * when there is none (then pid reuse is caught by polkit's start-time
 * check alone).  The pidfd stays the caller's; it is duplicated for the
 * message.  For a D-Bus caller: @bus_name, its unique name. */
typedef struct PolkitSubject {
        PolkitSubjectKind kind;
        pid_t pid;
        uid_t uid;
        int pidfd;
        const char *bus_name;
} PolkitSubject;

#define POLKIT_SUBJECT_PROCESS_INIT(p, u, fd) \
        ((PolkitSubject) { .kind = POLKIT_SUBJECT_PROCESS, .pid = (p), .uid = (u), .pidfd = (fd) })
#define POLKIT_SUBJECT_BUS_NAME_INIT(name) \
        ((PolkitSubject) { .kind = POLKIT_SUBJECT_BUS_NAME, .pidfd = -1, .bus_name = (name) })

/** PolkitDone - the verdict.  @result: 1 authorized, 0 not authorized,
 * -errno when polkit could not be asked or answered with an error (deny):
 * -ETIMEDOUT (no answer within the timeout, or polkitd went away
 * mid-call), -EHOSTUNREACH (polkitd not on the bus), -ESRCH (the subject
 * was gone or its pid reused before polkit was asked, or a bus-name
 * subject has left the bus), -ECONNRESET (the bus connection dropped),
 * -EACCES (polkit refused to answer us), -EIO (any other polkit error,
 * such as a process that exited or was replaced by the time polkit
 * looked), -ENOENT/-ECONNREFUSED (no bus), -EBADMSG (a reply we cannot
 * read).
 * @challenge: when @result is 0, whether authenticating could change it
 * (a D-Bus face answers InteractiveAuthorizationRequired then).
 * @error_message: when @result < 0, what went wrong, for the log
 * ("org.freedesktop.DBus.Error.ServiceUnknown: ..."); NULL otherwise.
 * It lives until the callback returns. */
typedef void (*PolkitDone)(int result, bool challenge, const char *error_message, void *userdata);

/** polkit_new() - a Polkit on @event.  @bus_address: NULL for the system
 * bus ($DBUS_SYSTEM_BUS_ADDRESS or the default), or a D-Bus address (the
 * tests' private bus).  Connects on the first check.  -ENOMEM. */
int polkit_new(sd_event *event, const char *bus_address, Polkit **ret);

/** polkit_free() - close the connection and drop every pending query
 * without calling its callback: free or cancel your own requests first if
 * their callbacks must run.  NULL-safe; returns NULL. */
Polkit *polkit_free(Polkit *p);

/** polkit_set_timeouts() - how long one CheckAuthorization may take, for
 * non-interactive checks and for interactive ones (where a person may be
 * typing a password); 0 keeps the current value.  Applies to checks
 * started afterwards. */
void polkit_set_timeouts(Polkit *p, uint64_t usec, uint64_t interactive_usec);

/** polkit_check() - ask whether @subject may do @action_id.
 * @details: NULL, or key, value, key, value, ..., NULL: strings the rules
 * see through action.lookup(key).  @interactive: allow polkit to ask the
 * user to authenticate (AllowUserInteraction).
 *
 * Returns 0 when the check is under way: @cb is then called exactly once,
 * always later from the event loop and never from inside polkit_check(),
 * unless the query is cancelled first or @p is freed.  Errors reaching
 * polkit (no bus, subject gone) also arrive through @cb, never here.
 * Returns -EINVAL (bad arguments: an odd @details list, an empty action,
 * a subject without pid or bus name) or -ENOMEM, and then @cb is never
 * called.
 *
 * @ret_query (may be NULL): the query, valid until @cb returns or it is
 * cancelled; keep it only to cancel.
 *
 * @cb may start other checks, cancel other queries, or free @p. */
int polkit_check(Polkit *p,
                 const PolkitSubject *subject,
                 const char *action_id,
                 const char *const *details,
                 bool interactive,
                 PolkitDone cb,
                 void *userdata,
                 PolkitQuery **ret_query);

/** polkit_query_cancel() - the requester went away: the callback will not
 * be called, and when the check was interactive polkitd is told to take
 * down its authentication dialog.  NULL-safe; returns NULL. */
PolkitQuery *polkit_query_cancel(PolkitQuery *q);

/** polkit_pending() - the number of checks under way (for tests and
 * status). */
unsigned polkit_pending(Polkit *p);
