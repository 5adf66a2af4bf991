/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * edu-dma: drive QEMU's "edu" device's DMA engine through the IOMMU, from
 * userspace, over VFIO.  Part of the VM test bed, not of iommud: it proves
 * that the guest really translates device DMA through the IOMMU, so later
 * tests of iommud's fds mean something.
 *
 *   edu-dma iommufd BDF   cdev + /dev/iommu (kernel >= 6.6)
 *   edu-dma legacy BDF    /dev/vfio/vfio container + /dev/vfio/GROUP
 *   edu-dma fds [--hold] [--map-mib N]
 *                         the fds of an iommud lease, as `iommuctl claim
 *                         DEVICE -- edu-dma fds` hands them over
 *                         (IOMMUD_IOMMUFD, IOMMUD_DEVICE_FDS, and
 *                         IOMMUD_IOAS_ID in bound mode; without it the
 *                         device fd is parked and edu-dma binds it, as
 *                         QEMU does).  --hold: afterwards print "holding",
 *                         wait for a line on stdin, and show that a DMA
 *                         now reaches nothing (iommud cut it at the end
 *                         of the lease), with "ok: DMA after the lease
 *                         ended was blocked".  --hold-alive: instead,
 *                         for each line on stdin, copy a pattern through
 *                         the device again and print "ok: DMA round trip
 *                         N after holding"; exit 0 at EOF (the lease
 *                         outlived whatever the test did meanwhile, such
 *                         as stopping iommud).  --map-mib N: first map
 *                         and pin N MiB (iommufd), as a VMM maps guest
 *                         RAM: fails with ENOMEM past RLIMIT_MEMLOCK.
 *
 * Both do the same three things and print one "ok:" line for each:
 *   1. copy a pattern RAM -> device -> RAM through mapped IOVAs, compare;
 *   2. map a third buffer, unmap it, aim a device->RAM DMA at its IOVA
 *      and show the buffer did not change (the IOMMU blocked the write;
 *      the guest kernel logs a DMAR fault, which the calling test checks);
 *   3. print the faulting IOVA for that check as "fault-iova: 0x...".
 * Exit 0 when everything held, 1 with a message on stderr otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_ID          0x00
#define EDU_DMA_SRC     0x80
#define EDU_DMA_DST     0x88
#define EDU_DMA_COUNT   0x90
#define EDU_DMA_CMD     0x98
#define EDU_DMA_START   0x01
#define EDU_DMA_TO_RAM  0x02
#define EDU_BUF         0x40000 /* the device's 4 KiB DMA buffer */

/* The edu's DMA mask is 28 bits: keep IOVAs below 256 MiB. */
#define IOVA_SRC        0x100000ULL
#define IOVA_DST        0x200000ULL
#define IOVA_GONE       0x300000ULL
#define BUF_SIZE        4096

static const char *prog = "edu-dma";

static void die(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "%s: ", prog);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

struct ops {
        int device;
        void (*map)(void *ctx, void *va, uint64_t iova);
        void (*unmap)(void *ctx, uint64_t iova);
        void *ctx;
};

static uint64_t bar0_off, cfg_off;

static void region(int dev, uint32_t index, uint64_t *ret_off) {
        struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };
        if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0)
                die("VFIO_DEVICE_GET_REGION_INFO(%u): %m", index);
        *ret_off = ri.offset;
}

static uint32_t rd32(int dev, uint64_t reg) {
        uint32_t v;
        if (pread(dev, &v, 4, (off_t) (bar0_off + reg)) != 4)
                die("read BAR0+0x%" PRIx64 ": %m", reg);
        return v;
}

static void wr32(int dev, uint64_t reg, uint32_t v) {
        if (pwrite(dev, &v, 4, (off_t) (bar0_off + reg)) != 4)
                die("write BAR0+0x%" PRIx64 ": %m", reg);
}

static void dma(int dev, uint32_t src, uint32_t dst, uint32_t cmd) {
        wr32(dev, EDU_DMA_SRC, src);
        wr32(dev, EDU_DMA_SRC + 4, 0);
        wr32(dev, EDU_DMA_DST, dst);
        wr32(dev, EDU_DMA_DST + 4, 0);
        wr32(dev, EDU_DMA_COUNT, BUF_SIZE);
        wr32(dev, EDU_DMA_CMD, cmd | EDU_DMA_START);
        /* The edu runs DMA from a 100 ms virtual-time timer. */
        for (int i = 0; i < 1000; i++) {
                if (!(rd32(dev, EDU_DMA_CMD) & EDU_DMA_START))
                        return;
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        die("DMA did not complete within 10 s");
}

static void *buffer(uint8_t fill) {
        void *p = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                die("mmap: %m");
        memset(p, fill, BUF_SIZE);
        return p;
}

static void run(const struct ops *o) {
        int dev = o->device;
        uint16_t cmdreg;

        region(dev, VFIO_PCI_BAR0_REGION_INDEX, &bar0_off);
        region(dev, VFIO_PCI_CONFIG_REGION_INDEX, &cfg_off);

        /* Memory space + bus master, through the VFIO config region. */
        if (pread(dev, &cmdreg, 2, (off_t) (cfg_off + 4)) != 2)
                die("read PCI command: %m");
        cmdreg |= 0x6;
        if (pwrite(dev, &cmdreg, 2, (off_t) (cfg_off + 4)) != 2)
                die("write PCI command: %m");

        uint32_t id = rd32(dev, EDU_ID);
        if ((id & 0xffff) != 0x00ed)
                die("BAR0 ID register reads 0x%08x, not an edu device", id);
        printf("ok: device fd works, edu ID 0x%08x\n", id);

        uint8_t *src = buffer(0), *dst = buffer(0), *gone = buffer(0x5a);
        for (int i = 0; i < BUF_SIZE; i++)
                src[i] = (uint8_t) (i * 7 + 3);
        o->map(o->ctx, src, IOVA_SRC);
        o->map(o->ctx, dst, IOVA_DST);

        dma(dev, IOVA_SRC, EDU_BUF, 0);
        dma(dev, EDU_BUF, IOVA_DST, EDU_DMA_TO_RAM);
        if (memcmp(src, dst, BUF_SIZE) != 0) {
                int i = 0;
                while (src[i] == dst[i])
                        i++;
                die("DMA round trip differs at byte %d: 0x%02x != 0x%02x", i, dst[i], src[i]);
        }
        printf("ok: DMA round trip RAM -> edu -> RAM through IOVA 0x%llx and 0x%llx, %d bytes verified\n",
               IOVA_SRC, IOVA_DST, BUF_SIZE);

        /* Map and unmap, so this IOVA once reached this buffer. */
        o->map(o->ctx, gone, IOVA_GONE);
        o->unmap(o->ctx, IOVA_GONE);
        dma(dev, EDU_BUF, IOVA_GONE, EDU_DMA_TO_RAM);
        for (int i = 0; i < BUF_SIZE; i++)
                if (gone[i] != 0x5a)
                        die("DMA to unmapped IOVA 0x%llx reached memory at byte %d", IOVA_GONE, i);
        printf("ok: DMA to unmapped IOVA 0x%llx was blocked, buffer untouched\n", IOVA_GONE);
        printf("fault-iova: 0x%llx\n", IOVA_GONE);
}

/* --- iommufd + VFIO cdev ------------------------------------------------ */

struct ifd { int fd; uint32_t ioas; };

static void ifd_map(void *ctx, void *va, uint64_t iova) {
        struct ifd *c = ctx;
        struct iommu_ioas_map m = {
                .size = sizeof(m),
                .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
                .ioas_id = c->ioas,
                .user_va = (uintptr_t) va,
                .length = BUF_SIZE,
                .iova = iova,
        };
        if (ioctl(c->fd, IOMMU_IOAS_MAP, &m) < 0)
                die("IOMMU_IOAS_MAP iova 0x%" PRIx64 ": %m", iova);
}

static void ifd_unmap(void *ctx, uint64_t iova) {
        struct ifd *c = ctx;
        struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = c->ioas, .iova = iova, .length = BUF_SIZE };
        if (ioctl(c->fd, IOMMU_IOAS_UNMAP, &u) < 0)
                die("IOMMU_IOAS_UNMAP iova 0x%" PRIx64 ": %m", iova);
}

static int cdev_path(const char *bdf, char *buf, size_t n) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        /* The directory holds exactly one entry, vfioN. */
        int r = -ENOENT;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, "vfio", 4) == 0) {
                        snprintf(buf, n, "/dev/vfio/devices/%s", de->d_name);
                        r = 0;
                }
        closedir(d);
        return r;
}

static void run_iommufd(const char *bdf) {
        char path[PATH_MAX];
        if (cdev_path(bdf, path, sizeof(path)) < 0)
                die("%s has no VFIO cdev (is it bound to vfio-pci?)", bdf);

        struct ifd c;
        c.fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
        if (c.fd < 0)
                die("open /dev/iommu: %m");
        int dev = open(path, O_RDWR | O_CLOEXEC);
        if (dev < 0)
                die("open %s: %m", path);

        struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = c.fd };
        if (ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b) < 0)
                die("VFIO_DEVICE_BIND_IOMMUFD: %m");
        struct iommu_ioas_alloc a = { .size = sizeof(a) };
        if (ioctl(c.fd, IOMMU_IOAS_ALLOC, &a) < 0)
                die("IOMMU_IOAS_ALLOC: %m");
        c.ioas = a.out_ioas_id;
        struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = c.ioas };
        if (ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0)
                die("VFIO_DEVICE_ATTACH_IOMMUFD_PT: %m");
        printf("ok: %s bound to iommufd (devid %u), attached to IOAS %u (hwpt %u)\n",
               path, b.out_devid, c.ioas, at.pt_id);

        struct ops o = { .device = dev, .map = ifd_map, .unmap = ifd_unmap, .ctx = &c };
        run(&o);
}

/* --- legacy: type1 container + group ------------------------------------ */

static void leg_map(void *ctx, void *va, uint64_t iova) {
        int cont = *(int *) ctx;
        struct vfio_iommu_type1_dma_map m = {
                .argsz = sizeof(m),
                .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                .vaddr = (uintptr_t) va,
                .iova = iova,
                .size = BUF_SIZE,
        };
        if (ioctl(cont, VFIO_IOMMU_MAP_DMA, &m) < 0)
                die("VFIO_IOMMU_MAP_DMA iova 0x%" PRIx64 ": %m", iova);
}

static void leg_unmap(void *ctx, uint64_t iova) {
        int cont = *(int *) ctx;
        struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = BUF_SIZE };
        if (ioctl(cont, VFIO_IOMMU_UNMAP_DMA, &u) < 0)
                die("VFIO_IOMMU_UNMAP_DMA iova 0x%" PRIx64 ": %m", iova);
}

static void run_legacy(const char *bdf) {
        char link[PATH_MAX], target[PATH_MAX], path[PATH_MAX];
        snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                die("%s has no IOMMU group: %m", bdf);
        target[n] = 0;
        const char *group = strrchr(target, '/') + 1;
        snprintf(path, sizeof(path), "/dev/vfio/%s", group);

        int cont = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (cont < 0)
                die("open /dev/vfio/vfio: %m");
        if (ioctl(cont, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
                die("unknown VFIO API version");
        if (ioctl(cont, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0)
                die("no type1v2 IOMMU support");
        int grp = open(path, O_RDWR | O_CLOEXEC);
        if (grp < 0)
                die("open %s: %m", path);
        struct vfio_group_status st = { .argsz = sizeof(st) };
        if (ioctl(grp, VFIO_GROUP_GET_STATUS, &st) < 0)
                die("VFIO_GROUP_GET_STATUS: %m");
        if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
                die("group %s is not viable", group);
        if (ioctl(grp, VFIO_GROUP_SET_CONTAINER, &cont) < 0)
                die("VFIO_GROUP_SET_CONTAINER: %m");
        if (ioctl(cont, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
                die("VFIO_SET_IOMMU: %m");
        int dev = ioctl(grp, VFIO_GROUP_GET_DEVICE_FD, bdf);
        if (dev < 0)
                die("VFIO_GROUP_GET_DEVICE_FD(%s): %m", bdf);
        printf("ok: group %s viable, in a type1v2 container, device fd for %s\n", group, bdf);

        struct ops o = { .device = dev, .map = leg_map, .unmap = leg_unmap, .ctx = &cont };
        run(&o);
}

/* --- fds from an iommud lease ------------------------------------------- */

static int env_int(const char *name, bool required) {
        const char *v = getenv(name);
        char *end;
        long n;

        if (!v) {
                if (required)
                        die("$%s is not set: run me as iommuctl claim DEVICE -- edu-dma fds", name);
                return -1;
        }
        n = strtol(v, &end, 10);
        if (*end || n < 0 || n > INT32_MAX)
                die("$%s=%s is not a number", name, v);
        return (int) n;
}

/* --hold: map one more buffer, say "holding", wait for a line on stdin
 * (meanwhile the test ends the lease), then show a DMA into that buffer
 * reaches nothing: iommud cut the lease's DMA under this holder. */
static void hold_then_check_cut(const struct ops *o) {
        uint8_t *dst = buffer(0x33);
        char line[64];

        o->map(o->ctx, dst, IOVA_DST + 0x10000);
        printf("holding\n");
        if (!fgets(line, sizeof(line), stdin))
                die("stdin closed while holding");
        dma(o->device, EDU_BUF, IOVA_DST + 0x10000, EDU_DMA_TO_RAM);
        for (int i = 0; i < BUF_SIZE; i++)
                if (dst[i] != 0x33)
                        die("DMA after the lease ended reached memory at byte %d", i);
        printf("ok: DMA after the lease ended was blocked, buffer untouched\n");
        printf("fault-iova: 0x%llx\n", IOVA_DST + 0x10000);
}

/* --hold-alive: a DMA round trip through fresh buffers for each line on
 * stdin, each at IOVAs of its own. */
static void hold_then_check_alive(const struct ops *o) {
        char line[64];

        printf("holding\n");
        fflush(stdout);
        for (unsigned n = 1; fgets(line, sizeof(line), stdin); n++) {
                uint8_t *src = buffer(0), *dst = buffer(0);
                unsigned long long at = 0x800000ULL + 0x20000ULL * n;  /* below IOVA 256 MiB for n < 1000 */

                for (int i = 0; i < BUF_SIZE; i++)
                        src[i] = (uint8_t) (i * 13 + n);
                o->map(o->ctx, src, at);
                o->map(o->ctx, dst, at + 0x10000);
                dma(o->device, at, EDU_BUF, 0);
                dma(o->device, EDU_BUF, at + 0x10000, EDU_DMA_TO_RAM);
                if (memcmp(src, dst, BUF_SIZE) != 0)
                        die("DMA round trip %u after holding differs", n);
                printf("ok: DMA round trip %u after holding, %d bytes verified\n", n, BUF_SIZE);
                fflush(stdout);
        }
}

/* Map @mib MiB of fresh memory at IOVA 256 MiB, as a VMM maps guest RAM:
 * pinned, and charged to this process's RLIMIT_MEMLOCK. */
static void map_big(struct ifd *c, unsigned mib) {
        size_t len = (size_t) mib << 20;
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        struct iommu_ioas_map m = {
                .size = sizeof(m),
                .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
                .ioas_id = c->ioas,
                .length = len,
                .iova = 256ULL << 20,
        };

        if (p == MAP_FAILED)
                die("mmap %u MiB: %m", mib);
        m.user_va = (uintptr_t) p;
        if (ioctl(c->fd, IOMMU_IOAS_MAP, &m) < 0)
                die("IOMMU_IOAS_MAP of %u MiB: %m", mib);
        printf("ok: mapped and pinned %u MiB of this process's memory\n", mib);
}

static void run_fds(int hold, unsigned map_mib) {
        const char *list = getenv("IOMMUD_DEVICE_FDS"), *eq;
        struct ifd c;
        int dev, ioas;

        if (!list || !(eq = strchr(list, '=')))
                die("$IOMMUD_DEVICE_FDS is not set");
        dev = atoi(eq + 1);
        if (getenv("IOMMUD_CONTAINER")) {
                /* Legacy: the container is ready (groups in, type1v2 set). */
                static int cont;
                cont = env_int("IOMMUD_CONTAINER", true);
                printf("ok: legacy device fd %d in container %d, groups %s, from iommud\n", dev, cont,
                       getenv("IOMMUD_GROUP_FDS") ? getenv("IOMMUD_GROUP_FDS") : "?");
                struct ops lo = { .device = dev, .map = leg_map, .unmap = leg_unmap, .ctx = &cont };
                run(&lo);
                if (hold == 2)
                        hold_then_check_alive(&lo);
                else if (hold)
                        hold_then_check_cut(&lo);
                return;
        }
        c.fd = env_int("IOMMUD_IOMMUFD", true);
        ioas = env_int("IOMMUD_IOAS_ID", false);
        if (ioas >= 0) {
                c.ioas = (uint32_t) ioas;
                printf("ok: bound device fd %d in IOAS %u of iommufd %d, from iommud\n", dev, c.ioas, c.fd);
        } else {
                struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = c.fd };
                struct iommu_ioas_alloc a = { .size = sizeof(a) };
                struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };

                if (ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b) < 0)
                        die("VFIO_DEVICE_BIND_IOMMUFD of the parked fd: %m");
                if (ioctl(c.fd, IOMMU_IOAS_ALLOC, &a) < 0)
                        die("IOMMU_IOAS_ALLOC: %m");
                c.ioas = at.pt_id = a.out_ioas_id;
                if (ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0)
                        die("VFIO_DEVICE_ATTACH_IOMMUFD_PT: %m");
                printf("ok: parked device fd %d bound to iommufd %d here (devid %u), IOAS %u\n", dev, c.fd,
                       b.out_devid, c.ioas);
        }
        if (map_mib)
                map_big(&c, map_mib);
        struct ops o = { .device = dev, .map = ifd_map, .unmap = ifd_unmap, .ctx = &c };
        run(&o);
        if (hold == 2)
                hold_then_check_alive(&o);
        else if (hold)
                hold_then_check_cut(&o);
}

int main(int argc, char **argv) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc >= 2 && strcmp(argv[1], "fds") == 0) {
                int hold = 0;   /* 1: --hold, 2: --hold-alive */
                unsigned mib = 0;
                for (int i = 2; i < argc; i++)
                        if (strcmp(argv[i], "--hold") == 0)
                                hold = 1;
                        else if (strcmp(argv[i], "--hold-alive") == 0)
                                hold = 2;
                        else if (strcmp(argv[i], "--map-mib") == 0 && i + 1 < argc)
                                mib = (unsigned) atoi(argv[++i]);
                        else
                                die("usage: %s fds [--hold|--hold-alive] [--map-mib N]", prog);
                run_fds(hold, mib);
                return 0;
        }
        if (argc != 3 || (strcmp(argv[1], "iommufd") && strcmp(argv[1], "legacy"))) {
                fprintf(stderr, "usage: %s iommufd|legacy BDF | fds [--hold]\n", prog);
                return 2;
        }
        if (strcmp(argv[1], "iommufd") == 0)
                run_iommufd(argv[2]);
        else
                run_legacy(argv[2]);
        return 0;
}
