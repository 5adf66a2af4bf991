/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * holders.h - which process has a device node open, as far as iommud can
 * tell without touching the device: a walk of /proc/PID/fd links.
 *
 * Used before unbinding a device from vfio-pci: the kernel's unbind
 * waits, uninterruptibly after a signal, until every fd of the device is
 * closed, so iommud must not start one while anybody holds the device.
 * O_PATH fds do not count: they never opened the device (udev-worker
 * holds one on a new node while it sets its owner and mode).
 * The walk sees every process in iommud's PID namespace whose fds it may
 * read (root with CAP_SYS_PTRACE or same uid); fds passed through a socket
 * and not yet received, or held in another PID namespace, it cannot see.
 */
#pragma once

#include <sys/types.h>

typedef struct Holder {
        pid_t pid;
        char comm[17];          /* from /proc/PID/comm */
        char path[64];          /* the node it holds */
} Holder;

/** holders_find() - the first process (lowest pid) with one of @paths
 * (absolute device node paths, e.g. "/dev/vfio/5",
 * "/dev/vfio/devices/vfio0") open, beneath @proc ("/proc").  Returns 1
 * and fills @ret when found, 0 when nobody holds them, -errno when
 * @proc cannot be read.  Processes that vanish or hide their fds during
 * the walk are skipped; @skip_pid (our own, usually) too. */
int holders_find(const char *proc, const char *const *paths, size_t n_paths, pid_t skip_pid, Holder *ret);
