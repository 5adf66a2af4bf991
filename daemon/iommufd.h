/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommufd.h - the iommufd + VFIO device cdev backend: the only place that
 * issues its ioctls.  Plain calls, no state: the lease layer decides what
 * to open and bind, and keeps the fds.
 *
 * The sequence a lease follows (Documentation/driver-api/vfio.rst,
 * "VFIO Device cdev"; ../shared/notes/kernel-interfaces.md):
 *   iommufd_open()          /dev/iommu, per-process memory accounting set
 *                           first, while the context is still empty;
 *   iommufd_device_open()   /dev/vfio/devices/vfioN: a "parked" fd that
 *                           can do nothing but be bound;
 *   iommufd_bind()          VFIO_DEVICE_BIND_IOMMUFD: claims DMA ownership
 *                           of the whole IOMMU group for this context;
 *   iommufd_ioas_alloc()    an empty I/O address space;
 *   iommufd_attach()        VFIO_DEVICE_ATTACH_IOMMUFD_PT: the device's DMA
 *                           goes through that (empty) address space.
 *
 * Errors are -errno as the kernel gave them; iommufd_error_reason() says
 * what each means at each step, for the named errors of the front ends.
 */
#pragma once

#include <stdint.h>

typedef enum IommufdStep {
        IOMMUFD_STEP_OPEN,
        IOMMUFD_STEP_RLIMIT_MODE,
        IOMMUFD_STEP_DEVICE_OPEN,
        IOMMUFD_STEP_BIND,
        IOMMUFD_STEP_IOAS_ALLOC,
        IOMMUFD_STEP_ATTACH,
} IommufdStep;

/** iommufd_open() - a new iommufd context on /dev/iommu (@path, NULL for
 * the default), with IOMMU_OPTION_RLIMIT_MODE set to per-process
 * accounting: pinned memory is charged to the process that maps it (the
 * VMM), not to iommud's user.  Needs CAP_SYS_RESOURCE (-EPERM).  Returns
 * the fd (O_CLOEXEC) or -errno; *@ret_step says which step failed. */
int iommufd_open(const char *path, IommufdStep *ret_step);

/** iommufd_device_open() - open the VFIO device cdev @cdev ("vfio0", as
 * sysfs names it under the device's vfio-dev/; anything else is -EINVAL
 * before any open).  The fd is parked: only a bind makes it usable. */
int iommufd_device_open(const char *cdev);

/** iommufd_bind() - bind @device_fd to @iommufd; *@ret_devid is the
 * device's id in that context.  -EPERM: another member of the group is on
 * a host driver or another context owns the group; -EBUSY: the group's
 * legacy node is open, or a foreign domain is attached; -EINVAL: already
 * bound. */
int iommufd_bind(int device_fd, int iommufd, uint32_t *ret_devid);

/** iommufd_ioas_alloc() - a new, empty I/O address space. */
int iommufd_ioas_alloc(int iommufd, uint32_t *ret_ioas_id);

/** iommufd_attach() - attach a bound device to @pt_id (an IOAS or a page
 * table); *@ret_pt_id is the page table the kernel attached (for an IOAS,
 * the one it made or reused).  Attaching an attached device replaces its
 * page table without a window of blocked DMA. */
int iommufd_attach(int device_fd, uint32_t pt_id, uint32_t *ret_pt_id);

/** iommufd_detach() - VFIO_DEVICE_DETACH_IOMMUFD_PT: the device's DMA is
 * blocked.  -EINVAL when the fd is not bound (a parked fd the VMM never
 * bound) or not attached. */
int iommufd_detach(int device_fd);

/** iommufd_ioas_unmap_all() - unmap every mapping of @ioas_id (nothing
 * mapped is not an error). */
int iommufd_ioas_unmap_all(int iommufd, uint32_t ioas_id);

/** iommufd_error_reason() - what -@error at @step means, in a sentence. */
const char *iommufd_error_reason(IommufdStep step, int error);

const char *iommufd_step_to_string(IommufdStep step);
