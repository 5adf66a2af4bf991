/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lease-state.h - the leases, and the groups still releasing after one,
 * as the text of the state file a restarted iommud takes them back from
 * (/run/iommud/state.json).  Plain logic: text in, records out; the file
 * and the fd store are the manager's (manager-restart.c).
 *
 * The file says what the kernel objects cannot: who holds each lease (pid
 * and start time, so a reused pid is never taken for the holder), its
 * mode and devices, what its claims moved or created, a pending release
 * request.  The kernel objects themselves (iommufd, device files, the
 * holder's pidfd) come back from systemd's fd store under names made by
 * lease_state_fd_name().
 *
 * Parsing is strict: exactly the known keys with the right types, every
 * name checked as iommud checks names from clients, every count bounded,
 * no group in two records.  Anything else rejects the whole file with a
 * message naming the first bad field ("leases[1].devices[0].name: ..."):
 * a file that is not exactly what iommud writes is not trusted at all.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "lease.h"

#define LEASE_STATE_VERSION 1
#define LEASE_STATE_MAX_BYTES (16u << 20)

/* A group whose lease ended while something still held it: it is
 * handed out again only once nobody does (manager-lease.c). */
typedef struct StateReleasing {
        uint32_t group;
        char lease[LEASE_ID_STRING_MAX];        /* the lease it was in */
        ProcessInfo holder;                     /* that lease's holder */
        LeaseBackend backend;
        char (*cdevs)[16];                      /* the group's VFIO device cdevs */
        size_t n_cdevs;
        LeaseMoved *restore;                    /* what to restore, or remove, once free */
        size_t n_restore;
} StateReleasing;

typedef struct LeaseState {
        char boot_id[37];                       /* the boot the records belong to, "" when
                                                 * iommud could not tell (see manager-restart.c) */
        Lease **leases;                         /* without fds, holder pidfds, event sources */
        size_t n_leases;
        StateReleasing *releasing;
        size_t n_releasing;
} LeaseState;

/** lease_state_format() - the file's text (NUL-terminated, ends in a
 * newline) for @leases and @rel, of boot @boot_id; NULL on -ENOMEM. */
char *lease_state_format(const char *boot_id, Lease *const *leases, size_t n, const StateReleasing *rel,
                         size_t n_rel);

/** lease_state_parse() - the records of @text (@size bytes, need not be
 * NUL-terminated).  -EINVAL with a sentence in @error (size @error_size)
 * for anything but what lease_state_format() writes; -ENOMEM. */
int lease_state_parse(const char *text, size_t size, LeaseState *ret, char *error, size_t error_size);

/** lease_state_done() - free what lease_state_parse() filled in. */
void lease_state_done(LeaseState *s);
void state_releasing_done(StateReleasing *r);

/** lease_state_forget_acls() - a record's access-mode ACL entries are
 * not its to revoke: clear the flags, so lease_free() leaves the nodes
 * alone (a lease read from the file but not taken back). */
void lease_state_forget_acls(Lease *l);

/* The kinds of file a lease keeps in the fd store. */
typedef enum LeaseFdKind {
        LEASE_FD_HOLDER,        /* the holder's pidfd */
        LEASE_FD_IOMMUFD,
        LEASE_FD_CONTAINER,     /* legacy */
        LEASE_FD_GROUP,         /* legacy: @detail is the group number */
        LEASE_FD_DEVICE,        /* iommufd: @detail is the device name */
        LEASE_FD_REQUEST,       /* legacy: the eventfd of the device named @detail */
        _LEASE_FD_KIND_MAX,
} LeaseFdKind;

#define LEASE_FD_NAME_MAX 64

/** lease_state_fd_name() - the fd store's name for one file of lease
 * @id: "L<id>.<kind>[.<detail>]", with ':' (which separates the names in
 * $LISTEN_FDNAMES) written as '_'.  @detail is NULL for the kinds without. */
void lease_state_fd_name(char buf[static LEASE_FD_NAME_MAX], const char *id, LeaseFdKind kind, const char *detail);

/** lease_state_fd_name_lease() - the lease id (16 digits and a NUL) of a
 * name lease_state_fd_name() made, or -EINVAL for any other name. */
int lease_state_fd_name_lease(const char *name, char id[static LEASE_ID_STRING_MAX]);
