/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommufd-lease BDF: drive daemon/iommufd.c (the backend a lease will use)
 * against the real kernel: open an iommufd with per-process accounting,
 * open the device's cdev (and show the parked fd can do nothing), bind,
 * allocate an IOAS, attach, and show the device fd now answers
 * VFIO_DEVICE_GET_INFO.  On failure prints "error: STEP: ERRNO-NAME:
 * reason" and exits 1.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "iommufd.h"

static const char *errno_name(int e) {
        switch (e) {
        case EPERM: return "EPERM";
        case EBUSY: return "EBUSY";
        case EINVAL: return "EINVAL";
        case ENOENT: return "ENOENT";
        case ENODEV: return "ENODEV";
        default: return "other";
        }
}

static int fail(IommufdStep step, int r) {
        printf("error: %s: %s: %s\n", iommufd_step_to_string(step), errno_name(-r), iommufd_error_reason(step, r));
        return 1;
}

int main(int argc, char **argv) {
        struct iommu_option get = { .size = sizeof(get), .option_id = IOMMU_OPTION_RLIMIT_MODE, .op = IOMMU_OPTION_OP_GET };
        struct vfio_device_info info = { .argsz = sizeof(info) };
        char dir[128], cdev[256] = "";
        IommufdStep step = IOMMUFD_STEP_OPEN;
        uint32_t devid, ioas, pt;
        struct dirent *de;
        int ictx, dev, r;
        DIR *d;

        if (argc != 2) {
                fprintf(stderr, "usage: iommufd-lease BDF\n");
                return 2;
        }
        snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", argv[1]);
        d = opendir(dir);
        if (d) {
                while ((de = readdir(d)))
                        if (strncmp(de->d_name, "vfio", 4) == 0)
                                snprintf(cdev, sizeof(cdev), "%s", de->d_name);
                closedir(d);
        }

        ictx = iommufd_open(NULL, &step);
        if (ictx < 0)
                return fail(step, ictx);
        if (ioctl(ictx, IOMMU_OPTION, &get) < 0 || get.val64 != 1) {
                printf("error: RLIMIT_MODE reads back %llu, not 1 (per-process)\n", (unsigned long long) get.val64);
                return 1;
        }
        printf("ok: iommufd %d, memory accounting per process\n", ictx);

        dev = iommufd_device_open(cdev);
        if (dev < 0)
                return fail(IOMMUFD_STEP_DEVICE_OPEN, dev);
        if (ioctl(dev, VFIO_DEVICE_GET_INFO, &info) == 0) {
                printf("error: the parked fd answered VFIO_DEVICE_GET_INFO before any bind\n");
                return 1;
        }
        printf("ok: /dev/vfio/devices/%s opened parked: GET_INFO refused (%s)\n", cdev, errno_name(errno));

        r = iommufd_bind(dev, ictx, &devid);
        if (r < 0)
                return fail(IOMMUFD_STEP_BIND, r);
        r = iommufd_ioas_alloc(ictx, &ioas);
        if (r < 0)
                return fail(IOMMUFD_STEP_IOAS_ALLOC, r);
        r = iommufd_attach(dev, ioas, &pt);
        if (r < 0)
                return fail(IOMMUFD_STEP_ATTACH, r);
        printf("ok: bound (devid %u), attached to IOAS %u (page table %u)\n", devid, ioas, pt);

        info.argsz = sizeof(info);
        if (ioctl(dev, VFIO_DEVICE_GET_INFO, &info) < 0) {
                printf("error: VFIO_DEVICE_GET_INFO after bind: %s\n", strerror(errno));
                return 1;
        }
        printf("ok: the bound fd answers GET_INFO: %u regions, %u irqs, flags 0x%x\n", info.num_regions,
               info.num_irqs, info.flags);
        return 0;
}
