/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fd-util.h - small helpers on file descriptors.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>

/** fd_set_nonblock() - add O_NONBLOCK to @fd; -errno. */
static inline int fd_set_nonblock(int fd) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}
