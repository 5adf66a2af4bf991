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

/* A small /proc file, whole, NUL-terminated: open, read, close (no stdio:
 * on a claim's path every system call counts).  The length, or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t k = 0;

        if (fd < 0)
                return -errno;
        while (k < size - 1) {
                ssize_t n = read(fd, buf + k, size - 1 - k);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                k += (size_t) n;
        }
        buf[k] = 0;
        return (ssize_t) k;
}

/* The value of the line starting with @key in @text, or NULL. */
static const char *find_line(const char *text, const char *key) {
        size_t k = strlen(key);
        const char *p = text;

        while (p) {
                if (strncmp(p, key, k) == 0)
                        return p + k;
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return NULL;
}

int pidfd_get_pid(int pidfd, pid_t *ret) {
        char path[64], text[1024];
        const char *line;
        ssize_t n;

        if (pidfd < 0)
                return -EBADF;
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        n = read_small(path, text, sizeof(text));
        if (n < 0)
                return (int) n;
        line = find_line(text, "Pid:");
        if (line) {
                long v;
                char *end;

                errno = 0;
                v = strtol(line, &end, 10);
                if (errno || end == line || (*end != '\n' && *end != '\0'))
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
        char text[4096];
        const char *line;
        ssize_t n = read_small(path, text, sizeof(text));

        if (n < 0)
                return n == -ENOENT ? -ESRCH : (int) n;
        line = find_line(text, key);
        if (!line)
                return -ENODATA;
        snprintf(buf, size, "%.*s", (int) strcspn(line, "\n"), line);
        return 0;
}

void process_read_comm(const char *proc, pid_t pid, char *buf, size_t size) {
        char path[128], text[64];

        buf[0] = 0;
        snprintf(path, sizeof(path), "%s/%d/comm", proc, (int) pid);
        if (read_small(path, text, sizeof(text)) > 0)
                snprintf(buf, size, "%.*s", (int) strcspn(text, "\n"), text);
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
        (void) process_start_time(proc, p.pid, &p.start_time);
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

int process_start_time(const char *proc, pid_t pid, uint64_t *ret) {
        char path[128], text[1024], *end;
        const char *p;
        unsigned long long v;
        ssize_t n;

        snprintf(path, sizeof(path), "%s/%d/stat", proc, (int) pid);
        n = read_small(path, text, sizeof(text));
        if (n < 0)
                return n == -ENOENT ? -ESRCH : (int) n;
        /* "PID (COMM) S ...": the command may hold anything, ")" too; the
         * fields start after the last ")".  starttime is field 22, the
         * 20th after it. */
        p = strrchr(text, ')');
        if (!p)
                return -EINVAL;
        p++;
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EINVAL;
        }
        errno = 0;
        v = strtoull(p + 1, &end, 10);
        if (errno || end == p + 1 || (*end != ' ' && *end != '\n' && *end != 0))
                return -EINVAL;
        *ret = v;
        return 0;
}

int pidfd_open_verified(const char *proc, pid_t pid, uint64_t start_time) {
        uint64_t t;
        int fd, r;

        fd = pidfd_open_pid(pid);
        if (fd < 0)
                return fd;
        /* The pidfd first, then the start time: if it matches, the pid
         * was that process when the pidfd was made. */
        r = process_start_time(proc, pid, &t);
        if (r >= 0 && t != start_time)
                r = -ESRCH;
        if (r >= 0 && pidfd_is_alive(fd) <= 0)
                r = -ESRCH;
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}
