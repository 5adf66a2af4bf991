/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rebind.h - moving PCI functions between drivers: the plan (pure logic)
 * and the job that carries it out against sysfs, off the event loop.
 *
 * A step takes one function from where it is (driver, driver_override)
 * to where it should be:
 *   1. driver_override := the target's override (cleared when none);
 *   2. if bound to another driver, write the address to
 *      bus/pci/drivers/<driver>/unbind;
 *   3. if a driver should be bound: write the address to
 *      bus/pci/drivers_probe and wait for the device to show that driver,
 *      checking right after the write and at every uevent the caller
 *      passes on (rebind_job_device_changed()), until the deadline.
 * Each write runs on a thread (sysfs-write.h) under a deadline.
 *
 * Before the first step, one walk of /proc checks that nobody holds a
 * VFIO node (cdev or group node) of any device the plan takes off a VFIO
 * driver: the kernel's unbind would wait for them, uninterruptibly after
 * a signal.  A held device refuses the whole job with nothing touched.
 * (A process that opens a node between that walk and the unbind is not
 * seen; leases will close that gap by making iommud the only opener.)
 *
 * A job runs its steps in order.  When one fails, the steps already taken
 * and the failed one are undone in reverse order, each by a step back to
 * where it started, so the whole group ends where it was.
 *
 * Errors (RebindJobResult.error): -ETIMEDOUT (a write or a bind did not
 * complete in time), -EBUSY (a VFIO node is held; holder in the result),
 * -ENODEV (the device went away), -EIO (bound to the wrong driver),
 * -errno from sysfs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "group.h"
#include "holders.h"
#include "sysfs.h"

#define REBIND_DRIVER_MAX 64

typedef struct RebindStep {
        char name[PCI_ADDRESS_STRING_MAX];
        char *from_driver;      /* where it is: bound driver, NULL unbound */
        char *from_override;    /*   its driver_override, NULL unset */
        char *to_driver;        /* where it goes: NULL leaves it unbound */
        char *to_override;      /*   NULL clears driver_override */
        bool reprobe;           /* to_driver NULL: reprobe, and take whatever binds */
} RebindStep;

typedef struct RebindPlan {
        RebindStep *steps;
        size_t n;
} RebindPlan;

RebindPlan *rebind_plan_free(RebindPlan *p);
void rebind_plan_freep(RebindPlan **p);

/** rebind_plan_add() - append a step (strings copied; NULL allowed).
 * -EINVAL for a name that is not a canonical PCI address or a driver name
 * that is not a valid sysfs name, -ENOMEM. */
int rebind_plan_add(RebindPlan *p, const char *name, const char *from_driver, const char *from_override,
                    const char *to_driver, const char *to_override);

/** RebindVariantFn - the VFIO driver for @d: "vfio-pci", or a variant
 * driver modules.alias names for it. */
typedef const char *(*RebindVariantFn)(const Device *d, void *userdata);

/** rebind_plan_add_reprobe() - a step off a VFIO driver to whichever host
 * driver the kernel picks (or none): driver_override cleared, unbound,
 * drivers_probe.  For a device whose original driver iommud never knew
 * (reserved at boot). */
int rebind_plan_add_reprobe(RebindPlan *p, const char *name, const char *from_driver, const char *from_override);

/** rebind_plan_prepare() - the steps that make @targets (members of @g)
 * usable through VFIO and @g viable: every target and every member that
 * blocks the group goes to its VFIO driver.  Left alone: bridges and
 * pcieport (device_is_bridge()), members already on a VFIO driver or pci-stub, unbound members
 * that are not targets, mdevs.  @variant may be NULL (vfio-pci). */
int rebind_plan_prepare(const Group *g, const Device *const *targets, size_t n_targets, RebindVariantFn variant,
                        void *userdata, RebindPlan **ret);

/** rebind_plan_reverse() - the steps that undo @p's first @n steps, last
 * first. */
int rebind_plan_reverse(const RebindPlan *p, size_t n, RebindPlan **ret);

typedef struct RebindTimeouts {
        uint64_t write_usec;    /* each sysfs write; default 10 s */
        uint64_t bind_usec;     /* each bind after drivers_probe; default 10 s */
} RebindTimeouts;

typedef struct RebindJobResult {
        int error;              /* 0 or -errno, see above */
        size_t failed_step;     /* index in the plan, when error < 0 */
        char message[256];      /* what failed, for people */
        bool rolled_back;       /* every step undone (only when error < 0) */
        char rollback_message[256];     /* the first rollback failure */
        Holder holder;          /* on -EBUSY */
} RebindJobResult;

typedef struct RebindJob RebindJob;
typedef void (*RebindJobDone)(RebindJob *j, const RebindJobResult *result, void *userdata);

/** rebind_job_start() - carry out @plan (taken).  @proc is "/proc" (for
 * the holder check).  @done runs once on @e's loop. */
int rebind_job_start(sd_event *e, Sysfs *s, const char *proc, RebindPlan *plan, const RebindTimeouts *t,
                     RebindJobDone done, void *userdata, RebindJob **ret);
RebindJob *rebind_job_free(RebindJob *j);
const RebindPlan *rebind_job_get_plan(const RebindJob *j);

/** rebind_job_device_changed() - the device @name changed (a uevent): if
 * the job waits for it to bind, it looks again. */
void rebind_job_device_changed(RebindJob *j, const char *name);
