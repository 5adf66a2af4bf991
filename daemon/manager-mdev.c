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
 * ../shared/notes/mdev-sriov-measured.md).  The
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

#include "holders.h"
#include "manager-internal.h"
#include "mdev.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "sysfs-write.h"

/* As long as a rebind's sysfs write may take (--rebind-timeout aside). */
#define MDEV_WRITE_TIMEOUT_USEC (10 * 1000 * 1000ULL)

typedef struct MdevOp {
        Manager *manager;
        bool remove;
        uid_t uid;
        char parent[128];
        char type[128];
        char uuid[UUID_STRING_MAX];
        char *dir;              /* create: the type's directory; remove: the mdev's */
        char *internal;         /* iommud's own creation: for what (manager_create_mdev_internal()) */
        SysfsWrite *write;
        ManagerMdevDone done;
        void *userdata;
} MdevOp;

static void mdev_op_free(MdevOp *op) {
        sysfs_write_free(op->write);
        free(op->dir);
        free(op->internal);
        free(op);
}

static void finish(MdevOp *op, const ManagerError *err) {
        op->done(op->manager, err, err ? NULL : op->uuid, op->userdata);
        mdev_op_free(op);
}

static void on_written(SysfsWrite *w, int result, void *userdata) {
        MdevOp *op = userdata;
        ManagerError e = { .group = -1 };

        /* The writer frees nothing itself: mdev_op_free() frees it, as
         * rebind.c does from its callback. */
        if (result >= 0) {
                if (op->remove)
                        log_info("mdev %s removed by uid %u", op->uuid, (unsigned) op->uid);
                else if (op->internal)
                        log_info("mdev %s (%s of %s) created by iommud for %s", op->uuid, op->type, op->parent,
                                 op->internal);
                else
                        log_info("mdev %s (%s of %s) created by uid %u", op->uuid, op->type, op->parent,
                                 (unsigned) op->uid);
                finish(op, NULL);
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

/* @internal: iommud's own creation, for what (not NULL): no polkit. */
static int create_mdev(Manager *m, const ManagerCaller *caller, const char *internal, const char *parent,
                       const char *type, const char *uuid, ManagerMdevDone done, void *userdata) {
        MdevOp *op = op_new(m, caller, false, done, userdata);
        ManagerError e = { .group = -1 };
        const char *devices[1];
        ManagerAuthRequest req = { .action = POLKIT_ACTION_MANAGE_MDEV, .verb = "create an mdev on", .group = -1 };
        long available = 0;
        int r;

        if (!op)
                return -ENOMEM;
        snprintf(op->parent, sizeof(op->parent), "%s", parent);
        snprintf(op->type, sizeof(op->type), "%s", type);
        r = mdev_type_find(m->sysfs, parent, type, &op->dir);
        if (r == -ENOMEM) {
                mdev_op_free(op);
                return r;
        }
        if (r == -ENODEV) {
                manager_set_error(&e, "NoSuchParent", NULL,
                                  "there is no mdev parent '%s' ('iommuctl mdev types' lists them)", parent);
                return refuse(op, &e);
        }
        if (r < 0) {
                manager_set_error(&e, "NoSuchMdevType", NULL,
                                  "%s offers no mdev type '%s' ('iommuctl mdev types' lists them)", parent, type);
                return refuse(op, &e);
        }
        if (uuid)
                snprintf(op->uuid, sizeof(op->uuid), "%s", uuid);
        else if ((r = mdev_uuid_new(op->uuid)) < 0) {
                mdev_op_free(op);
                return r;
        }
        if (registry_get_device(m->registry, op->uuid)) {
                manager_set_error(&e, "MdevExists", op->uuid, "an mdev %s exists already", op->uuid);
                return refuse(op, &e);
        }
        if (mdev_type_available(m->sysfs, op->dir, &available) >= 0 && available == 0) {
                manager_set_error(&e, "NoInstancesLeft", NULL,
                                  "%s of %s has no instances left: remove an mdev of it first", type, parent);
                return refuse(op, &e);
        }
        if (internal) {
                op->internal = strdup(internal);
                if (!op->internal) {
                        mdev_op_free(op);
                        return -ENOMEM;
                }
                authorized(m, NULL, op);
                return 0;
        }
        devices[0] = op->parent;
        req.devices = devices;
        req.n_devices = 1;
        req.mdev_type = op->type;
        r = manager_authorize(m, caller, &req, authorized, op);
        if (r < 0)
                mdev_op_free(op);
        return r;
}

int manager_create_mdev(Manager *m, const ManagerCaller *caller, const char *parent, const char *type,
                        const char *uuid, ManagerMdevDone done, void *userdata) {
        return create_mdev(m, caller, NULL, parent, type, uuid, done, userdata);
}

int manager_create_mdev_internal(Manager *m, const char *parent, const char *type, const char *uuid,
                                 const char *what_for, ManagerMdevDone done, void *userdata) {
        const ManagerCaller self = { .uid = 0, .pid = getpid(), .pidfd = -1 };

        return create_mdev(m, &self, what_for ? what_for : "iommud", parent, type, uuid, done, userdata);
}

int manager_remove_mdev(Manager *m, const ManagerCaller *caller, const char *uuid, ManagerMdevDone done,
                        void *userdata) {
        MdevOp *op = op_new(m, caller, true, done, userdata);
        ManagerError e = { .group = -1 };
        const Device *d;
        const char *devices[1];
        ManagerAuthRequest req = { .action = POLKIT_ACTION_MANAGE_MDEV, .verb = "remove the mdev", .group = -1 };
        int r;

        if (!op)
                return -ENOMEM;
        snprintf(op->uuid, sizeof(op->uuid), "%s", uuid);
        d = registry_get_device(m->registry, op->uuid);
        if (!d || d->kind != DEVICE_MDEV) {
                manager_set_error(&e, "NoSuchDevice", op->uuid, "there is no mdev %s", op->uuid);
                return refuse(op, &e);
        }
        /* Removing it would wait, without a time limit, for whoever has
         * it open: a lease's holder, or anyone else. */
        if (d->iommu_group >= 0 && manager_group_is_claimed(m, (uint32_t) d->iommu_group, &e))
                return refuse(op, &e);
        {
                char cdev[64] = "", node[64] = "";
                const char *paths[2];
                size_t k = 0;
                Holder h;

                if (d->vfio_cdev) {
                        snprintf(cdev, sizeof(cdev), "/dev/vfio/devices/%s", d->vfio_cdev);
                        paths[k++] = cdev;
                }
                if (d->iommu_group >= 0) {
                        snprintf(node, sizeof(node), "/dev/vfio/%lld", (long long) d->iommu_group);
                        paths[k++] = node;
                }
                if (holders_find(m->proc_root, paths, k, getpid(), &h) > 0) {
                        manager_set_error(&e, "DeviceInUse", op->uuid,
                                          "%s (pid %d) has %s open: the kernel would wait for it to close it",
                                          h.comm, (int) h.pid, h.path);
                        e.pid = h.pid;
                        e.group = d->iommu_group;
                        snprintf(e.command, sizeof(e.command), "%s", h.comm);
                        snprintf(e.node, sizeof(e.node), "%s", h.path);
                        return refuse(op, &e);
                }
        }
        if (asprintf(&op->dir, "bus/mdev/devices/%s", op->uuid) < 0) {
                mdev_op_free(op);
                return -ENOMEM;
        }
        devices[0] = op->uuid;
        req.devices = devices;
        req.n_devices = 1;
        r = manager_authorize(m, caller, &req, authorized, op);
        if (r < 0)
                mdev_op_free(op);
        return r;
}
