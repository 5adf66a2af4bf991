/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * legacy-lease: drive daemon/vfio-legacy.c (the backend a lease will use
 * on kernels without iommufd) against the real kernel.
 *
 *   legacy-lease pass BDF   as root: container, group (viable), type1v2,
 *       device fd; a second open of the group node is refused (EBUSY);
 *       [container, group, device] go over SCM_RIGHTS to a uid-1000
 *       child that cannot open the nodes itself, maps its own memory and
 *       runs edu-dma's DMA test; then root's vfio_legacy_unmap_all() on
 *       its copy of the container cuts the child's DMA (buffer untouched,
 *       "cut-iova:" for the check's DMAR fault grep), and the child tries
 *       to map again (printed: unmap-all is a cut, not a revocation).
 *   legacy-lease open BDF   only open the group, for the refusals.
 *   legacy-lease refusals BDF OTHER   each call out of order (and a
 *       device OTHER that is not in BDF's group): "refusal:" lines with
 *       the errno the kernel gave.
 *   legacy-lease set-container-raw BDF   SET_CONTAINER on a group opened
 *       without the viability check: the kernel's own answer.
 *   legacy-lease acl BDF    access mode: uid 1000 cannot open the group
 *       node; root grants it an ACL entry; uid 1000 opens container,
 *       group and device itself and runs the DMA test; root revokes
 *       while it holds them: the entry is gone, the held fds still work,
 *       and once closed the node cannot be opened again.
 *
 * Prints "ok:" lines; on a failure of the backend "error: STEP:
 * ERRNO-NAME: reason" and exits 1.  The edu DMA routine is edu-dma.c's
 * own, included here.
 */
#define main edu_dma_main
int edu_dma_main(int argc, char **argv);
#include "edu-dma.c"
#undef main

#include <grp.h>
#include <linux/posix_acl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "shared/macro.h"
#include "vfio-legacy.h"

#define VMM_UID 1000
#define IOVA_CUT 0x400000ULL
#define IOVA_HELD 0x500000ULL

static const char *errno_name(int e) {
        switch (e) {
        case EPERM: return "EPERM";
        case EBADFD: return "EBADFD";
        case EACCES: return "EACCES";
        case EBUSY: return "EBUSY";
        case EINVAL: return "EINVAL";
        case ENOENT: return "ENOENT";
        case ENODEV: return "ENODEV";
        case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
        case EOPNOTSUPP: return "EOPNOTSUPP";
        case ENOTTY: return "ENOTTY";
        default: return "other";
        }
}

static int fail(LegacyStep step, int r) {
        printf("error: %s: %s: %s\n", vfio_legacy_step_to_string(step), errno_name(-r),
               vfio_legacy_error_reason(step, r));
        exit(1);
}

static uint32_t group_of(const char *bdf) {
        char link[PATH_MAX], target[PATH_MAX], *end;
        unsigned long g;
        ssize_t n;

        snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
        n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                die("%s has no IOMMU group: %m", bdf);
        target[n] = 0;
        errno = 0;
        g = strtoul(strrchr(target, '/') + 1, &end, 10);
        if (errno || *end || g > UINT32_MAX)
                die("odd IOMMU group link %s", target);
        return (uint32_t) g;
}

static void drop_to_vmm(void) {
        if (setgroups(0, NULL) < 0 || setresgid(VMM_UID, VMM_UID, VMM_UID) < 0 ||
            setresuid(VMM_UID, VMM_UID, VMM_UID) < 0)
                die("dropping to uid %d: %m", VMM_UID);
}

/* One byte, and fds with it if @fds. */
static void send_msg(int sock, char c, const int *fds, size_t n) {
        char ctl[CMSG_SPACE(3 * sizeof(int))] = { 0 };
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (n > 0) {
                m.msg_control = ctl;
                m.msg_controllen = CMSG_SPACE(n * sizeof(int));
                struct cmsghdr *h = CMSG_FIRSTHDR(&m);
                h->cmsg_level = SOL_SOCKET;
                h->cmsg_type = SCM_RIGHTS;
                h->cmsg_len = CMSG_LEN(n * sizeof(int));
                memcpy(CMSG_DATA(h), fds, n * sizeof(int));
        }
        if (sendmsg(sock, &m, MSG_NOSIGNAL) != 1)
                die("sendmsg: %m");
}

static char recv_msg(int sock, int *fds, size_t n) {
        char ctl[CMSG_SPACE(3 * sizeof(int))] = { 0 }, c;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
        struct cmsghdr *h;

        if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
                die("recvmsg: %m");
        if (n == 0)
                return c;
        h = CMSG_FIRSTHDR(&m);
        if (!h || h->cmsg_type != SCM_RIGHTS || h->cmsg_len != CMSG_LEN(n * sizeof(int)))
                die("expected %zu fds", n);
        memcpy(fds, CMSG_DATA(h), n * sizeof(int));
        return c;
}

static void try_open(const char *path, const char *who) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
                printf("%s: opened %s\n", who, path);
                close(fd);
        } else
                printf("%s: open %s: %s\n", who, path, errno_name(errno));
}

/* A fresh buffer at @iova, filled by the edu from its own buffer (which
 * still holds run()'s pattern): 1 if the bytes arrived, 0 if not. */
static int dma_into(int dev, int cont, uint8_t *buf, uint64_t iova, bool map) {
        memset(buf, 0x33, BUF_SIZE);
        if (map)
                leg_map(&cont, buf, iova);
        dma(dev, EDU_BUF, (uint32_t) iova, EDU_DMA_TO_RAM);
        for (int i = 0; i < BUF_SIZE; i++)
                if (buf[i] != 0x33)
                        return 1;
        return 0;
}

static void print_acl(const char *name) {
        _cleanup_(vfio_acl_done) VfioAcl acl = { .n = 0 };
        int dfd, r;
        struct stat st;

        dfd = open("/dev/vfio", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                die("open /dev/vfio: %m");
        r = vfio_node_acl_read(dfd, name, &acl);
        if (r < 0)
                fail(LEGACY_STEP_ACL, r);
        if (fstatat(dfd, name, &st, 0) < 0)
                die("stat /dev/vfio/%s: %m", name);
        printf("acl /dev/vfio/%s (mode %04o):", name, st.st_mode & 07777);
        for (size_t i = 0; i < acl.n; i++) {
                const VfioAclEntry *e = &acl.entries[i];
                const char *tag = e->tag == ACL_USER_OBJ || e->tag == ACL_USER ? "user"
                                  : e->tag == ACL_GROUP_OBJ || e->tag == ACL_GROUP ? "group"
                                  : e->tag == ACL_MASK ? "mask" : "other";
                char id[16] = "";
                if (e->tag == ACL_USER || e->tag == ACL_GROUP)
                        snprintf(id, sizeof(id), "%u", e->id);
                printf(" %s:%s:%c%c%c", tag, id, e->perm & 4 ? 'r' : '-', e->perm & 2 ? 'w' : '-',
                       e->perm & 1 ? 'x' : '-');
        }
        printf("\n");
        close(dfd);
}

static int wait_child(pid_t pid) {
        int status;
        if (waitpid(pid, &status, 0) < 0)
                die("waitpid: %m");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                printf("error: the uid-%d process failed (status 0x%x)\n", VMM_UID, status);
                return 1;
        }
        return 0;
}

/* --- pass --------------------------------------------------------------- */

static void vmm_pass(int sock, uint32_t group) {
        char node[32];
        int fds[3];
        uint8_t *cut = buffer(0);

        drop_to_vmm();
        snprintf(node, sizeof(node), "/dev/vfio/%" PRIu32, group);
        try_open(node, "uid 1000");
        try_open("/dev/vfio/vfio", "uid 1000");
        recv_msg(sock, fds, 3);
        printf("uid 1000: received container %d, group %d, device %d\n", fds[0], fds[1], fds[2]);

        struct ops o = { .device = fds[2], .map = leg_map, .unmap = leg_unmap, .ctx = &fds[0] };
        run(&o);
        if (!dma_into(fds[2], fds[0], cut, IOVA_CUT, true))
                die("DMA to mapped IOVA 0x%llx did not arrive", IOVA_CUT);
        printf("ok: uid 1000: DMA to IOVA 0x%llx arrives before the cut\n", IOVA_CUT);

        send_msg(sock, 'c', NULL, 0);
        if (recv_msg(sock, NULL, 0) != 'd')
                die("no word from root");
        if (dma_into(fds[2], fds[0], cut, IOVA_CUT, false))
                die("DMA to IOVA 0x%llx still reached memory after unmap-all", IOVA_CUT);
        printf("ok: uid 1000: after root's unmap-all, DMA to IOVA 0x%llx was blocked, buffer untouched\n", IOVA_CUT);
        printf("cut-iova: 0x%llx\n", IOVA_CUT);

        struct vfio_iommu_type1_dma_map m = {
                .argsz = sizeof(m),
                .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                .vaddr = (uintptr_t) cut,
                .iova = IOVA_CUT,
                .size = BUF_SIZE,
        };
        if (ioctl(fds[0], VFIO_IOMMU_MAP_DMA, &m) == 0)
                printf("note: uid 1000 could map again after unmap-all (a cut, not a revocation)\n");
        else
                printf("note: uid 1000 could not map again after unmap-all: %s\n", errno_name(errno));
        exit(0);
}

static int cmd_pass(const char *bdf) {
        uint32_t group = group_of(bdf);
        LegacyStep step = LEGACY_STEP_CONTAINER_OPEN;
        int sv[2], cont, grp, dev, r;
        pid_t pid;

        /* The child is forked before root opens anything: it must get the
         * fds over the socket, not by inheritance. */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair: %m");
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                close(sv[0]);
                vmm_pass(sv[1], group);
        }
        close(sv[1]);

        cont = vfio_legacy_container_open(NULL, &step);
        if (cont < 0)
                fail(step, cont);
        grp = vfio_legacy_group_open(group, &step);
        if (grp < 0)
                fail(step, grp);
        r = vfio_legacy_group_set_container(grp, cont);
        if (r < 0)
                fail(LEGACY_STEP_SET_CONTAINER, r);
        r = vfio_legacy_set_iommu(cont);
        if (r < 0)
                fail(LEGACY_STEP_SET_IOMMU, r);
        dev = vfio_legacy_device_open(grp, bdf);
        if (dev < 0)
                fail(LEGACY_STEP_DEVICE_OPEN, dev);
        printf("ok: root: container, group %" PRIu32 " viable and set, type1v2, device fd for %s\n", group, bdf);

        r = vfio_legacy_group_open(group, &step);
        if (r >= 0) {
                printf("error: a second open of group %" PRIu32 " succeeded\n", group);
                return 1;
        }
        printf("second open: %s: %s: %s\n", vfio_legacy_step_to_string(step), errno_name(-r),
               vfio_legacy_error_reason(step, r));

        send_msg(sv[0], 'f', (int[]) { cont, grp, dev }, 3);
        if (recv_msg(sv[0], NULL, 0) != 'c')
                die("no word from the child");
        r = vfio_legacy_unmap_all(cont);
        if (r < 0)
                fail(LEGACY_STEP_UNMAP_ALL, r);
        printf("ok: root: unmap-all on its copy of the container\n");
        send_msg(sv[0], 'd', NULL, 0);
        return wait_child(pid);
}

/* --- open --------------------------------------------------------------- */

static int cmd_open(const char *bdf) {
        LegacyStep step = LEGACY_STEP_GROUP_OPEN;
        int grp = vfio_legacy_group_open(group_of(bdf), &step);

        if (grp < 0)
                fail(step, grp);
        printf("ok: group %" PRIu32 " opened, viable\n", group_of(bdf));
        return 0;
}

/* --- refusals ------------------------------------------------------------ */

static void refusal(LegacyStep step, int r, const char *what) {
        printf("refusal: %s: %s: %s: %s\n", what, vfio_legacy_step_to_string(step), r < 0 ? errno_name(-r) : "none",
               r < 0 ? vfio_legacy_error_reason(step, r) : "accepted");
}

/* Each call out of order, and what the kernel says to it. */
static int cmd_refusals(const char *bdf, const char *other) {
        LegacyStep step = LEGACY_STEP_CONTAINER_OPEN;
        uint32_t group = group_of(bdf);
        int cont, grp, null, r;

        cont = vfio_legacy_container_open(NULL, &step);
        if (cont < 0)
                fail(step, cont);
        refusal(LEGACY_STEP_SET_IOMMU, vfio_legacy_set_iommu(cont), "type1v2 on an empty container");
        refusal(LEGACY_STEP_UNMAP_ALL, vfio_legacy_unmap_all(cont), "unmap-all on an empty container");
        grp = vfio_legacy_group_open(group, &step);
        if (grp < 0)
                fail(step, grp);
        r = vfio_legacy_device_open(grp, bdf);
        refusal(LEGACY_STEP_DEVICE_OPEN, r, "device before the group is in a container");
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        refusal(LEGACY_STEP_SET_CONTAINER, vfio_legacy_group_set_container(grp, null), "/dev/null as the container");
        r = vfio_legacy_group_set_container(grp, cont);
        if (r < 0)
                fail(LEGACY_STEP_SET_CONTAINER, r);
        refusal(LEGACY_STEP_SET_CONTAINER, vfio_legacy_group_set_container(grp, cont), "the same container twice");
        r = vfio_legacy_device_open(grp, bdf);
        refusal(LEGACY_STEP_DEVICE_OPEN, r, "device before the IOMMU is set");
        if (r >= 0)
                close(r);
        refusal(LEGACY_STEP_UNMAP_ALL, vfio_legacy_unmap_all(cont), "unmap-all before the IOMMU is set");
        r = vfio_legacy_set_iommu(cont);
        if (r < 0)
                fail(LEGACY_STEP_SET_IOMMU, r);
        refusal(LEGACY_STEP_SET_IOMMU, vfio_legacy_set_iommu(cont), "type1v2 a second time");
        refusal(LEGACY_STEP_DEVICE_OPEN, vfio_legacy_device_open(grp, other), "a device of another group");
        refusal(LEGACY_STEP_UNMAP_ALL, vfio_legacy_unmap_all(cont), "unmap-all with nothing mapped");
        return 0;
}

/* The group node opened without the viability check, then put in a
 * container: what the kernel itself says to a group that is not viable. */
static int cmd_set_container_raw(const char *bdf) {
        LegacyStep step = LEGACY_STEP_CONTAINER_OPEN;
        char node[32];
        int cont, grp;

        cont = vfio_legacy_container_open(NULL, &step);
        if (cont < 0)
                fail(step, cont);
        snprintf(node, sizeof(node), "/dev/vfio/%" PRIu32, group_of(bdf));
        grp = open(node, O_RDWR | O_CLOEXEC);
        if (grp < 0)
                die("open %s: %m", node);
        refusal(LEGACY_STEP_SET_CONTAINER, vfio_legacy_group_set_container(grp, cont), "a group that is not viable");
        return 0;
}

/* --- acl ---------------------------------------------------------------- */

static void vmm_acl(int sock, uint32_t group, const char *bdf) {
        LegacyStep step = LEGACY_STEP_CONTAINER_OPEN;
        char node[32];
        int cont, grp, dev, r;
        uint8_t *held = buffer(0);

        drop_to_vmm();
        snprintf(node, sizeof(node), "/dev/vfio/%" PRIu32, group);
        try_open(node, "uid 1000 before the grant");
        send_msg(sock, 'o', NULL, 0);
        if (recv_msg(sock, NULL, 0) != 'g')
                die("no word from root");

        cont = vfio_legacy_container_open(NULL, &step);
        if (cont < 0)
                fail(step, cont);
        grp = vfio_legacy_group_open(group, &step);
        if (grp < 0)
                fail(step, grp);
        r = vfio_legacy_group_set_container(grp, cont);
        if (r < 0)
                fail(LEGACY_STEP_SET_CONTAINER, r);
        r = vfio_legacy_set_iommu(cont);
        if (r < 0)
                fail(LEGACY_STEP_SET_IOMMU, r);
        dev = vfio_legacy_device_open(grp, bdf);
        if (dev < 0)
                fail(LEGACY_STEP_DEVICE_OPEN, dev);
        printf("ok: uid 1000 opened the container, group %" PRIu32 " and device itself\n", group);
        struct ops o = { .device = dev, .map = leg_map, .unmap = leg_unmap, .ctx = &cont };
        run(&o);

        send_msg(sock, 'h', NULL, 0);
        if (recv_msg(sock, NULL, 0) != 'r')
                die("no word from root");
        if (!dma_into(dev, cont, held, IOVA_HELD, true))
                die("after the revoke, DMA through the held fds did not arrive");
        printf("ok: uid 1000: after the revoke, the fds it holds still work (map + DMA to 0x%llx)\n", IOVA_HELD);
        close(dev);
        close(grp);
        close(cont);
        try_open(node, "uid 1000 after the revoke, fds closed");
        exit(0);
}

static int cmd_acl(const char *bdf) {
        uint32_t group = group_of(bdf);
        char name[16];
        int sv[2], r;
        pid_t pid;

        snprintf(name, sizeof(name), "%" PRIu32, group);
        print_acl("vfio");
        print_acl(name);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair: %m");
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                close(sv[0]);
                vmm_acl(sv[1], group, bdf);
        }
        close(sv[1]);

        if (recv_msg(sv[0], NULL, 0) != 'o')
                die("no word from the child");
        r = vfio_group_acl_grant(-EBADF, group, VMM_UID);
        if (r < 0)
                fail(LEGACY_STEP_ACL, r);
        printf("ok: root granted uid %d rw on /dev/vfio/%s\n", VMM_UID, name);
        print_acl(name);
        send_msg(sv[0], 'g', NULL, 0);

        if (recv_msg(sv[0], NULL, 0) != 'h')
                die("no word from the child");
        r = vfio_group_acl_revoke(-EBADF, group, VMM_UID);
        if (r < 0)
                fail(LEGACY_STEP_ACL, r);
        printf("ok: root revoked uid %d's entry (%s)\n", VMM_UID, r > 0 ? "it had one" : "it had none");
        print_acl(name);
        r = vfio_group_acl_revoke(-EBADF, group, VMM_UID);
        printf("revoke again: %d\n", r);
        send_msg(sv[0], 'r', NULL, 0);
        return wait_child(pid);
}

int main(int argc, char **argv) {
        prog = "legacy-lease";
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc == 3 && strcmp(argv[1], "pass") == 0)
                return cmd_pass(argv[2]);
        if (argc == 3 && strcmp(argv[1], "open") == 0)
                return cmd_open(argv[2]);
        if (argc == 4 && strcmp(argv[1], "refusals") == 0)
                return cmd_refusals(argv[2], argv[3]);
        if (argc == 3 && strcmp(argv[1], "set-container-raw") == 0)
                return cmd_set_container_raw(argv[2]);
        if (argc == 3 && strcmp(argv[1], "acl") == 0)
                return cmd_acl(argv[2]);
        fprintf(stderr, "usage: legacy-lease pass|open|acl|set-container-raw BDF | refusals BDF OTHER-BDF\n");
        return 2;
}
