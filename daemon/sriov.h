/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sriov.h - SR-IOV physical functions: their virtual functions as sysfs
 * lists them, and the writes that change how many there are.
 *
 * A PF's VFs are read from its virtfnN links, never from sriov_numvfs:
 * reading that attribute takes the PF's device lock, which a write to it
 * holds for as long as the driver takes to add or remove the VFs, and
 * without a time limit while any VF's VFIO file is open.  The registry
 * reads on the event loop, so it counts the links instead.
 */
#pragma once

#include <stddef.h>

#include "sysfs.h"

/* Linux's limit: a VF count is a 16-bit field of the SR-IOV capability. */
#define SRIOV_VFS_MAX 65535

/** sriov_list_vfs() - the VFs of PF @pf (canonical PCI address) now in
 * sysfs, by their virtfnN index, as canonical addresses in a
 * NULL-terminated array (free with sysfs_strv_free()); *@ret_n their
 * number.  A function that is no PF, or has no VFs, gives an empty array.
 * -ENOENT when @pf is gone, -EINVAL for a name that is not canonical. */
int sriov_list_vfs(Sysfs *s, const char *pf, char ***ret, size_t *ret_n);

/** sriov_count_vfs() - how many virtfnN links PF @pf has (one listing of
 * its directory, no link read): what the registry calls its VF count.
 * Errors as sriov_list_vfs(). */
int sriov_count_vfs(Sysfs *s, const char *pf, size_t *ret);

/** sriov_plan() - the values to write to sriov_numvfs, in order, to go
 * from @current to @target VFs: none when they are equal, one when either
 * is 0, else 0 and then @target (the kernel refuses to change a nonzero
 * count to another nonzero one: EBUSY).  Returns how many (0-2), written
 * to @steps. */
size_t sriov_plan(int current, int target, int steps[static 2]);
