/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * process.h - a process named by a pidfd: who it is, whether it still
 * runs, and its memlock limit.
 *
 * A pid alone can be reused the moment its process exits; a pidfd
 * cannot.  Everything here reads the pid from the pidfd, reads /proc, and
 * then checks the pidfd's process is still alive: while it is, the pid
 * was not reused, so what was read belongs to it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ProcessInfo {
        pid_t pid;
        uid_t uid;              /* effective, as SO_PEERCRED reports it */
        char comm[17];
        uint64_t start_time;    /* clock ticks after boot (/proc/PID/stat), 0: unknown:
                                 * with the pid, names the process across a restart */
} ProcessInfo;

/** pidfd_get_pid() - the pid @pidfd refers to (its fdinfo's "Pid:").
 * -ESRCH when the process is gone, -EBADF/-EINVAL when @pidfd is not a
 * pidfd. */
int pidfd_get_pid(int pidfd, pid_t *ret);

/** pidfd_open_pid() - a pidfd (close-on-exec) of process @pid; whether
 * @pid is still the process meant is the caller's to check.  -ESRCH. */
int pidfd_open_pid(pid_t pid);

/** pidfd_is_alive() - 1 while the process runs, 0 once it exited. */
int pidfd_is_alive(int pidfd);

/** process_identify() - pid, effective uid and command of @pidfd's
 * process, read beneath @proc ("/proc"). */
int process_identify(const char *proc, int pidfd, ProcessInfo *ret);

/** process_start_time() - field 22 of /proc/PID/stat beneath @proc:
 * when the process started, in clock ticks after boot.  -ESRCH. */
int process_start_time(const char *proc, pid_t pid, uint64_t *ret);

/** pidfd_open_verified() - a pidfd of process @pid, but only while @pid
 * is still the process that started at @start_time (a pid can be reused):
 * what a restarted iommud has of a holder it did not keep a pidfd of.
 * -ESRCH when that process is gone. */
int pidfd_open_verified(const char *proc, pid_t pid, uint64_t start_time);

/** process_read_comm() - /proc/PID/comm, for display only ("" when gone). */
void process_read_comm(const char *proc, pid_t pid, char *buf, size_t size);

/** process_raise_memlock() - raise @pidfd's RLIMIT_MEMLOCK (soft and
 * hard) to @bytes; a limit already at or above it is left alone.  Never
 * lowers.  *@ret_before gets the soft limit found.  -ESRCH if the
 * process is gone (then, if it went during the call, the write may have
 * reached a new process with the reused pid: that process can only
 * have gained a higher limit, never lost one). */
int process_raise_memlock(int pidfd, uint64_t bytes, uint64_t *ret_before);
