/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdevctl.h - reading mdevctl's definitions (/etc/mdevctl.d/PARENT/UUID,
 * JSON {"mdev_type": ..., "start": "auto"|"manual", "attrs": [...]}) for
 * [Persistent] ImportMdevctl=yes.
 *
 * Read only, and strictly: every directory and file is opened with
 * O_NOFOLLOW beneath the one above it (a symlink is skipped, never
 * followed), the parent directory's name must be a canonical PCI address
 * or a plain device name and the file's a canonical UUID, a file must be
 * regular and at most MDEVCTL_FILE_MAX bytes of strict JSON with exactly
 * the keys above.  Only "start": "auto" definitions are taken; one with
 * attributes is skipped, because iommud writes no vendor attributes and
 * an mdev without them would not be the one the admin defined.  Each
 * file that is skipped is reported (with the reason) and the others are
 * still read: a damaged definition never stops the rest.
 */
#pragma once

#include <stddef.h>

#include "config.h"
#include "persistent.h"
#include "shared/uuid.h"

#define MDEVCTL_DIR "/etc/mdevctl.d"
#define MDEVCTL_FILE_MAX (64 * 1024)

typedef struct MdevctlDef {
        char source[PERSISTENT_SOURCE_MAX];     /* the file: "/etc/mdevctl.d/mtty/<uuid>" */
        char parent[CONFIG_MDEV_NAME_MAX + 1];
        char type[CONFIG_MDEV_NAME_MAX + 1];
        char uuid[UUID_STRING_MAX];
} MdevctlDef;

/* A file or directory not taken, and why: @level is a syslog level
 * (LOG_WARNING for a damaged or refused definition, LOG_INFO for a
 * "manual" one, which mdevctl does not start either). */
typedef void (*MdevctlReport)(int level, const char *path, const char *problem, void *userdata);

/** mdevctl_read() - every "start": "auto" definition under @dir (sorted
 * by parent, then UUID), at most CONFIG_PERSISTENT_MAX.  A missing @dir
 * gives none.  -ENOMEM, or -errno when @dir cannot be opened (also when
 * it is a symlink: -ELOOP); a file that cannot be read is reported. */
int mdevctl_read(const char *dir, MdevctlReport report, void *userdata, MdevctlDef **ret, size_t *ret_n);
