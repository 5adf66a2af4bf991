/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "process.h"
#include "shared/macro.h"

int pidfd_get_pid(int pidfd, pid_t *ret) {
        char path[64], line[256];
        _cleanup_fclose_ FILE *f = NULL;

        if (pidfd < 0)
                return -EBADF;
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                long v;
                char *end;

                if (strncmp(line, "Pid:", 4) != 0)
                        continue;
                errno = 0;
                v = strtol(line + 4, &end, 10);
                if (errno || end == line + 4 || (*end != '\n' && *end != '\0'))
                        return -EINVAL;
                /* -1: the process is gone (0: another pid namespace). */
                if (v <= 0)
                        return -ESRCH;
                *ret = (pid_t) v;
                return 0;
        }
        return -EINVAL;         /* not a pidfd */
}

int pidfd_is_alive(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        int r = poll(&p, 1, 0);

        if (r < 0)
                return -errno;
        if (p.revents & POLLNVAL)
                return -EBADF;
        /* A pidfd becomes readable when its process exits. */
        return r == 0;
}

static int read_line_field(const char *path, const char *key, char *buf, size_t size) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[512];
        size_t k = strlen(key);

        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, k) == 0) {
                        snprintf(buf, size, "%.*s", (int) (size - 1), line + k);
                        return 0;
                }
        return -ENODATA;
}

void process_read_comm(const char *proc, pid_t pid, char *buf, size_t size) {
        char path[128];
        _cleanup_fclose_ FILE *f = NULL;

        buf[0] = 0;
        snprintf(path, sizeof(path), "%s/%d/comm", proc, (int) pid);
        f = fopen(path, "re");
        if (f && fgets(buf, (int) size, f))
                buf[strcspn(buf, "\n")] = 0;
        else
                buf[0] = 0;
}

int process_identify(const char *proc, int pidfd, ProcessInfo *ret) {
        ProcessInfo p = { 0 };
        char path[128], buf[256];
        unsigned long ruid, euid;
        int r;

        r = pidfd_get_pid(pidfd, &p.pid);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/%d/status", proc, (int) p.pid);
        r = read_line_field(path, "Uid:", buf, sizeof(buf));
        if (r < 0)
                return r;
        if (sscanf(buf, "%lu %lu", &ruid, &euid) != 2)
                return -EINVAL;
        p.uid = (uid_t) euid;
        process_read_comm(proc, p.pid, p.comm, sizeof(p.comm));
        /* Still the same process: the pid was not reused meanwhile. */
        r = pidfd_is_alive(pidfd);
        if (r < 0)
                return r;
        if (r == 0)
                return -ESRCH;
        *ret = p;
        return 0;
}

int process_raise_memlock(int pidfd, uint64_t bytes, uint64_t *ret_before) {
        struct rlimit old, new;
        pid_t pid;
        int r;

        r = pidfd_get_pid(pidfd, &pid);
        if (r < 0)
                return r;
        if (prlimit(pid, RLIMIT_MEMLOCK, NULL, &old) < 0)
                return -errno;
        if (ret_before)
                *ret_before = old.rlim_cur;
        if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < bytes) {
                new.rlim_cur = bytes;
                new.rlim_max = old.rlim_max == RLIM_INFINITY || old.rlim_max >= bytes ? old.rlim_max : bytes;
                if (prlimit(pid, RLIMIT_MEMLOCK, &new, NULL) < 0)
                        return -errno;
        }
        r = pidfd_is_alive(pidfd);
        if (r < 0)
                return r;
        return r ? 0 : -ESRCH;
}

int pidfd_open_pid(pid_t pid) {
        int fd;

        if (pid <= 0)
                return -ESRCH;
        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? -errno : fd;
}
