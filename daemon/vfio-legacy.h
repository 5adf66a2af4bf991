/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio-legacy.h - the legacy VFIO backend (a type1 container and the
 * group node), for kernels without iommufd and the VFIO cdev (Debian 12's
 * own): the only place that issues its ioctls.  Plain calls, no state:
 * the lease layer decides what to open and keeps the fds.
 *
 * The sequence a lease follows (Documentation/driver-api/vfio.rst, "VFIO
 * Usage Example"; ../shared/notes/kernel-interfaces.md, 1.9 F):
 *   vfio_legacy_container_open()       /dev/vfio/vfio, API version and
 *                                      type1v2 checked;
 *   vfio_legacy_group_open()           /dev/vfio/N, which must be viable;
 *   vfio_legacy_group_set_container()  claims DMA ownership of the group;
 *   vfio_legacy_set_iommu()            type1v2, once the first group is in;
 *   vfio_legacy_device_open()          VFIO_GROUP_GET_DEVICE_FD.
 * The VMM receives [container, group, device] and maps its own memory
 * with VFIO_IOMMU_MAP_DMA (charged to its RLIMIT_MEMLOCK).  At the end of
 * a lease vfio_legacy_unmap_all() on iommud's copy of the container cuts
 * every mapping at once; it is not a revocation, as whoever holds the
 * container can map again.  The group node allows one open file at a
 * time, so whoever holds it holds the group.
 *
 * Access mode, where the VMM opens the nodes itself: vfio_node_acl_grant()
 * gives one uid read-write on /dev/vfio/N through a POSIX ACL entry, and
 * vfio_node_acl_revoke() takes exactly that entry away again (an fd the
 * VMM already opened stays valid).  /dev/vfio/vfio needs nothing: the
 * kernel creates it 0666, and a container does nothing until a group is
 * attached to it.
 *
 * Errors are -errno as the kernel gave them, and a few of our own (said
 * at each call); vfio_legacy_error_reason() says what each means at each
 * step, for the named errors of the front ends.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum LegacyStep {
        LEGACY_STEP_CONTAINER_OPEN,
        LEGACY_STEP_API_VERSION,
        LEGACY_STEP_TYPE1V2,
        LEGACY_STEP_GROUP_OPEN,
        LEGACY_STEP_GROUP_STATUS,
        LEGACY_STEP_SET_CONTAINER,
        LEGACY_STEP_SET_IOMMU,
        LEGACY_STEP_DEVICE_OPEN,
        LEGACY_STEP_UNMAP_ALL,
        LEGACY_STEP_ACL,
} LegacyStep;

/** vfio_legacy_container_open() - a new container on /dev/vfio/vfio
 * (@path, NULL for the default) that speaks VFIO_API_VERSION and offers
 * the type1v2 IOMMU.  Returns the fd (O_CLOEXEC) or -errno; -EPROTO: the
 * API version differs; -EOPNOTSUPP: no type1v2 (both ours, not the
 * kernel's).  *@ret_step says which step failed. */
int vfio_legacy_container_open(const char *path, LegacyStep *ret_step);

/** vfio_legacy_group_open() - open /dev/vfio/@group (the path is built
 * from the number, nothing else) and check VFIO_GROUP_GET_STATUS says it
 * is viable.  -ENOENT: no such node (no member on a VFIO driver);
 * -EBUSY: the node is open elsewhere (it is single-open) or a device cdev
 * of the group is bound to an iommufd; -EADDRNOTAVAIL (ours): not viable,
 * a member is on a host driver.  *@ret_step says which step failed. */
int vfio_legacy_group_open(uint32_t group, LegacyStep *ret_step);

/** vfio_legacy_group_set_container() - VFIO_GROUP_SET_CONTAINER: put the
 * group in the container, claiming its DMA ownership.  -EPERM: a member
 * went to a host driver since the status check; -EBUSY: a foreign IOMMU
 * domain is attached; -EINVAL: the group is in a container already (or,
 * before 6.2, @container_fd is not a container); -EBADFD: @container_fd
 * is not a container. */
int vfio_legacy_group_set_container(int group_fd, int container_fd);

/** vfio_legacy_set_iommu() - VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU).  Only
 * after the first group is in the container, and once: -EINVAL
 * otherwise.  The devices' DMA then goes through the (empty) type1
 * address space. */
int vfio_legacy_set_iommu(int container_fd);

/** vfio_legacy_device_open() - VFIO_GROUP_GET_DEVICE_FD for @name: a PCI
 * address (any form pci_address_parse() takes; the kernel is given the
 * canonical DDDD:BB:DD.F) or an mdev UUID.  Anything else, a VF token
 * included, is -EINVAL before any ioctl.  -ENODEV: no such device in the
 * group; -EINVAL from the kernel: the group is in no container with an
 * IOMMU set. */
int vfio_legacy_device_open(int group_fd, const char *name);

/** vfio_legacy_device_open_token() - the same, with @vf_token (a UUID, or
 * NULL for none) after the name: vfio-pci asks for the token of a VF
 * whose PF it drives (-EACCES without it, or with another than the PF's;
 * -EINVAL from the kernel when one is given for a VF whose PF it does
 * not drive). */
int vfio_legacy_device_open_token(int group_fd, const char *name, const char *vf_token);

/** vfio_device_req_eventfd() - a new eventfd the kernel signals when it
 * asks for device @device_fd back (the device is being removed or
 * unbound, and the kernel waits for its files to close): the request
 * interrupt (VFIO_PCI_REQ_IRQ_INDEX) of an open VFIO device file.  There
 * is one per device: a later VFIO_DEVICE_SET_IRQS by the holder replaces
 * ours.  Returns the eventfd (non-blocking), or -EINVAL when the device
 * has no such interrupt (mdevs), or another -errno. */
int vfio_device_req_eventfd(int device_fd);

/** vfio_legacy_unmap_all() - VFIO_IOMMU_UNMAP_DMA with
 * VFIO_DMA_UNMAP_FLAG_ALL: every mapping of the container goes at once,
 * and with them the devices' access to memory (kernel 5.13+).
 * -EOPNOTSUPP (ours): the container's IOMMU does not offer
 * VFIO_UNMAP_ALL.  The holder of the container may map again. */
int vfio_legacy_unmap_all(int container_fd);

/** vfio_legacy_error_reason() - what -@error at @step means, in a sentence. */
const char *vfio_legacy_error_reason(LegacyStep step, int error);

const char *vfio_legacy_step_to_string(LegacyStep step);

/*
 * POSIX ACLs, as the kernel stores them in the "system.posix_acl_access"
 * xattr (include/uapi/linux/posix_acl_xattr.h, posix_acl.h): a
 * little-endian header { __le32 a_version = 2 } followed by entries
 * { __le16 e_tag; __le16 e_perm; __le32 e_id }.  Tags: ACL_USER_OBJ 0x01,
 * ACL_USER 0x02, ACL_GROUP_OBJ 0x04, ACL_GROUP 0x08, ACL_MASK 0x10,
 * ACL_OTHER 0x20; e_id is the uid/gid for ACL_USER/ACL_GROUP and
 * ACL_UNDEFINED_ID (-1) for the others; perms r 4, w 2, x 1.  The kernel
 * accepts (posix_acl_valid(), fs/posix_acl.c) only entries sorted by tag,
 * named ones by id with no id twice, one each of USER_OBJ, GROUP_OBJ and
 * OTHER, and a MASK exactly when there are named entries.  Setting an
 * ACL also sets the file's group mode bits to the mask (or to GROUP_OBJ,
 * and drops the xattr, when the ACL says no more than the mode).
 */
typedef struct VfioAclEntry {
        uint16_t tag;
        uint16_t perm;
        uint32_t id;
} VfioAclEntry;

typedef struct VfioAcl {
        VfioAclEntry *entries;
        size_t n;
} VfioAcl;

void vfio_acl_done(VfioAcl *acl);

/** vfio_acl_from_mode() - the three-entry ACL that @mode's permission
 * bits amount to (what a file without the xattr has). */
int vfio_acl_from_mode(mode_t mode, VfioAcl *ret);

/** vfio_acl_decode() - parse the xattr value @buf of @size bytes.
 * -EOPNOTSUPP: not version 2; -EINVAL: malformed or invalid. */
int vfio_acl_decode(const void *buf, size_t size, VfioAcl *ret);

/** vfio_acl_encode() - sort @acl and write it as an xattr value into
 * @buf (NULL to ask the size); returns the size or -errno (-EINVAL: not
 * an ACL the kernel would take; -ERANGE: @size too small). */
int vfio_acl_encode(VfioAcl *acl, void *buf, size_t size);

/** vfio_acl_grant_user() - give @uid @perm: its entry is added or
 * replaced, and the mask widened by @perm (made from GROUP_OBJ if there
 * was none), which leaves every other entry's effective rights as they
 * were unless their own entry already had @perm beyond the old mask. */
int vfio_acl_grant_user(VfioAcl *acl, uid_t uid, uint16_t perm);

/** vfio_acl_remove_user() - remove @uid's entry; returns 1 if there was
 * one, 0 if not.  The mask only narrows (to what the remaining named
 * entries and GROUP_OBJ use), and goes when no named entry is left. */
int vfio_acl_remove_user(VfioAcl *acl, uid_t uid);

/** vfio_node_acl_read() - the access ACL of @name in @dir_fd (a single
 * path component; AT_FDCWD allowed), from the mode if it has no xattr. */
int vfio_node_acl_read(int dir_fd, const char *name, VfioAcl *ret);

/** vfio_node_acl_grant() - give @uid read-write on @name in @dir_fd,
 * keeping every other entry.  The node is reached through an O_PATH,
 * O_NOFOLLOW fd and /proc/self/fd/N: an O_PATH open does not call the
 * driver's open (a group node would count as opened), and a symlink is
 * -ELOOP.  -EINVAL: @name is not a single component.  Read-modify-write:
 * iommud must be the only writer of these ACLs. */
int vfio_node_acl_grant(int dir_fd, const char *name, uid_t uid);

/** vfio_node_acl_revoke() - take @uid's entry off @name again; 1 if it
 * had one, 0 if not.  Fds the uid opened meanwhile stay valid. */
int vfio_node_acl_revoke(int dir_fd, const char *name, uid_t uid);

/** vfio_group_acl_grant(), vfio_group_acl_revoke() - the same on
 * /dev/vfio/@group (@dev_vfio_fd: a dirfd on /dev/vfio, or -EBADF for
 * the real one), which must be a character device (else -ENOTTY). */
int vfio_group_acl_grant(int dev_vfio_fd, uint32_t group, uid_t uid);
int vfio_group_acl_revoke(int dev_vfio_fd, uint32_t group, uid_t uid);
