/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio-group-status GROUP: print the kernel's own verdict on a VFIO group,
 * "viable" or "not-viable", from VFIO_GROUP_GET_STATUS.  The VM tests
 * compare iommud's viability with it.  Exit 0, or 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
        struct vfio_group_status st = { .argsz = sizeof(st) };
        char path[64];
        int fd;

        if (argc != 2) {
                fprintf(stderr, "usage: vfio-group-status GROUP\n");
                return 2;
        }
        snprintf(path, sizeof(path), "/dev/vfio/%s", argv[1]);
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "vfio-group-status: open %s: %s\n", path, strerror(errno));
                return 1;
        }
        if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) < 0) {
                fprintf(stderr, "vfio-group-status: VFIO_GROUP_GET_STATUS: %s\n", strerror(errno));
                return 1;
        }
        puts(st.flags & VFIO_GROUP_FLAGS_VIABLE ? "viable" : "not-viable");
        close(fd);
        return 0;
}
