/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-sriov.c - SetNumVfs: how many SR-IOV virtual functions a PF
 * has, checked, authorized, then written to sriov_numvfs off the event
 * loop (sysfs-write.c), as manager-mdev.c does its writes.
 *
 * The PF is looked up in the registry by its canonical address, never
 * used as a path as given.  Refused before anything is written: a device
 * iommud does not know (NoSuchDevice), no PF (NotSriovCapable), more VFs
 * than sriov_totalvfs (TooManyVfs), a PF with no driver
 * (SriovNotConfigurable: only a driver with sriov_configure, such as
 * igb or pci-pf-stub, lets sriov_numvfs be written), another change of
 * the same PF under way (Busy), and, whenever VFs would go, any VF the
 * host needs (NotAllowed: its default route, a mounted filesystem), whose
 * group is claimed (GroupBusy) or whose VFIO nodes a process holds
 * (DeviceInUse): the kernel's removal of a VF waits, without a time
 * limit, for every open file of it, with the PF's device lock held.
 *
 * The kernel refuses to change a nonzero count to another nonzero one
 * (EBUSY): such a change is two writes, 0 and then the count.  Before VFs
 * are created, sriov_drivers_autoprobe is set to 0, so that they come up
 * unbound, ready for vfio-pci, rather than on a host driver; it stays 0
 * afterwards (iommud(8), SR-IOV).  When a write fails, what was written
 * is undone: the VF count as it was, autoprobe as it was.
 *
 * The registry learns of VFs from their uevents; the PF and its VFs, old
 * and new, are also read again once the writes are done, so the reply and
 * the next ListDevices show them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "holders.h"
#include "manager-internal.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "sriov.h"
#include "sysfs-write.h"

/* Measured in the test VM: 7 igb VFs appear in 0.2 s, and go in 1 s (the
 * kernel sleeps a second after clearing VF Enable).  A PF with hundreds
 * of VFs and their drivers' probes take longer. */
#define SRIOV_WRITE_TIMEOUT_USEC (30 * 1000 * 1000ULL)

typedef enum SriovStep {
        STEP_AUTOPROBE,         /* sriov_drivers_autoprobe = 0 */
        STEP_NUMVFS,            /* steps[i] to sriov_numvfs */
        STEP_ROLLBACK,          /* back to before */
        STEP_AUTOPROBE_BACK,    /* autoprobe as it was */
} SriovStep;

struct SriovOp {
        Manager *manager;
        struct SriovOp *next;   /* m->sriov_ops: one change per PF at a time */
        uid_t uid;
        ProcessInfo who;        /* a client: who asked (pid 0 for iommud's own) */
        char pf[PCI_ADDRESS_STRING_MAX];
        char num[16];
        int target;
        int before;             /* VFs when the writes started */
        int steps[2];
        size_t n_steps, step_i;
        SriovStep step;
        bool autoprobe_was_on;  /* ... and this op turned it off */
        char **old_vfs;         /* the VFs there were: to read again */
        uint64_t started;
        char why[320];          /* "by iommud for FILE:LINE", or "" for a caller */
        ManagerError failure;   /* the write that failed, while rolling back */
        SysfsWrite *write;
        ManagerWork *work;      /* the writes, which a stop waits for */
        int dirfd;
        ManagerSriovDone done;
        void *userdata;
};

static void op_free(SriovOp *op) {
        if (!op)
                return;
        for (SriovOp **p = &op->manager->sriov_ops; *p; p = &(*p)->next)
                if (*p == op) {
                        *p = op->next;
                        break;
                }
        manager_work_end(op->manager, op->work);
        sysfs_write_free(op->write);
        sysfs_strv_free(op->old_vfs);
        safe_close(op->dirfd);
        free(op);
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* The PF and its VFs, old and new, read again; the reply's result. */
static json_object *refresh(SriovOp *op) {
        Manager *m = op->manager;
        json_object *result = json_object_new_object(), *vfs = json_object_new_array();
        char **now = NULL;
        const Device *d;

        if (!result || !vfs) {
                json_object_put(result);
                json_object_put(vfs);
                return NULL;
        }
        for (char **v = op->old_vfs; v && *v; v++) {
                /* The kernel removed every VF (a 0 was written): a VF iommud
                 * had prepared is gone, and its record with it; a VF at
                 * that address now is a new device, unbound. */
                if (op->before > 0 && op->target != op->before && m->prepared &&
                    prepared_store_get(m->prepared, *v)) {
                        (void) prepared_store_remove(m->prepared, *v);
                        registry_invalidate_json(m->registry, *v);
                        log_info("%s, prepared, went with the VFs of %s: its record is dropped", *v, op->pf);
                }
                scanner_refresh_device(m->scanner, DEVICE_PCI, *v);
        }
        if (sriov_list_vfs(m->sysfs, op->pf, &now, NULL) >= 0)
                for (char **v = now; *v; v++) {
                        scanner_refresh_device(m->scanner, DEVICE_PCI, *v);
                        json_object_array_add(vfs, json_object_new_string(*v));
                }
        sysfs_strv_free(now);
        scanner_refresh_device(m->scanner, DEVICE_PCI, op->pf);
        d = registry_get_device(m->registry, op->pf);
        json_object_object_add(result, "device", d ? registry_device_to_json(m->registry, d) : NULL);
        json_object_object_add(result, "vfs", vfs);
        return result;
}

static void finish(SriovOp *op, const ManagerError *err) {
        json_object *result = err ? NULL : refresh(op);

        if (!err && !result) {
                ManagerError e = { .group = -1 };
                manager_set_error(&e, "SriovFailed", op->pf, "out of memory after setting the VFs");
                op->done(op->manager, &e, NULL, op->userdata);
        } else
                op->done(op->manager, err, result, op->userdata);
        json_object_put(result);
        op_free(op);
}

static void on_written(SysfsWrite *w, int result, void *userdata);

static int write_next(SriovOp *op, const char *attr, const char *value) {
        Manager *m = op->manager;

        return sysfs_write_start(m->event, op->dirfd, attr, value, SRIOV_WRITE_TIMEOUT_USEC, on_written, op,
                                 &op->write);
}

static const char *errno_name(int e) {
        switch (e) {
        case ENOENT: return "ENOENT";
        case ERANGE: return "ERANGE";
        case EBUSY: return "EBUSY";
        case EINVAL: return "EINVAL";
        case ENOMEM: return "ENOMEM";
        case EIO: return "EIO";
        case ENOSPC: return "ENOSPC";
        case ETIMEDOUT: return "ETIMEDOUT";
        default: return NULL;
        }
}

/* What the kernel answered to writing @value to sriov_numvfs, named. */
static void numvfs_error(SriovOp *op, int value, int result, ManagerError *e) {
        const Device *d = registry_get_device(op->manager->registry, op->pf);
        const char *drv = d && d->driver ? d->driver : NULL;
        char kernel[64];

        if (errno_name(-result))
                snprintf(kernel, sizeof(kernel), "the kernel: %s", errno_name(-result));
        else
                snprintf(kernel, sizeof(kernel), "the kernel: %s", strerror(-result));
        *e = (ManagerError) { .group = -1, .errno_value = -result };
        snprintf(e->step, sizeof(e->step), "sriov_numvfs=%d", value);
        if (result == -ENOENT)
                manager_set_error(e, "SriovNotConfigurable", op->pf,
                                  "%s cannot set VFs on %s (%s): its driver must implement sriov_configure "
                                  "(its own, or pci-pf-stub; vfio-pci only with enable_sriov=1)",
                                  drv ? drv : "no driver", op->pf, kernel);
        else if (result == -ERANGE)
                manager_set_error(e, "TooManyVfs", op->pf, "%s cannot have %d VFs (%s)", op->pf, value, kernel);
        else if (result == -EBUSY)
                manager_set_error(e, "SriovFailed", op->pf,
                                  "%s already has VFs (%s): something else changed them meanwhile", op->pf,
                                  kernel);
        else if (result == -ETIMEDOUT)
                manager_set_error(e, "SriovFailed", op->pf,
                                  "setting %d VFs on %s did not finish in %llu s: a VF may be held open; "
                                  "see the journal and 'iommuctl sriov %s'",
                                  value, op->pf, SRIOV_WRITE_TIMEOUT_USEC / 1000000ULL, op->pf);
        else
                manager_set_error(e, "SriovFailed", op->pf, "setting %d VFs on %s failed (%s)", value, op->pf,
                                  kernel);
}

/* Undo: the VF count as it was (when a 0 was written first), then
 * autoprobe as it was.  The failure is reported once that is done. */
static void roll_back(SriovOp *op) {
        char v[16];
        int r;

        /* A write the kernel has not finished (the deadline passed) holds
         * the PF's lock: any other would only queue up behind it. */
        if (op->failure.errno_value == ETIMEDOUT && op->step != STEP_AUTOPROBE_BACK) {
                snprintf(op->failure.rollback_message, sizeof(op->failure.rollback_message),
                         "nothing was put back: the kernel has not finished the write");
                op->step = STEP_AUTOPROBE_BACK;
        }
        /* A nonzero count changed to another: 0 was written, then the
         * count failed; the VFs there were come back. */
        if (op->step == STEP_NUMVFS && op->step_i > 0 && op->before > 0) {
                op->step = STEP_ROLLBACK;
                snprintf(v, sizeof(v), "%d", op->before);
                r = write_next(op, "sriov_numvfs", v);
                if (r >= 0)
                        return;
                snprintf(op->failure.rollback_message, sizeof(op->failure.rollback_message),
                         "putting back %d VFs could not start: %s", op->before, strerror(-r));
        }
        if (op->step < STEP_AUTOPROBE_BACK && op->autoprobe_was_on) {
                op->step = STEP_AUTOPROBE_BACK;
                r = write_next(op, "sriov_drivers_autoprobe", "1");
                if (r >= 0)
                        return;
                if (!op->failure.rollback_message[0])
                        snprintf(op->failure.rollback_message, sizeof(op->failure.rollback_message),
                                 "setting sriov_drivers_autoprobe back to 1 could not start: %s", strerror(-r));
        }
        op->failure.rolled_back = !op->failure.rollback_message[0];
        {
                ManagerError e = op->failure;
                char **now = NULL;
                size_t n = 0;
                size_t len = strlen(e.message);
                if (sriov_list_vfs(op->manager->sysfs, op->pf, &now, &n) >= 0)
                        snprintf(e.message + len, sizeof(e.message) - len, "; %s has %zu VFs now%s", op->pf, n,
                                 e.rolled_back ? ", as before" : "");
                sysfs_strv_free(now);
                log_info("%s", e.message);
                finish(op, &e);
        }
}

static void fail(SriovOp *op, const ManagerError *e) {
        op->failure = *e;
        roll_back(op);
}

static void next_numvfs(SriovOp *op) {
        ManagerError e = { .group = -1 };
        char v[16];
        int r;

        if (op->step_i == op->n_steps) {
                const char *pf = op->pf;
                char by[340], line[512];
                if (op->why[0])
                        snprintf(by, sizeof(by), "%s", op->why);
                else
                        snprintf(by, sizeof(by), "by uid %u", (unsigned) op->uid);
                snprintf(line, sizeof(line), "%s: %d VFs (were %d%s), set %s in %llu ms", op->pf, op->target,
                         op->before, op->n_steps == 2 ? "; through 0, so every VF is new" : "", by,
                         (unsigned long long) ((now_usec() - op->started) / 1000));
                audit_log(&(AuditEvent) { .type = AUDIT_VFS_CHANGED, .message = line, .devices = &pf,
                                          .n_devices = 1, .process = op->why[0] ? NULL : &op->who,
                                          .reason = op->why, .num_vfs = op->target,
                                          .previous_num_vfs = op->before });
                finish(op, NULL);
                return;
        }
        op->step = STEP_NUMVFS;
        snprintf(v, sizeof(v), "%d", op->steps[op->step_i]);
        r = write_next(op, "sriov_numvfs", v);
        if (r < 0) {
                e.errno_value = -r;
                manager_set_error(&e, "SriovFailed", op->pf, "cannot write to sysfs: %s", strerror(-r));
                fail(op, &e);
        }
}

static void on_written(SysfsWrite *w, int result, void *userdata) {
        SriovOp *op = userdata;
        ManagerError e;

        /* The writer frees nothing itself; freeing it from its own
         * callback is allowed (sysfs-write.c). */
        op->write = sysfs_write_free(op->write);
        switch (op->step) {
        case STEP_AUTOPROBE:
                if (result < 0) {
                        e = (ManagerError) { .group = -1, .errno_value = -result };
                        snprintf(e.step, sizeof(e.step), "sriov_drivers_autoprobe=0");
                        manager_set_error(&e, "SriovFailed", op->pf,
                                          "cannot turn off driver autoprobe for the VFs of %s: %s", op->pf,
                                          strerror(-result));
                        op->autoprobe_was_on = false;   /* not changed */
                        fail(op, &e);
                        return;
                }
                next_numvfs(op);
                return;
        case STEP_NUMVFS:
                if (result < 0) {
                        numvfs_error(op, op->steps[op->step_i], result, &e);
                        fail(op, &e);
                        return;
                }
                op->step_i++;
                next_numvfs(op);
                return;
        case STEP_ROLLBACK:
                if (result < 0)
                        snprintf(op->failure.rollback_message, sizeof(op->failure.rollback_message),
                                 "putting back %d VFs failed: %s", op->before, strerror(-result));
                roll_back(op);
                return;
        case STEP_AUTOPROBE_BACK:
                if (result < 0 && !op->failure.rollback_message[0])
                        snprintf(op->failure.rollback_message, sizeof(op->failure.rollback_message),
                                 "setting sriov_drivers_autoprobe back to 1 failed: %s", strerror(-result));
                roll_back(op);
                return;
        }
}

/* Whether any VF in @vfs is claimed or held open: @e says which. */
static bool vfs_busy(Manager *m, char **vfs, ManagerError *e) {
        typedef struct Node {
                char path[64];
                const char *vf;
                int64_t group;
        } Node;
        _cleanup_free_ Node *nodes = NULL;
        _cleanup_free_ const char **ptrs = NULL;
        size_t n = 0, k = 0;
        Holder h;

        for (char **v = vfs; v && *v; v++)
                n++;
        if (n == 0)
                return false;
        nodes = calloc(2 * n, sizeof(*nodes));
        ptrs = calloc(2 * n, sizeof(*ptrs));
        if (!nodes || !ptrs) {
                manager_set_error(e, "SriovFailed", NULL, "out of memory");
                return true;
        }
        for (char **v = vfs; *v; v++) {
                const Device *d = registry_get_device(m->registry, *v);
                const char *critical;

                if (!d) {
                        scanner_refresh_device(m->scanner, DEVICE_PCI, *v);    /* its uevent may still be queued */
                        d = registry_get_device(m->registry, *v);
                }
                if (!d)
                        continue;
                /* A VF the host uses (its route, its disk) goes with the
                 * others: iommud does not take it away. */
                if (m->host_guard && (critical = host_guard_reason(m->host_guard, *v))) {
                        manager_set_error(e, "NotAllowed", *v, "the host needs VF %s: it %s", *v, critical);
                        e->group = d->iommu_group;
                        return true;
                }
                if (d->iommu_group >= 0 && manager_group_is_claimed(m, (uint32_t) d->iommu_group, e)) {
                        size_t len = strlen(e->message);
                        snprintf(e->message + len, sizeof(e->message) - len,
                                 " (VF %s): the VFs cannot change while one is leased", *v);
                        return true;
                }
                if (d->vfio_cdev)
                        snprintf(nodes[k++].path, sizeof(nodes[0].path), "/dev/vfio/devices/%s", d->vfio_cdev);
                if (d->iommu_group >= 0 && d->vfio_group_node)
                        snprintf(nodes[k++].path, sizeof(nodes[0].path), "/dev/vfio/%lld",
                                 (long long) d->iommu_group);
                for (size_t i = 0; i < k; i++)
                        if (!nodes[i].vf) {
                                nodes[i].vf = *v;
                                nodes[i].group = d->iommu_group;
                        }
        }
        for (size_t i = 0; i < k; i++)
                ptrs[i] = nodes[i].path;
        if (k > 0 && holders_find(m->proc_root, ptrs, k, getpid(), &h) > 0) {
                for (size_t i = 0; i < k; i++)
                        if (strcmp(nodes[i].path, h.path) == 0) {
                                manager_set_error(e, "DeviceInUse", nodes[i].vf,
                                                  "%s (pid %d) has %s open, of VF %s: the kernel would wait for it "
                                                  "to close it",
                                                  h.comm, (int) h.pid, h.path, nodes[i].vf);
                                e->group = nodes[i].group;
                                break;
                        }
                if (!e->name)
                        manager_set_error(e, "DeviceInUse", NULL, "%s (pid %d) has %s open, a VF's", h.comm,
                                          (int) h.pid, h.path);
                e->pid = h.pid;
                snprintf(e->command, sizeof(e->command), "%s", h.comm);
                snprintf(e->node, sizeof(e->node), "%s", h.path);
                return true;
        }
        return false;
}

/* Everything that refuses without writing; also run again once polkit
 * said yes, since a VF may have been claimed meanwhile.  Fills
 * op->old_vfs and op->before. */
static bool refused(SriovOp *op, ManagerError *e) {
        Manager *m = op->manager;
        const Device *d = registry_get_device(m->registry, op->pf);
        size_t n = 0;
        int r;

        if (!d || d->kind != DEVICE_PCI) {
                manager_set_error(e, "NoSuchDevice", op->pf, "there is no PCI function %s", op->pf);
                return true;
        }
        if (d->physfn || d->sriov_totalvfs < 0) {
                if (d->physfn)
                        manager_set_error(e, "NotSriovCapable", op->pf,
                                          "%s is a VF (of %s), not an SR-IOV physical function", op->pf, d->physfn);
                else
                        manager_set_error(e, "NotSriovCapable", op->pf, "%s is not an SR-IOV physical function",
                                          op->pf);
                return true;
        }
        if (op->target > d->sriov_totalvfs) {
                manager_set_error(e, "TooManyVfs", op->pf, "%s can have at most %d VFs, not %d", op->pf,
                                  d->sriov_totalvfs, op->target);
                return true;
        }
        if (!d->driver) {
                manager_set_error(e, "SriovNotConfigurable", op->pf,
                                  "%s has no driver, and only its driver can set VFs: bind it to its own driver "
                                  "or to pci-pf-stub", op->pf);
                return true;
        }
        for (SriovOp *o = m->sriov_ops; o; o = o->next)
                if (o != op && strcmp(o->pf, op->pf) == 0) {
                        manager_set_error(e, "Busy", op->pf, "the VFs of %s are being changed already", op->pf);
                        return true;
                }
        op->old_vfs = sysfs_strv_free(op->old_vfs);
        r = sriov_list_vfs(m->sysfs, op->pf, &op->old_vfs, &n);
        if (r < 0) {
                manager_set_error(e, "NoSuchDevice", op->pf, "%s went away", op->pf);
                return true;
        }
        op->before = (int) n;
        if (op->before != op->target && op->before > 0 && vfs_busy(m, op->old_vfs, e)) {
                if (!e->device[0])
                        snprintf(e->device, sizeof(e->device), "%s", op->pf);
                return true;
        }
        return false;
}

static void authorized(Manager *m, const ManagerError *auth_err, void *userdata) {
        SriovOp *op = userdata;
        ManagerError e = { .group = -1 };
        _cleanup_free_ char *autoprobe = NULL;
        char dir[64];
        int r;

        if (auth_err) {
                finish(op, auth_err);
                return;
        }
        if (refused(op, &e)) {
                log_info("Refused: %s", e.message);
                finish(op, &e);
                return;
        }
        op->n_steps = sriov_plan(op->before, op->target, op->steps);
        if (op->n_steps == 0) {
                finish(op, NULL);
                return;
        }
        snprintf(dir, sizeof(dir), "bus/pci/devices/%s", op->pf);
        op->dirfd = sysfs_open_at(m->sysfs, dir, O_DIRECTORY | O_CLOEXEC);
        if (op->dirfd < 0) {
                manager_set_error(&e, "NoSuchDevice", op->pf, "%s went away", op->pf);
                finish(op, &e);
                return;
        }
        op->started = now_usec();
        if (op->why[0])
                op->work = manager_work_begin(m, "setting the VFs of %s to %d %s", op->pf, op->target, op->why);
        else
                op->work = manager_work_begin(m, "setting the VFs of %s to %d by uid %u", op->pf, op->target,
                                              (unsigned) op->uid);
        /* Reading autoprobe takes no lock (unlike sriov_numvfs). */
        r = sysfs_device_read_attr(m->sysfs, SYSFS_BUS_PCI, op->pf, "sriov_drivers_autoprobe", &autoprobe);
        op->autoprobe_was_on = op->target > 0 && (r < 0 || strcmp(autoprobe, "0") != 0);
        if (!op->autoprobe_was_on) {
                next_numvfs(op);
                return;
        }
        op->step = STEP_AUTOPROBE;
        r = write_next(op, "sriov_drivers_autoprobe", "0");
        if (r < 0) {
                e.errno_value = -r;
                manager_set_error(&e, "SriovFailed", op->pf, "cannot write to sysfs: %s", strerror(-r));
                op->autoprobe_was_on = false;
                finish(op, &e);
        }
}

static int set_numvfs(Manager *m, const ManagerCaller *caller, const char *pf, int n, const char *why,
                      ManagerSriovDone done, void *userdata) {
        SriovOp *op;
        ManagerError e = { .group = -1 };
        const char *devices[1];
        ManagerAuthRequest req = { .action = POLKIT_ACTION_MANAGE_SRIOV, .verb = "set the VFs of", .group = -1 };
        int r;

        if (n < 0 || n > SRIOV_VFS_MAX)
                return -EINVAL;
        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->manager = m;
        op->uid = caller->uid;
        op->who = (ProcessInfo) { .uid = caller->uid, .pid = caller->pid };
        if (caller->pid > 0)
                process_read_comm(m->proc_root, caller->pid, op->who.comm, sizeof(op->who.comm));
        op->target = n;
        op->dirfd = -EBADF;
        op->done = done;
        op->userdata = userdata;
        snprintf(op->pf, sizeof(op->pf), "%s", pf);
        snprintf(op->num, sizeof(op->num), "%d", n);
        snprintf(op->why, sizeof(op->why), "%s", why ? why : "");
        if (refused(op, &e)) {
                log_info("Refused: %s", e.message);
                op->done(m, &e, NULL, op->userdata);
                sysfs_strv_free(op->old_vfs);
                free(op);
                return 0;
        }
        /* In the list from now on: a second change of this PF is Busy. */
        op->next = m->sriov_ops;
        m->sriov_ops = op;
        devices[0] = op->pf;
        req.devices = devices;
        req.n_devices = 1;
        req.num_vfs = op->num;
        r = manager_authorize(m, caller, &req, authorized, op);
        if (r < 0)
                op_free(op);
        return r;
}

int manager_set_sriov_numvfs(Manager *m, const ManagerCaller *caller, const char *pf, int n, ManagerSriovDone done,
                             void *userdata) {
        return set_numvfs(m, caller, pf, n, NULL, done, userdata);
}

/* ---- for iommud itself: [Persistent] SriovNumVfs= ---- */

typedef struct InternalCall {
        ManagerNumVfsDone done;
        void *userdata;
} InternalCall;

static void internal_done(Manager *m, const ManagerError *err, json_object *result, void *userdata) {
        InternalCall ic = *(InternalCall *) userdata;

        free(userdata);
        ic.done(m, err, ic.userdata);
}

int manager_sriov_set_numvfs_internal(Manager *m, const char *pf, unsigned n, const char *what_for,
                                      ManagerNumVfsDone done, void *userdata) {
        /* iommud is root: polkit is not asked; every other check is made. */
        ManagerCaller self = { .uid = 0, .pid = getpid(), .pidfd = -EBADF };
        char why[320];
        InternalCall *ic;
        int r;

        if (n > SRIOV_VFS_MAX) {
                ManagerError e = { .group = -1 };
                manager_set_error(&e, "TooManyVfs", pf, "%u VFs: no PF can have more than %d", n, SRIOV_VFS_MAX);
                done(m, &e, userdata);
                return 0;
        }
        ic = malloc(sizeof(*ic));
        if (!ic)
                return -ENOMEM;
        *ic = (InternalCall) { .done = done, .userdata = userdata };
        snprintf(why, sizeof(why), "by iommud for %s", what_for ? what_for : "itself");
        r = set_numvfs(m, &self, pf, (int) n, why, internal_done, ic);
        if (r < 0)
                free(ic);
        return r;
}
