/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "iommufd.h"
#include "shared/macro.h"

#define DEFAULT_IOMMUFD "/dev/iommu"

int iommufd_open(const char *path, IommufdStep *ret_step) {
        struct iommu_option opt = {
                .size = sizeof(opt),
                .option_id = IOMMU_OPTION_RLIMIT_MODE,
                .op = IOMMU_OPTION_OP_SET,
                .object_id = 0,
                .val64 = 1,     /* per-process accounting */
        };
        _cleanup_close_ int fd = -EBADF;

        fd = open(path ? path : DEFAULT_IOMMUFD, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (ret_step)
                        *ret_step = IOMMUFD_STEP_OPEN;
                return -errno;
        }
        /* First, while the context holds no object: later the kernel
         * answers EBUSY. */
        if (ioctl(fd, IOMMU_OPTION, &opt) < 0) {
                if (ret_step)
                        *ret_step = IOMMUFD_STEP_RLIMIT_MODE;
                return -errno;
        }
        return TAKE_FD(fd);
}

int iommufd_device_open(const char *cdev) {
        char path[64];
        size_t n;
        int fd;

        /* "vfio" and decimal digits: the kernel's own names, no more. */
        if (!cdev || strncmp(cdev, "vfio", 4) != 0)
                return -EINVAL;
        n = strlen(cdev);
        if (n == 4 || n > 14 || strspn(cdev + 4, "0123456789") != n - 4 || (cdev[4] == '0' && n > 5))
                return -EINVAL;
        snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        return fd < 0 ? -errno : fd;
}

int iommufd_bind(int device_fd, int iommufd, uint32_t *ret_devid) {
        struct vfio_device_bind_iommufd b = {
                .argsz = sizeof(b),
                .iommufd = iommufd,
        };

        if (ioctl(device_fd, VFIO_DEVICE_BIND_IOMMUFD, &b) < 0)
                return -errno;
        *ret_devid = b.out_devid;
        return 0;
}

int iommufd_ioas_alloc(int iommufd, uint32_t *ret_ioas_id) {
        struct iommu_ioas_alloc a = { .size = sizeof(a) };

        if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &a) < 0)
                return -errno;
        *ret_ioas_id = a.out_ioas_id;
        return 0;
}

int iommufd_attach(int device_fd, uint32_t pt_id, uint32_t *ret_pt_id) {
        struct vfio_device_attach_iommufd_pt at = {
                .argsz = sizeof(at),
                .pt_id = pt_id,
        };

        if (ioctl(device_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0)
                return -errno;
        *ret_pt_id = at.pt_id;
        return 0;
}

int iommufd_detach(int device_fd) {
        struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };

        return ioctl(device_fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d) < 0 ? -errno : 0;
}

int iommufd_ioas_unmap_all(int iommufd, uint32_t ioas_id) {
        struct iommu_ioas_unmap u = {
                .size = sizeof(u),
                .ioas_id = ioas_id,
                .iova = 0,
                .length = UINT64_MAX,   /* 0..U64_MAX: everything */
        };

        /* ENOENT: nothing was mapped. */
        if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &u) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

const char *iommufd_step_to_string(IommufdStep step) {
        static const char *const names[] = {
                [IOMMUFD_STEP_OPEN] = "open /dev/iommu",
                [IOMMUFD_STEP_RLIMIT_MODE] = "set per-process memory accounting",
                [IOMMUFD_STEP_DEVICE_OPEN] = "open the VFIO device",
                [IOMMUFD_STEP_BIND] = "bind the device to iommufd",
                [IOMMUFD_STEP_IOAS_ALLOC] = "allocate an I/O address space",
                [IOMMUFD_STEP_ATTACH] = "attach the device to its address space",
        };
        return (size_t) step < ELEMENTSOF(names) ? names[step] : "?";
}

const char *iommufd_error_reason(IommufdStep step, int error) {
        switch (step) {
        case IOMMUFD_STEP_OPEN:
                if (error == -ENOENT || error == -ENODEV)
                        return "the kernel has no iommufd (/dev/iommu): the legacy VFIO backend is needed";
                break;
        case IOMMUFD_STEP_RLIMIT_MODE:
                if (error == -EPERM)
                        return "setting per-process memory accounting needs CAP_SYS_RESOURCE";
                if (error == -EBUSY)
                        return "the iommufd context already holds objects";
                break;
        case IOMMUFD_STEP_DEVICE_OPEN:
                if (error == -ENOENT)
                        return "the device has no VFIO cdev: it is not on a VFIO driver, or the kernel lacks "
                               "CONFIG_VFIO_DEVICE_CDEV";
                break;
        case IOMMUFD_STEP_BIND:
                if (error == -EPERM)
                        return "another member of the IOMMU group is on a host driver, or another owner holds "
                               "the group";
                if (error == -EBUSY)
                        return "the group's legacy node (/dev/vfio/N) is open elsewhere, or a foreign IOMMU "
                               "domain is attached";
                if (error == -EINVAL)
                        return "the device is already bound";
                break;
        case IOMMUFD_STEP_IOAS_ALLOC:
        case IOMMUFD_STEP_ATTACH:
                break;
        }
        return strerror(-error);
}
