/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysfs-write.h - one sysfs write off the event loop, under a deadline.
 *
 * Writes to driver_override, unbind and drivers_probe run driver code in
 * the writer's context: a probe can take seconds, and unbinding a VFIO
 * device that a process holds blocks until the process lets go, after a
 * signal uninterruptibly.  So the open(2) and write(2) happen on a thread
 * of their own; the event loop learns the result through an eventfd, or
 * gives up at the deadline and reports -ETIMEDOUT.  A thread that never
 * returns is abandoned, not killed: it owns copies of everything it
 * touches, so abandoning it frees nothing under it.
 *
 * The attribute is opened beneath a directory fd the caller resolved
 * (a device's or a driver's sysfs directory) with no symlink followed
 * and nothing created (no O_CREAT): a write reaches an existing
 * attribute of that directory or fails.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct SysfsWrite SysfsWrite;

/* @result: 0, -errno from open(2)/write(2), -EIO for a short write, or
 * -ETIMEDOUT at the deadline. */
typedef void (*SysfsWriteDone)(SysfsWrite *w, int result, void *userdata);

/** sysfs_write_start() - write @value (one write(2), at most a page) to
 * attribute @attr (a single name) of directory @dirfd (borrowed: the
 * thread gets its own dup) and call @done once on @e's loop.  -EINVAL for
 * a bad @attr or @value, -ENOMEM, -errno when no thread could start.
 * The caller frees *@ret with sysfs_write_free(), also after @done ran
 * (which may do it itself): the writer never frees itself. */
int sysfs_write_start(sd_event *e, int dirfd, const char *attr, const char *value, uint64_t timeout_usec,
                      SysfsWriteDone done, void *userdata, SysfsWrite **ret);

/** sysfs_write_free() - forget @w: @done is not called after this; a
 * write still running finishes on its own.  NULL-safe. */
SysfsWrite *sysfs_write_free(SysfsWrite *w);

/** sysfs_write_abandoned() - threads given up at their deadline and still
 * stuck in the kernel (for status and tests). */
unsigned sysfs_write_abandoned(void);
