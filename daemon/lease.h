/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lease.h - one lease: one VM's devices, the iommufd they are bound to,
 * and iommud's own references to the open files it handed out.
 *
 * A Lease holds the kernel objects and nothing else: which groups it may
 * have is decided in claims.c, who may have it in the manager.  The
 * kernel calls go through iommufd.c.
 *
 * Backends and modes (how the devices leave iommud):
 *   iommufd, bound   iommud binds each device to the lease's iommufd and
 *           attaches it to one empty I/O address space (IOAS) of the
 *           lease: the group's DMA ownership is claimed here, and the
 *           device can do no DMA but into what its holder maps;
 *   iommufd, parked  iommud opens the cdev and leaves it unbound, for a
 *           VMM that binds it to the lease's iommufd itself (QEMU);
 *   legacy, bound    a type1 container with every group of the lease in
 *           it (DMA ownership claimed here) and a device fd per device:
 *           the holder gets container, groups and devices;
 *   legacy, access   no fds: the holder's uid gets read-write on each
 *           /dev/vfio/N through an ACL entry for the life of the lease,
 *           and opens the nodes itself (QEMU's host= / libvirt's way).
 *
 * The fds iommud keeps are the same open files the holder gets (dups):
 * at the end of a lease lease_cut_dma() detaches each device through
 * them, which blocks its DMA whoever else still has the file.  On legacy
 * the container is what cuts DMA, so iommud lets its device files go once
 * they are handed out (lease_handed_out()): a device file held open keeps
 * the kernel from finishing a hot-removal, and iommud must not be the one
 * that does.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "device.h"
#include "iommufd.h"
#include "process.h"
#include "shared/uuid.h"

typedef enum LeaseMode {
        LEASE_MODE_BOUND,
        LEASE_MODE_PARKED,
        LEASE_MODE_ACCESS,
        _LEASE_MODE_MAX,
} LeaseMode;

typedef enum LeaseBackend {
        LEASE_BACKEND_IOMMUFD,
        LEASE_BACKEND_LEGACY,
} LeaseBackend;

/* Which kernel call failed, and what that means, for the named errors. */
typedef struct LeaseFailure {
        const char *step;
        const char *reason;
        bool not_viable;        /* the group has another owner or a member on a host driver */
} LeaseFailure;

/* A group of a legacy lease: its node, open (bound mode) or opened to
 * the holder's uid by an ACL entry (access mode). */
typedef struct LeaseGroup {
        uint32_t id;
        int fd;                 /* bound: iommud's reference to the group file */
        bool acl;               /* access: the holder's ACL entry is on /dev/vfio/N */
} LeaseGroup;

typedef struct LeaseDevice {
        char name[UUID_STRING_MAX];
        uint32_t group;
        char cdev[16];          /* "vfio0" */
        int fd;                 /* iommud's reference to the open file */
        uint32_t devid;         /* bound mode: the device's id in the iommufd */
        uint32_t pt_id;         /* bound mode: the page table attached */
        int req_fd;             /* legacy, bound: the eventfd the kernel signals when it
                                 * wants the device back (removal, unbind), or -EBADF */
        sd_event_source *req_source;    /* the manager's watch on @req_fd */
} LeaseDevice;

/* A device a claim moved to a VFIO driver (a [Managed] device or a peer
 * in its group): restored when its group is free again, and only it, not
 * what an admin had prepared in the same group.  Or (@mdev_created) an
 * mdev a claim created: removed when its group is free again. */
typedef struct LeaseMoved {
        char name[UUID_STRING_MAX];
        uint32_t group;
        bool mdev_created;
} LeaseMoved;

#define LEASE_ID_STRING_MAX 17

typedef struct Lease {
        uint64_t id;
        char id_string[LEASE_ID_STRING_MAX];    /* 16 lower-case hex digits */
        LeaseMode mode;
        ProcessInfo holder;     /* the process whose life the lease follows */
        ProcessInfo owner;      /* who asked (a management daemon, or the holder) */
        int holder_pidfd;
        LeaseBackend backend;
        int iommufd;            /* iommufd backend */
        uint32_t ioas_id;       /* iommufd, bound mode */
        int container;          /* legacy backend, bound mode */
        bool iommu_set;         /* the container has its type1v2 IOMMU */
        LeaseGroup *groups;     /* legacy backend */
        size_t n_groups;
        LeaseDevice *devices;
        size_t n_devices;
        uint64_t created_usec;  /* CLOCK_REALTIME */
        uint64_t memlock;       /* the holder's RLIMIT_MEMLOCK iommud set, 0: untouched */
        LeaseMoved *moved;      /* devices its claims moved to a VFIO driver */
        size_t n_moved;
        char *release_reason;   /* RequestRelease: why, and when the grace ends */
        uint64_t release_deadline_usec; /* CLOCK_REALTIME */

        /* the manager's */
        void *manager;
        sd_event_source *holder_source;
        sd_event_source *release_timer;
} Lease;

const char *lease_mode_to_string(LeaseMode m);
/** lease_mode_from_string() - -EINVAL for anything but "bound"/"parked". */
int lease_mode_from_string(const char *s, LeaseMode *ret);

/** lease_id_from_string() - exactly 16 lower-case hex digits, not all 0. */
int lease_id_from_string(const char *s, uint64_t *ret);

/** lease_mode_valid() - whether @backend offers @mode. */
bool lease_mode_valid(LeaseBackend backend, LeaseMode mode);

/* Fds one reply may carry (the varlink limit, and SCM_RIGHTS's comfort). */
#define LEASE_REPLY_FDS_MAX 16

/** lease_new() - an empty lease with a fresh random id.  -EINVAL for a
 * mode the backend has not (parked on legacy, access on iommufd). */
int lease_new(LeaseBackend backend, LeaseMode mode, Lease **ret);
/** lease_new_with_id() - the same with id @id (not 0): a lease a
 * restarted iommud takes back from its state file. */
int lease_new_with_id(LeaseBackend backend, LeaseMode mode, uint64_t id, Lease **ret);
const char *lease_backend_to_string(LeaseBackend b);
/** lease_free() - closes iommud's references and the event sources; does
 * not cut DMA first (lease_cut_dma() does). */
Lease *lease_free(Lease *l);
void lease_freep(Lease **l);

/** lease_open() - the lease's iommufd (per-process accounting set first)
 * and, in bound mode, its IOAS; or its legacy container.  @f on failure. */
int lease_open(Lease *l, LeaseFailure *f);

/** lease_add_device() - add a device: open @cdev (bind and attach it in
 * bound mode); on legacy, bring its group in first (open it into the
 * container, or grant the holder's uid access to its node) and open the
 * device from the group (bound).  On failure nothing is added: files
 * opened are closed (which unbinds), a group brought in for it is let
 * go.  @vf_token (legacy, bound): the VF token to open the device with
 * (a VF whose PF is on vfio-pci), or NULL. */
int lease_add_device(Lease *l, const char *name, uint32_t group, const char *cdev, const char *vf_token,
                     LeaseFailure *f);

/** lease_find_device() - the index of @name, or -ENOENT. */
int lease_find_device(const Lease *l, const char *name);

/** lease_remove_device() - cut the DMA of device @index and drop it (on
 * legacy its group leaves the lease with its last device: the group file
 * is closed, or the ACL entry revoked; the DMA of a group whose file the
 * holder still has open can only be cut for the whole container, at the
 * end of the lease). */
void lease_remove_device(Lease *l, size_t index);

/** lease_handed_out() - the lease's fds were copied for the holder: on
 * legacy, close iommud's device files (their eventfds for the kernel's
 * requests stay).  Nothing on iommufd, where the device files are what
 * cuts DMA at the end. */
void lease_handed_out(Lease *l);

/** lease_device_gone() - whether the kernel has taken device @ld of @l
 * away, judged from @d, the device as sysfs has it now (NULL: no longer
 * there).  Returns a phrase saying how ("was removed from the host"), or
 * NULL while it is still the lease's.  Gone: the device is not there, its
 * IOMMU group changed, a PCI function is on no VFIO driver any more, or
 * (iommufd) its VFIO cdev went away.  When the kernel removes or unbinds
 * a VFIO device it drops the driver link and the cdev first, then waits
 * for the device's files to close: the device is gone from the lease
 * from that moment. */
const char *lease_device_gone(const Lease *l, const LeaseDevice *ld, const Device *d);

/** lease_add_moved() - append @n devices a claim moved.  -ENOMEM. */
int lease_add_moved(Lease *l, const LeaseMoved *moved, size_t n);

/** lease_take_moved() - remove the moved devices of @group from @l and
 * return them (*ret is NULL when there are none; the caller frees it).
 * -ENOMEM. */
int lease_take_moved(Lease *l, uint32_t group, LeaseMoved **ret, size_t *ret_n);

/** lease_has_group_before() - whether a device before @index is in the
 * group of device @index: walking the devices, the first of each group
 * is where this is false. */
bool lease_has_group_before(const Lease *l, size_t index);

/** lease_has_group() - whether any device of the lease is in @group. */
bool lease_has_group(const Lease *l, uint32_t group);

/** lease_cut_dma() - detach every device (its DMA is blocked, through
 * whichever copy of its file) and unmap the lease's IOAS.  Returns how
 * many devices were detached; failures are logged at debug level (a
 * parked fd its VMM never bound has nothing to detach). */
size_t lease_cut_dma(Lease *l);

/** lease_close_fds() - close iommud's references (device files, then the
 * groups and the container or iommufd) and revoke access-mode ACL
 * entries. */
void lease_close_fds(Lease *l);

/** lease_to_json() - the Lease of the IDL. */
json_object *lease_to_json(const Lease *l);
json_object *lease_device_to_json(const Lease *l, const LeaseDevice *d);
