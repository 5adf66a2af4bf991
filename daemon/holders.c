/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "holders.h"
#include "shared/macro.h"

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

static pid_t parse_pid(const char *s) {
        char *end;
        long v;

        if (*s < '1' || *s > '9')
                return 0;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v <= 0 || v > INT32_MAX)
                return 0;
        return (pid_t) v;
}

/* Whether fd @name of the process (its /proc directory @pidfd) is an
 * O_PATH fd: a handle on the node that never opened the device (udev
 * holds those for a moment while it sets a new node's owner and mode), so
 * it does not keep an unbind waiting.  Unknown (no fdinfo): not O_PATH. */
static bool fd_is_o_path(int pidfd, const char *name) {
        char path[32 + NAME_MAX], buf[256];
        _cleanup_close_ int fd = -EBADF;
        const char *f;
        ssize_t n;

        snprintf(path, sizeof(path), "fdinfo/%s", name);
        fd = openat(pidfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return false;
        buf[n] = 0;
        f = strstr(buf, "flags:");
        if (!f)
                return false;
        /* "flags:\t0100000" (octal) */
        return (strtoul(f + 6, NULL, 8) & O_PATH) != 0;
}

/* 1 if a fd of process @pid (its /proc directory @pidfd) is one of @paths. */
static int scan_process(int pidfd, const char *const *paths, size_t n_paths, const char **ret_path) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = openat(pidfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return 0;       /* gone, a kernel thread, or not ours to see */
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return 0;
        }
        while ((de = readdir(d))) {
                char target[PATH_MAX];
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                /* readlink, not stat: it never waits on the file's
                 * filesystem (a hung NFS mount cannot stall us). */
                n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                if (n <= 0)
                        continue;
                target[n] = 0;
                for (size_t i = 0; i < n_paths; i++)
                        if (strcmp(target, paths[i]) == 0 && !fd_is_o_path(pidfd, de->d_name)) {
                                *ret_path = paths[i];
                                return 1;
                        }
        }
        return 0;
}

int holders_find(const char *proc, const char *const *paths, size_t n_paths, pid_t skip_pid, Holder *ret) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        pid_t best = 0;
        const char *best_path = NULL;

        if (n_paths == 0)
                return 0;
        d = opendir(proc);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_close_ int pidfd = -EBADF;
                const char *path = NULL;
                pid_t pid = parse_pid(de->d_name);

                if (pid <= 0 || pid == skip_pid || (best && pid > best))
                        continue;
                pidfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (pidfd < 0)
                        continue;
                if (scan_process(pidfd, paths, n_paths, &path) > 0) {
                        best = pid;
                        best_path = path;
                        if (ret) {
                                _cleanup_close_ int cfd = openat(pidfd, "comm", O_RDONLY | O_CLOEXEC);
                                ssize_t n = cfd >= 0 ? read(cfd, ret->comm, sizeof(ret->comm) - 1) : -1;
                                ret->comm[n > 0 ? n : 0] = 0;
                                ret->comm[strcspn(ret->comm, "\n")] = 0;
                        }
                }
        }
        if (!best)
                return 0;
        if (ret) {
                ret->pid = best;
                snprintf(ret->path, sizeof(ret->path), "%s", best_path);
        }
        return 1;
}
