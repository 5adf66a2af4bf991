/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uuid.h - mdev UUIDs, parsed strictly: 8-4-4-4-12 hex digits, nothing
 * around them.  Canonical form is lower case, as the kernel names mdevs.
 */
#pragma once

#define UUID_STRING_MAX 37

/** uuid_canonicalize() - -EINVAL unless @s is exactly a UUID. */
int uuid_canonicalize(const char *s, char buf[static UUID_STRING_MAX]);
