/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "shared/macro.h"
#include "shared/pci-address.h"
#include "shared/uuid.h"
#include "vfio-legacy.h"

#define DEFAULT_CONTAINER "/dev/vfio/vfio"
#define DEV_VFIO "/dev/vfio"
#define XATTR_ACL_ACCESS "system.posix_acl_access"

int vfio_legacy_container_open(const char *path, LegacyStep *ret_step) {
        _cleanup_close_ int fd = -EBADF;
        LegacyStep step;
        int r;

        fd = open(path ? path : DEFAULT_CONTAINER, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                step = LEGACY_STEP_CONTAINER_OPEN;
                r = -errno;
                goto fail;
        }
        step = LEGACY_STEP_API_VERSION;
        r = ioctl(fd, VFIO_GET_API_VERSION);
        if (r < 0) {
                r = -errno;
                goto fail;
        }
        if (r != VFIO_API_VERSION) {
                r = -EPROTO;
                goto fail;
        }
        /* 1 when offered, 0 when not; the container is still unset, so
         * any IOMMU driver the kernel has may answer. */
        step = LEGACY_STEP_TYPE1V2;
        r = ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
        if (r < 0) {
                r = -errno;
                goto fail;
        }
        if (r == 0) {
                r = -EOPNOTSUPP;
                goto fail;
        }
        return TAKE_FD(fd);
fail:
        if (ret_step)
                *ret_step = step;
        return r;
}

int vfio_legacy_group_open(uint32_t group, LegacyStep *ret_step) {
        struct vfio_group_status st = { .argsz = sizeof(st) };
        _cleanup_close_ int fd = -EBADF;
        char path[sizeof(DEV_VFIO "/") + 10];

        snprintf(path, sizeof(path), DEV_VFIO "/%" PRIu32, group);
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0) {
                if (ret_step)
                        *ret_step = LEGACY_STEP_GROUP_OPEN;
                return -errno;
        }
        if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) < 0) {
                if (ret_step)
                        *ret_step = LEGACY_STEP_GROUP_STATUS;
                return -errno;
        }
        /* Not viable: some member's driver uses the DMA API, so the
         * group's DMA owner count is taken (iommu_group_dma_owner_claimed());
         * SET_CONTAINER would answer EPERM. */
        if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
                if (ret_step)
                        *ret_step = LEGACY_STEP_GROUP_STATUS;
                return -EADDRNOTAVAIL;
        }
        return TAKE_FD(fd);
}

int vfio_legacy_group_set_container(int group_fd, int container_fd) {
        if (ioctl(group_fd, VFIO_GROUP_SET_CONTAINER, &container_fd) < 0)
                return -errno;
        return 0;
}

int vfio_legacy_set_iommu(int container_fd) {
        if (ioctl(container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
                return -errno;
        return 0;
}

int vfio_legacy_device_open_token(int group_fd, const char *name, const char *vf_token) {
        char buf[PCI_ADDRESS_STRING_MAX + sizeof(" vf_token=") + UUID_STRING_MAX];
        char token[UUID_STRING_MAX];
        size_t n;
        int fd;

        /* The kernel matches the string against the device names (and
         * vfio-pci parses " vf_token=" after it): give it nothing but a
         * name, and a token, we parsed ourselves. */
        if (pci_address_canonicalize(name, buf) < 0 && uuid_canonicalize(name, buf) < 0)
                return -EINVAL;
        if (vf_token) {
                if (uuid_canonicalize(vf_token, token) < 0)
                        return -EINVAL;
                n = strlen(buf);
                snprintf(buf + n, sizeof(buf) - n, " vf_token=%s", token);
        }
        fd = ioctl(group_fd, VFIO_GROUP_GET_DEVICE_FD, buf);
        return fd < 0 ? -errno : fd;
}

int vfio_legacy_device_open(int group_fd, const char *name) {
        return vfio_legacy_device_open_token(group_fd, name, NULL);
}

int vfio_device_req_eventfd(int device_fd) {
        struct vfio_irq_info info = { .argsz = sizeof(info), .index = VFIO_PCI_REQ_IRQ_INDEX };
        union {
                struct vfio_irq_set set;
                uint8_t bytes[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
        } req = { .bytes = { 0 } };
        _cleanup_close_ int efd = -EBADF;
        int32_t v;

        if (ioctl(device_fd, VFIO_DEVICE_GET_IRQ_INFO, &info) < 0)
                return -errno;
        if (info.count < 1 || !(info.flags & VFIO_IRQ_INFO_EVENTFD))
                return -EINVAL;
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return -errno;
        req.set.argsz = sizeof(req.bytes);
        req.set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
        req.set.index = VFIO_PCI_REQ_IRQ_INDEX;
        req.set.start = 0;
        req.set.count = 1;
        v = efd;
        memcpy(req.bytes + sizeof(struct vfio_irq_set), &v, sizeof(v));
        if (ioctl(device_fd, VFIO_DEVICE_SET_IRQS, &req) < 0)
                return -errno;
        return TAKE_FD(efd);
}

int vfio_legacy_unmap_all(int container_fd) {
        struct vfio_iommu_type1_dma_unmap u = {
                .argsz = sizeof(u),
                .flags = VFIO_DMA_UNMAP_FLAG_ALL,
                .iova = 0,
                .size = 0,
        };
        int r;

        /* Kernels before 5.13 answer an unknown flag with EINVAL, which
         * would also be the answer to a container with no IOMMU set: ask. */
        r = ioctl(container_fd, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL);
        if (r < 0)
                return -errno;
        if (r == 0)
                return -EOPNOTSUPP;
        if (ioctl(container_fd, VFIO_IOMMU_UNMAP_DMA, &u) < 0)
                return -errno;
        return 0;
}

const char *vfio_legacy_step_to_string(LegacyStep step) {
        static const char *const names[] = {
                [LEGACY_STEP_CONTAINER_OPEN] = "open the VFIO container",
                [LEGACY_STEP_API_VERSION] = "check the VFIO API version",
                [LEGACY_STEP_TYPE1V2] = "check for the type1v2 IOMMU",
                [LEGACY_STEP_GROUP_OPEN] = "open the group node",
                [LEGACY_STEP_GROUP_STATUS] = "check the group is viable",
                [LEGACY_STEP_SET_CONTAINER] = "put the group in the container",
                [LEGACY_STEP_SET_IOMMU] = "set the container's IOMMU",
                [LEGACY_STEP_DEVICE_OPEN] = "open the device",
                [LEGACY_STEP_UNMAP_ALL] = "unmap all DMA",
                [LEGACY_STEP_ACL] = "set the node's ACL",
        };
        return (size_t) step < ELEMENTSOF(names) ? names[step] : "?";
}

/* The errnos each step can give, from drivers/vfio/{container,group}.c,
 * vfio_iommu_type1.c and drivers/iommu/iommu.c (6.12). */
const char *vfio_legacy_error_reason(LegacyStep step, int error) {
        switch (step) {
        case LEGACY_STEP_CONTAINER_OPEN:
                if (error == -ENOENT || error == -ENODEV)
                        return "the kernel has no VFIO container (/dev/vfio/vfio): the vfio module is not loaded, "
                               "or it lacks CONFIG_VFIO_CONTAINER";
                break;
        case LEGACY_STEP_API_VERSION:
                if (error == -EPROTO)
                        return "the kernel speaks another VFIO API version";
                break;
        case LEGACY_STEP_TYPE1V2:
                if (error == -EOPNOTSUPP)
                        return "the kernel offers no type1v2 IOMMU (vfio_iommu_type1 not loaded?)";
                break;
        case LEGACY_STEP_GROUP_OPEN:
                if (error == -ENOENT)
                        return "the group has no VFIO node: none of its members is on a VFIO driver";
                if (error == -EBUSY)
                        return "the group node is already open elsewhere (it allows one open file), or a VFIO "
                               "device cdev of the group is bound to an iommufd";
                if (error == -ENODEV)
                        return "the group is going away: its last VFIO driver is being unbound";
                if (error == -EPERM)
                        return "a no-IOMMU group needs CAP_SYS_RAWIO";
                break;
        case LEGACY_STEP_GROUP_STATUS:
                if (error == -EADDRNOTAVAIL)
                        return "the group is not viable: a member is on a host driver";
                if (error == -ENODEV)
                        return "the group is going away";
                break;
        case LEGACY_STEP_SET_CONTAINER:
                if (error == -EPERM)
                        return "a member of the group is on a host driver, or another owner holds the group";
                if (error == -EBUSY)
                        return "a foreign IOMMU domain is attached to the group";
                /* 6.1 answers a fd that is no container with EINVAL too;
                 * EBADFD came with iommufd (6.2). */
                if (error == -EINVAL)
                        return "the group is already in a container, or (before 6.2) not a VFIO container";
                if (error == -EBADFD)
                        return "not a VFIO container";
                break;
        case LEGACY_STEP_SET_IOMMU:
                if (error == -EINVAL)
                        return "the container holds no group yet, or its IOMMU is already set";
                if (error == -ENODEV)
                        return "no IOMMU driver could take the container's groups";
                break;
        case LEGACY_STEP_DEVICE_OPEN:
                if (error == -EINVAL)
                        return "not a device name (a PCI address or an mdev UUID), or the group has no IOMMU set";
                if (error == -ENODEV)
                        return "no such device in the group";
                if (error == -EACCES)
                        return "the device is an SR-IOV VF whose PF is on vfio-pci: it opens only with the VF token "
                               "the PF's user set (a claim's vfToken), and none was given or it does not match";
                break;
        case LEGACY_STEP_UNMAP_ALL:
                if (error == -EOPNOTSUPP)
                        return "the kernel cannot unmap everything at once (VFIO_UNMAP_ALL is 5.13+)";
                if (error == -EINVAL)
                        return "the container has no IOMMU set";
                break;
        case LEGACY_STEP_ACL:
                if (error == -EOPNOTSUPP)
                        return "the file system holding /dev/vfio has no POSIX ACLs (devtmpfs needs "
                               "CONFIG_TMPFS_POSIX_ACL)";
                if (error == -ELOOP)
                        return "the node is a symbolic link";
                break;
        }
        return strerror(-error);
}

/* --- POSIX ACLs ---------------------------------------------------------- */

void vfio_acl_done(VfioAcl *acl) {
        free(acl->entries);
        acl->entries = NULL;
        acl->n = 0;
}

static bool tag_is_named(uint16_t tag) {
        return tag == ACL_USER || tag == ACL_GROUP;
}

static bool tag_is_group_class(uint16_t tag) {
        return tag == ACL_USER || tag == ACL_GROUP_OBJ || tag == ACL_GROUP;
}

static int entry_compare(const void *a, const void *b) {
        const VfioAclEntry *x = a, *y = b;

        if (x->tag != y->tag)
                return x->tag < y->tag ? -1 : 1;
        if (x->id != y->id)
                return x->id < y->id ? -1 : 1;
        return 0;
}

/* What posix_acl_valid() checks, on a sorted ACL (the kernel also wants
 * every id mapped in the caller's user namespace). */
static int acl_valid(const VfioAcl *acl) {
        unsigned user_obj = 0, group_obj = 0, mask = 0, other = 0, named = 0;

        for (size_t i = 0; i < acl->n; i++) {
                const VfioAclEntry *e = &acl->entries[i];

                if (e->perm & ~(ACL_READ | ACL_WRITE | ACL_EXECUTE))
                        return -EINVAL;
                if (i > 0 && entry_compare(&acl->entries[i - 1], e) >= 0)
                        return -EINVAL;
                switch (e->tag) {
                case ACL_USER_OBJ: user_obj++; break;
                case ACL_GROUP_OBJ: group_obj++; break;
                case ACL_MASK: mask++; break;
                case ACL_OTHER: other++; break;
                case ACL_USER:
                case ACL_GROUP:
                        if (e->id == (uint32_t) ACL_UNDEFINED_ID)
                                return -EINVAL;
                        named++;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (user_obj != 1 || group_obj != 1 || other != 1 || mask != (named > 0))
                return -EINVAL;
        return 0;
}

static void acl_sort(VfioAcl *acl) {
        if (acl->n > 1)
                qsort(acl->entries, acl->n, sizeof(VfioAclEntry), entry_compare);
}

static VfioAclEntry *acl_find(VfioAcl *acl, uint16_t tag, uint32_t id) {
        for (size_t i = 0; i < acl->n; i++)
                if (acl->entries[i].tag == tag && (!tag_is_named(tag) || acl->entries[i].id == id))
                        return &acl->entries[i];
        return NULL;
}

static int acl_add(VfioAcl *acl, uint16_t tag, uint16_t perm, uint32_t id) {
        VfioAclEntry *n;

        n = reallocarray(acl->entries, acl->n + 1, sizeof(VfioAclEntry));
        if (!n)
                return -ENOMEM;
        acl->entries = n;
        acl->entries[acl->n++] = (VfioAclEntry) {
                .tag = tag,
                .perm = perm,
                .id = tag_is_named(tag) ? id : (uint32_t) ACL_UNDEFINED_ID,
        };
        return 0;
}

static void acl_remove(VfioAcl *acl, VfioAclEntry *e) {
        size_t i = (size_t) (e - acl->entries);

        memmove(e, e + 1, (acl->n - i - 1) * sizeof(VfioAclEntry));
        acl->n--;
}

int vfio_acl_from_mode(mode_t mode, VfioAcl *ret) {
        VfioAcl acl = { .n = 0 };
        int r;

        if ((r = acl_add(&acl, ACL_USER_OBJ, (mode >> 6) & 7, 0)) < 0 ||
            (r = acl_add(&acl, ACL_GROUP_OBJ, (mode >> 3) & 7, 0)) < 0 ||
            (r = acl_add(&acl, ACL_OTHER, mode & 7, 0)) < 0) {
                vfio_acl_done(&acl);
                return r;
        }
        *ret = acl;
        return 0;
}

int vfio_acl_decode(const void *buf, size_t size, VfioAcl *ret) {
        const uint8_t *p = buf;
        struct posix_acl_xattr_header h;
        VfioAcl acl = { .n = 0 };
        size_t count;
        int r;

        if (!buf || size < sizeof(h))
                return -EINVAL;
        memcpy(&h, p, sizeof(h));
        if (le32toh(h.a_version) != POSIX_ACL_XATTR_VERSION)
                return -EOPNOTSUPP;
        if ((size - sizeof(h)) % sizeof(struct posix_acl_xattr_entry) != 0)
                return -EINVAL;
        count = (size - sizeof(h)) / sizeof(struct posix_acl_xattr_entry);
        if (count > 0) {
                acl.entries = calloc(count, sizeof(VfioAclEntry));
                if (!acl.entries)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < count; i++) {
                struct posix_acl_xattr_entry e;

                memcpy(&e, p + sizeof(h) + i * sizeof(e), sizeof(e));
                acl.entries[i] = (VfioAclEntry) {
                        .tag = le16toh(e.e_tag),
                        .perm = le16toh(e.e_perm),
                        .id = le32toh(e.e_id),
                };
        }
        acl.n = count;
        /* As stored: sorted already.  An unsorted one is not the kernel's. */
        r = acl_valid(&acl);
        if (r < 0) {
                vfio_acl_done(&acl);
                return r;
        }
        *ret = acl;
        return 0;
}

int vfio_acl_encode(VfioAcl *acl, void *buf, size_t size) {
        struct posix_acl_xattr_header h = { .a_version = htole32(POSIX_ACL_XATTR_VERSION) };
        size_t need;
        uint8_t *p = buf;
        int r;

        acl_sort(acl);
        r = acl_valid(acl);
        if (r < 0)
                return r;
        need = sizeof(h) + acl->n * sizeof(struct posix_acl_xattr_entry);
        if (need > INT32_MAX)
                return -E2BIG;
        if (!buf)
                return (int) need;
        if (size < need)
                return -ERANGE;
        memcpy(p, &h, sizeof(h));
        for (size_t i = 0; i < acl->n; i++) {
                const VfioAclEntry *e = &acl->entries[i];
                struct posix_acl_xattr_entry x = {
                        .e_tag = htole16(e->tag),
                        .e_perm = htole16(e->perm),
                        .e_id = htole32(tag_is_named(e->tag) ? e->id : (uint32_t) ACL_UNDEFINED_ID),
                };
                memcpy(p + sizeof(h) + i * sizeof(x), &x, sizeof(x));
        }
        return (int) need;
}

int vfio_acl_grant_user(VfioAcl *acl, uid_t uid, uint16_t perm) {
        VfioAclEntry *e, *mask, *group_obj;
        int r;

        if (uid == (uid_t) -1 || (perm & ~(ACL_READ | ACL_WRITE | ACL_EXECUTE)))
                return -EINVAL;
        group_obj = acl_find(acl, ACL_GROUP_OBJ, 0);
        if (!group_obj)
                return -EINVAL;
        /* Without a mask the group class is GROUP_OBJ alone: start the
         * mask from it, so the group keeps exactly what it had. */
        mask = acl_find(acl, ACL_MASK, 0);
        if (!mask) {
                r = acl_add(acl, ACL_MASK, group_obj->perm, 0);
                if (r < 0)
                        return r;
        }
        e = acl_find(acl, ACL_USER, uid);
        if (!e) {
                r = acl_add(acl, ACL_USER, perm, uid);
                if (r < 0)
                        return r;
        } else
                e->perm = perm;
        acl_find(acl, ACL_MASK, 0)->perm |= perm;
        acl_sort(acl);
        return 0;
}

int vfio_acl_remove_user(VfioAcl *acl, uid_t uid) {
        VfioAclEntry *e, *mask;
        uint16_t used = 0;
        bool named = false;

        e = acl_find(acl, ACL_USER, uid);
        if (!e)
                return 0;
        acl_remove(acl, e);
        for (size_t i = 0; i < acl->n; i++) {
                if (tag_is_group_class(acl->entries[i].tag))
                        used |= acl->entries[i].perm;
                if (tag_is_named(acl->entries[i].tag))
                        named = true;
        }
        mask = acl_find(acl, ACL_MASK, 0);
        if (mask) {
                /* No named entry left: the ACL is the mode again, and the
                 * kernel sets the group bits from GROUP_OBJ and drops the
                 * xattr. */
                if (!named)
                        acl_remove(acl, mask);
                else
                        mask->perm &= used;
        }
        return 1;
}

/* One path component: never a way out of @dir_fd. */
static bool name_is_component(const char *name) {
        return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* An O_PATH fd does not open the device (no f_op->open: a group node
 * would be claimed by an ordinary open), and O_NOFOLLOW on a symlink
 * gives the link itself, which fstat() tells apart. */
static int node_open_path(int dir_fd, const char *name, bool want_chr, char proc[static 32]) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (!name_is_component(name))
                return -EINVAL;
        fd = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISLNK(st.st_mode))
                return -ELOOP;
        if (want_chr && !S_ISCHR(st.st_mode))
                return -ENOTTY;
        snprintf(proc, 32, "/proc/self/fd/%d", fd);
        return TAKE_FD(fd);
}

/* The ACL of the node @proc names (through an O_PATH fd); the xattr
 * calls follow the magic link to the inode (fgetxattr() refuses O_PATH
 * fds with EBADF). */
static int node_acl_get(int fd, const char *proc, VfioAcl *ret) {
        _cleanup_free_ void *buf = NULL;
        struct stat st;
        ssize_t n;

        for (;;) {
                n = getxattr(proc, XATTR_ACL_ACCESS, NULL, 0);
                if (n < 0 && errno == ENODATA) {
                        if (fstat(fd, &st) < 0)
                                return -errno;
                        return vfio_acl_from_mode(st.st_mode, ret);
                }
                if (n < 0)
                        return -errno;
                free(buf);
                buf = malloc(n > 0 ? (size_t) n : 1);
                if (!buf)
                        return -ENOMEM;
                n = getxattr(proc, XATTR_ACL_ACCESS, buf, (size_t) n);
                if (n < 0 && errno == ERANGE)
                        continue;       /* it grew meanwhile */
                if (n < 0 && errno == ENODATA)
                        continue;       /* it went meanwhile */
                if (n < 0)
                        return -errno;
                return vfio_acl_decode(buf, (size_t) n, ret);
        }
}

static int node_acl_set(const char *proc, VfioAcl *acl) {
        _cleanup_free_ void *buf = NULL;
        int n;

        n = vfio_acl_encode(acl, NULL, 0);
        if (n < 0)
                return n;
        buf = malloc((size_t) n);
        if (!buf)
                return -ENOMEM;
        n = vfio_acl_encode(acl, buf, (size_t) n);
        if (n < 0)
                return n;
        if (setxattr(proc, XATTR_ACL_ACCESS, buf, (size_t) n, 0) < 0)
                return -errno;
        return 0;
}

static int node_acl_change(int dir_fd, const char *name, bool want_chr, uid_t uid, bool grant) {
        _cleanup_(vfio_acl_done) VfioAcl acl = { .n = 0 };
        _cleanup_close_ int fd = -EBADF;
        char proc[32];
        int r, changed = 1;

        if (uid == (uid_t) -1)
                return -EINVAL;
        fd = node_open_path(dir_fd, name, want_chr, proc);
        if (fd < 0)
                return fd;
        r = node_acl_get(fd, proc, &acl);
        if (r < 0)
                return r;
        if (grant)
                r = vfio_acl_grant_user(&acl, uid, ACL_READ | ACL_WRITE);
        else
                r = changed = vfio_acl_remove_user(&acl, uid);
        if (r < 0)
                return r;
        if (!changed)
                return 0;
        r = node_acl_set(proc, &acl);
        if (r < 0)
                return r;
        return grant ? 0 : 1;
}

int vfio_node_acl_read(int dir_fd, const char *name, VfioAcl *ret) {
        _cleanup_close_ int fd = -EBADF;
        char proc[32];

        fd = node_open_path(dir_fd, name, false, proc);
        if (fd < 0)
                return fd;
        return node_acl_get(fd, proc, ret);
}

int vfio_node_acl_grant(int dir_fd, const char *name, uid_t uid) {
        return node_acl_change(dir_fd, name, false, uid, true);
}

int vfio_node_acl_revoke(int dir_fd, const char *name, uid_t uid) {
        return node_acl_change(dir_fd, name, false, uid, false);
}

static int group_acl_change(int dev_vfio_fd, uint32_t group, uid_t uid, bool grant) {
        _cleanup_close_ int dir = -EBADF;
        char name[11];

        if (dev_vfio_fd < 0) {
                dir = open(DEV_VFIO, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dir < 0)
                        return -errno;
                dev_vfio_fd = dir;
        }
        snprintf(name, sizeof(name), "%" PRIu32, group);
        return node_acl_change(dev_vfio_fd, name, true, uid, grant);
}

int vfio_group_acl_grant(int dev_vfio_fd, uint32_t group, uid_t uid) {
        return group_acl_change(dev_vfio_fd, group, uid, true);
}

int vfio_group_acl_revoke(int dev_vfio_fd, uint32_t group, uid_t uid) {
        return group_acl_change(dev_vfio_fd, group, uid, false);
}
