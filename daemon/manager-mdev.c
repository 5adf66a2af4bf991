/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-mdev.c - CreateMdev and RemoveMdev: checked, authorized, then
 * one sysfs write each, off the event loop (sysfs-write.c).
 *
 * Create: the parent and the type are looked up among what sysfs lists
 * (a name from a client never becomes a path unchecked), an existing UUID
 * and a type with no instances left are refused before the kernel is
 * asked, and what the kernel answers is named: EEXIST (the UUID exists),
 * EUSERS or ENOSPC (no instances left: another creation won the last one;
 * the mdev core says EUSERS, mtty's own count ENOSPC, measured on 6.12:
 * tests/vm/README.md, "Kernel behaviour measured here").  The
 * registry learns of the new mdev from its uevent, as of any other.
 *
 * Remove: refused while the mdev's group is claimed or any process holds
 * its VFIO nodes, because the kernel's remove then waits for those files
 * to close, without a time limit (see "When a leased device is removed"
 * in iommud(8)).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "holders.h"
#include "manager-internal.h"
#include "mdev.h"
#include "polkit.h"
#include "scanner.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "sysfs-write.h"

/* As long as a rebind's sysfs write may take (--rebind-timeout aside). */
#define MDEV_WRITE_TIMEOUT_USEC (10 * 1000 * 1000ULL)

typedef struct MdevOp {
        Manager *manager;
        bool remove;
        uid_t uid;
        ProcessInfo who;        /* a client: who asked (pid 0 for iommud's own) */
        int64_t group;          /* remove: the mdev's group, or -1 */
        char why[320];          /* an internal caller's phrase ("for a claim of uid 1000"); "" for a client */
        char parent[128];
        char type[128];
        char uuid[UUID_STRING_MAX];
        char *dir;              /* create: the type's directory; remove: the mdev's */
        SysfsWrite *write;
        ManagerWork *work;      /* the kernel's part, which a stop waits for */
        ManagerMdevDone done;
        void *userdata;
} MdevOp;

static void mdev_op_free(MdevOp *op) {
        manager_work_end(op->manager, op->work);
        sysfs_write_free(op->write);
        free(op->dir);
        free(op);
}

static void finish(MdevOp *op, const ManagerError *err) {
        op->done(op->manager, err, err ? NULL : op->uuid, op->userdata);
        mdev_op_free(op);
}

/* The record of a creation or removal done: @op is a copy of the op's
 * fields (its own is freed by then), @line the sentence. */
static void audit_mdev(Manager *m, const MdevOp *op, const char *line) {
        const Device *d = registry_get_device(m->registry, op->uuid);
        int64_t group = op->remove ? op->group : d ? d->iommu_group : -1;
        const char *device = op->uuid;
        uint32_t g = group >= 0 ? (uint32_t) group : 0;

        audit_log(&(AuditEvent) {
                .type = op->remove ? AUDIT_MDEV_REMOVED : AUDIT_MDEV_CREATED,
                .message = line,
                .devices = &device,
                .n_devices = 1,
                .groups = &g,
                .n_groups = group >= 0 ? 1 : 0,
                .process = op->why[0] ? NULL : &op->who,
                .reason = op->why,
                .mdev_parent = op->parent,
                .mdev_type = op->type,
        });
}

static void on_written(SysfsWrite *w, int result, void *userdata) {
        MdevOp *op = userdata;
        ManagerError e = { .group = -1 };

        /* The writer frees nothing itself: mdev_op_free() frees it, from
         * within this callback, as rebind.c does. */
        if (result >= 0) {
                char line[640];

                if (op->remove)
                        snprintf(line, sizeof(line), "mdev %s removed ", op->uuid);
                else
                        snprintf(line, sizeof(line), "mdev %s (%s of %s) created ", op->uuid, op->type, op->parent);
                if (op->why[0])
                        strncat(line, op->why, sizeof(line) - strlen(line) - 1);
                else
                        snprintf(line + strlen(line), sizeof(line) - strlen(line), "by uid %u", (unsigned) op->uid);
                Manager *m = op->manager;
                char uuid[UUID_STRING_MAX];
                MdevOp audit;           /* what the record needs, once @op is freed */

                /* The answer first; then, in the same turn of the loop
                 * (before any other call is read), the registry as sysfs
                 * is now, without waiting for the uevent: the caller may
                 * name the new mdev (or look for the removed one) as soon
                 * as it has the answer.  Watchers hear of it then, and
                 * the journal last (a journal write wakes journald, which
                 * on a small machine then runs before the caller). */
                snprintf(uuid, sizeof(uuid), "%s", op->uuid);
                audit = *op;
                finish(op, NULL);
                scanner_refresh_device(m->scanner, DEVICE_MDEV, uuid);
                audit_mdev(m, &audit, line);
                return;
        }
        e.errno_value = -result;
        if (!op->remove && result == -EEXIST)
                manager_set_error(&e, "MdevExists", op->uuid, "an mdev %s exists already (the kernel: EEXIST)",
                                  op->uuid);
        else if (!op->remove && (result == -EUSERS || result == -ENOSPC))
                /* EUSERS from the mdev core; ENOSPC from a parent that
                 * counts its own instances (mtty, measured on 6.12). */
                manager_set_error(&e, "NoInstancesLeft", NULL,
                                  "%s of %s has no instances left (the kernel: %s): remove an mdev of it first",
                                  op->type, op->parent, result == -EUSERS ? "EUSERS" : "ENOSPC");
        else if (result == -ETIMEDOUT)
                manager_set_error(&e, "MdevFailed", op->remove ? op->uuid : NULL,
                                  "the kernel did not finish %s mdev %s in time; see the journal and "
                                  "'iommuctl list'", op->remove ? "removing" : "creating", op->uuid);
        else
                manager_set_error(&e, "MdevFailed", op->remove ? op->uuid : NULL, "%s mdev %s failed: %s",
                                  op->remove ? "removing" : "creating", op->uuid, strerror(-result));
        snprintf(e.step, sizeof(e.step), "%s", op->remove ? "remove" : "create");
        log_info("%s", e.message);
        finish(op, &e);
}

static void authorized(Manager *m, const ManagerError *auth_err, void *userdata) {
        MdevOp *op = userdata;
        ManagerError e = { .group = -1 };
        _cleanup_close_ int dirfd = -EBADF;
        int r;

        if (auth_err) {
                finish(op, auth_err);
                return;
        }
        dirfd = sysfs_open_at(m->sysfs, op->dir, O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
                if (op->remove)
                        manager_set_error(&e, "NoSuchDevice", op->uuid, "mdev %s went away", op->uuid);
                else
                        manager_set_error(&e, "NoSuchMdevType", NULL, "%s of %s went away", op->type, op->parent);
                finish(op, &e);
                return;
        }
        if (op->why[0])
                op->work = manager_work_begin(m, "%s of mdev %s %s", op->remove ? "removal" : "creation", op->uuid,
                                              op->why);
        else
                op->work = manager_work_begin(m, "%s of mdev %s by uid %u", op->remove ? "removal" : "creation",
                                              op->uuid, (unsigned) op->uid);
        r = sysfs_write_start(m->event, dirfd, op->remove ? "remove" : "create", op->remove ? "1" : op->uuid,
                              m->timeouts.write_usec ? m->timeouts.write_usec : MDEV_WRITE_TIMEOUT_USEC, on_written,
                              op, &op->write);
        if (r < 0) {
                e.errno_value = -r;
                manager_set_error(&e, "MdevFailed", NULL, "cannot write to sysfs: %s", strerror(-r));
                finish(op, &e);
        }
}

static MdevOp *op_new(Manager *m, const ManagerCaller *caller, bool remove, ManagerMdevDone done, void *userdata) {
        MdevOp *op = calloc(1, sizeof(*op));

        if (!op)
                return NULL;
        op->manager = m;
        op->remove = remove;
        op->uid = caller->uid;
        op->who = (ProcessInfo) { .uid = caller->uid, .pid = caller->pid };
        if (caller->pid > 0)
                process_read_comm(m->proc_root, caller->pid, op->who.comm, sizeof(op->who.comm));
        op->group = -1;
        op->done = done;
        op->userdata = userdata;
        return op;
}

/* A refusal before polkit is asked: @done is called at once, as
 * manager_prepare() does with its own. */
static int refuse(MdevOp *op, const ManagerError *e) {
        log_info("Refused: %s", e->message);
        finish(op, e);
        return 0;
}

/* The checks of a creation, before the kernel is asked: 0, a refusal
 * in @e (-EINVAL), or -ENOMEM.  @ret_dir: the type's directory. */
static int check_create(Manager *m, const char *parent, const char *type, const char *uuid, unsigned want,
                        char **ret_dir, ManagerError *e) {
        _cleanup_free_ char *dir = NULL;
        long available = 0;
        int r;

        r = mdev_type_find(m->sysfs, parent, type, &dir);
        if (r == -ENOMEM)
                return r;
        if (r == -ENODEV) {
                manager_set_error(e, "NoSuchParent", NULL,
                                  "there is no mdev parent '%s' ('iommuctl mdev types' lists them)", parent);
                return -EINVAL;
        }
        if (r < 0) {
                manager_set_error(e, "NoSuchMdevType", NULL,
                                  "%s offers no mdev type '%s' ('iommuctl mdev types' lists them)", parent, type);
                return -EINVAL;
        }
        if (uuid && registry_get_device(m->registry, uuid)) {
                manager_set_error(e, "MdevExists", uuid, "an mdev %s exists already", uuid);
                return -EINVAL;
        }
        if (mdev_type_available(m->sysfs, dir, &available) >= 0 && available < (long) want) {
                if (want > 1)
                        manager_set_error(e, "NoInstancesLeft", NULL,
                                          "%s of %s has %ld instances left, %u are asked for", type, parent,
                                          available, want);
                else
                        manager_set_error(e, "NoInstancesLeft", NULL,
                                          "%s of %s has no instances left: remove an mdev of it first", type, parent);
                return -EINVAL;
        }
        if (ret_dir)
                *ret_dir = TAKE_PTR(dir);
        return 0;
}

int manager_mdev_check_create(Manager *m, const char *parent, const char *type, const char *uuid, unsigned want,
                              ManagerError *e) {
        return check_create(m, parent, type, uuid, want, NULL, e);
}

/* The checks of a removal: 0, a refusal in @e (-EINVAL).  The group's
 * claim is checked for a client only (@claimed_ok: the claim that holds
 * it asks). */
static int check_remove(Manager *m, const char *uuid, bool claimed_ok, ManagerError *e) {
        const Device *d = registry_get_device(m->registry, uuid);
        char cdev[64] = "", node[64] = "";
        const char *paths[2];
        size_t k = 0;
        Holder h;

        if (!d || d->kind != DEVICE_MDEV) {
                manager_set_error(e, "NoSuchDevice", uuid, "there is no mdev %s", uuid);
                return -EINVAL;
        }
        /* Removing it would wait, without a time limit, for whoever has
         * it open: a lease's holder, or anyone else. */
        if (!claimed_ok && d->iommu_group >= 0 && manager_group_is_claimed(m, (uint32_t) d->iommu_group, e))
                return -EINVAL;
        if (!claimed_ok && manager_mdev_is_pending(m, uuid)) {
                manager_set_error(e, "Busy", uuid, "mdev %s is being created for a claim", uuid);
                e->group = d->iommu_group;
                return -EINVAL;
        }
        if (d->vfio_cdev) {
                snprintf(cdev, sizeof(cdev), "/dev/vfio/devices/%s", d->vfio_cdev);
                paths[k++] = cdev;
        }
        if (d->iommu_group >= 0) {
                snprintf(node, sizeof(node), "/dev/vfio/%lld", (long long) d->iommu_group);
                paths[k++] = node;
        }
        if (holders_find(m->proc_root, paths, k, getpid(), &h) > 0) {
                manager_set_error(e, "DeviceInUse", uuid, "%s (pid %d) has %s open: the kernel would wait for it to close it",
                                  h.comm, (int) h.pid, h.path);
                e->pid = h.pid;
                e->group = d->iommu_group;
                snprintf(e->command, sizeof(e->command), "%s", h.comm);
                snprintf(e->node, sizeof(e->node), "%s", h.path);
                return -EINVAL;
        }
        return 0;
}

/* Fill @op (its UUID set, or for a creation chosen at random) and make
 * the checks of its kind: 0 when the kernel may be asked; 1 when @op was
 * refused (@done called, @op freed); -ENOMEM (@op freed).  @internal: a
 * claim's own mdev or a [Persistent] one, where the claim table is not
 * looked at (the claim asking holds the group). */
static int op_prepare(MdevOp *op, const char *parent, const char *type, const char *uuid, bool internal) {
        Manager *m = op->manager;
        ManagerError e = { .group = -1 };
        int r;

        if (uuid)
                snprintf(op->uuid, sizeof(op->uuid), "%s", uuid);
        else if (!op->remove && (r = mdev_uuid_new(op->uuid)) < 0) {
                mdev_op_free(op);
                return r;
        }
        if (op->remove) {
                const Device *d = registry_get_device(m->registry, op->uuid);

                /* For the record: what it was, and where. */
                if (d && d->kind == DEVICE_MDEV) {
                        snprintf(op->parent, sizeof(op->parent), "%s", d->parent ? d->parent : "");
                        snprintf(op->type, sizeof(op->type), "%s", d->mdev_type ? d->mdev_type : "");
                        op->group = d->iommu_group;
                }
                if (check_remove(m, op->uuid, internal, &e) < 0) {
                        refuse(op, &e);
                        return 1;
                }
                if (asprintf(&op->dir, "bus/mdev/devices/%s", op->uuid) < 0) {
                        mdev_op_free(op);
                        return -ENOMEM;
                }
                return 0;
        }
        snprintf(op->parent, sizeof(op->parent), "%s", parent);
        snprintf(op->type, sizeof(op->type), "%s", type);
        r = check_create(m, parent, type, op->uuid, 1, &op->dir, &e);
        if (r == -EINVAL) {
                refuse(op, &e);
                return 1;
        }
        if (r < 0) {
                mdev_op_free(op);
                return r;
        }
        return 0;
}

/* A client's CreateMdev or RemoveMdev: checked, then polkit. */
static int client_op(Manager *m, const ManagerCaller *caller, bool remove, const char *parent, const char *type,
                     const char *uuid, ManagerMdevDone done, void *userdata) {
        MdevOp *op = op_new(m, caller, remove, done, userdata);
        const char *devices[1];
        ManagerAuthRequest req = { .action = POLKIT_ACTION_MANAGE_MDEV,
                                   .verb = remove ? "remove the mdev" : "create an mdev on", .group = -1 };
        int r;

        if (!op)
                return -ENOMEM;
        r = op_prepare(op, parent, type, uuid, false);
        if (r != 0)
                return r < 0 ? r : 0;
        devices[0] = remove ? op->uuid : op->parent;
        req.devices = devices;
        req.n_devices = 1;
        req.mdev_type = remove ? NULL : op->type;
        r = manager_authorize(m, caller, &req, authorized, op);
        if (r < 0)
                mdev_op_free(op);
        return r;
}

int manager_create_mdev(Manager *m, const ManagerCaller *caller, const char *parent, const char *type,
                        const char *uuid, ManagerMdevDone done, void *userdata) {
        return client_op(m, caller, false, parent, type, uuid, done, userdata);
}

int manager_remove_mdev(Manager *m, const ManagerCaller *caller, const char *uuid, ManagerMdevDone done,
                        void *userdata) {
        return client_op(m, caller, true, NULL, NULL, uuid, done, userdata);
}

int manager_mdev_write(Manager *m, bool remove, const char *parent, const char *type, const char *uuid,
                       const char *why, ManagerMdevDone done, void *userdata) {
        ManagerCaller root = { .uid = 0, .pidfd = -EBADF };
        MdevOp *op = op_new(m, &root, remove, done, userdata);
        int r;

        if (!op)
                return -ENOMEM;
        snprintf(op->why, sizeof(op->why), "%s", why);
        if (remove) {
                /* As sysfs has it now; gone already (its parent went, or
                 * it never showed up): nothing to remove. */
                scanner_refresh_device(m->scanner, DEVICE_MDEV, uuid);
                if (!registry_get_device(m->registry, uuid)) {
                        log_debug("mdev %s is gone: nothing to remove", uuid);
                        snprintf(op->uuid, sizeof(op->uuid), "%s", uuid);
                        finish(op, NULL);
                        return 0;
                }
        }
        r = op_prepare(op, parent, type, uuid, true);
        if (r != 0)
                return r < 0 ? r : 0;
        authorized(m, NULL, op);
        return 0;
}

int manager_create_mdev_internal(Manager *m, const char *parent, const char *type, const char *uuid,
                                 const char *what_for, ManagerMdevDone done, void *userdata) {
        char why[320];

        snprintf(why, sizeof(why), "by iommud for %s", what_for);
        return manager_mdev_write(m, false, parent, type, uuid, why, done, userdata);
}
