/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shared/macro.h"
#include "shared/uuid.h"
#include "sysfs.h"

/* Sysfs attributes are at most a page; anything larger is not sysfs. */
#define ATTR_MAX 4096

struct Sysfs {
        int root_fd;
};

int sysfs_new(const char *root, Sysfs **ret) {
        _cleanup_close_ int fd = -EBADF;
        Sysfs *s;

        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->root_fd = TAKE_FD(fd);
        *ret = s;
        return 0;
}

Sysfs *sysfs_free(Sysfs *s) {
        if (!s)
                return NULL;
        safe_close(s->root_fd);
        free(s);
        return NULL;
}

void sysfs_freep(Sysfs **s) {
        sysfs_free(*s);
}

/* Paths handed to this module are built by it, but check them anyway: a
 * relative path of plain components, no ".", "..", or empty ones. */
static int path_is_safe(const char *path) {
        const char *p = path;

        if (!path || !*path || *path == '/' || strlen(path) >= PATH_MAX)
                return 0;
        while (*p) {
                size_t n = strcspn(p, "/");
                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return 0;
                p += n;
                if (*p == '/')
                        p++;
                if (!*p && p[-1] == '/')
                        return 0;
        }
        return 1;
}

/* The walk below follows at most this many symlinks, as the kernel does,
 * and keeps at most this many directories open. */
#define FOLLOW_MAX 40
#define DEPTH_MAX 64

/* openat2() with RESOLVE_IN_ROOT | RESOLVE_NO_XDEV, done by hand, one
 * component at a time: for kernels before 5.6, and for seccomp filters
 * that do not know the syscall and answer ENOSYS, as systemd 252's
 * @system-service does (udevd runs under it, and so do the programs its
 * rules run).  Every component is opened with O_NOFOLLOW; a symlink is
 * read and its target walked in its place, from the root when absolute;
 * ".." stops at the root; a component on another file system is refused
 * (-EXDEV).  A component swapped for a symlink between the look and the
 * open fails the open (O_NOFOLLOW) rather than being followed. */
static int openat_walk(int rootfd, const char *path, int flags) {
        int dirs[DEPTH_MAX], n = 0, fd = -EBADF, follows = 0, r;
        char buf[PATH_MAX], target[PATH_MAX], comp[NAME_MAX + 1];
        struct stat root_st, st;
        const char *p;

        if (fstat(rootfd, &root_st) < 0)
                return -errno;
        if (strlen(path) >= sizeof(buf))
                return -ENAMETOOLONG;
        strcpy(buf, path);
        p = buf;
        for (;;) {
                int cur = n > 0 ? dirs[n - 1] : rootfd;
                size_t len;
                bool last;

                while (*p == '/')
                        p++;
                if (!*p) {
                        /* Ended on a directory (a target ending in ".."). */
                        fd = openat(cur, ".", flags | O_CLOEXEC);
                        r = fd < 0 ? -errno : 0;
                        break;
                }
                len = strcspn(p, "/");
                if (len > NAME_MAX) {
                        r = -ENAMETOOLONG;
                        break;
                }
                memcpy(comp, p, len);
                comp[len] = 0;
                p += len;
                last = !p[strspn(p, "/")];
                if (strcmp(comp, ".") == 0)
                        continue;
                if (strcmp(comp, "..") == 0) {
                        if (n > 0)
                                safe_close(dirs[--n]);
                        continue;
                }
                if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        break;
                }
                if (st.st_dev != root_st.st_dev) {
                        r = -EXDEV;
                        break;
                }
                if (S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
                        ssize_t k;

                        if (++follows > FOLLOW_MAX) {
                                r = -ELOOP;
                                break;
                        }
                        k = readlinkat(cur, comp, target, sizeof(target));
                        if (k < 0) {
                                r = -errno;
                                break;
                        }
                        if ((size_t) k + strlen(p) + 2 > sizeof(buf)) {
                                r = -ENAMETOOLONG;
                                break;
                        }
                        /* The target, then what was left after the link. */
                        memmove(buf + k + 1, p, strlen(p) + 1);
                        memcpy(buf, target, (size_t) k);
                        buf[k] = '/';
                        p = buf;
                        if (target[0] == '/')
                                while (n > 0)
                                        safe_close(dirs[--n]);
                        continue;
                }
                if (last) {
                        fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC);
                        r = fd < 0 ? -errno : 0;
                        break;
                }
                if (n >= DEPTH_MAX) {
                        r = -ENAMETOOLONG;
                        break;
                }
                dirs[n] = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dirs[n] < 0) {
                        r = -errno;
                        break;
                }
                n++;
        }
        while (n > 0)
                safe_close(dirs[--n]);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        if (fstat(fd, &st) < 0 || st.st_dev != root_st.st_dev) {
                r = st.st_dev != root_st.st_dev ? -EXDEV : -errno;
                safe_close(fd);
                return r;
        }
        return fd;
}

static int openat_beneath(int dirfd, const char *path, int flags) {
        static bool no_openat2;
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        int fd;

        if (no_openat2)
                return openat_walk(dirfd, path, flags);
        /* With RESOLVE_IN_ROOT the kernel answers EAGAIN when a rename or
         * mount anywhere raced with a ".." walk it could not then vouch
         * for (netdev renames on a host, other tests here); retrying is
         * what openat2(2) prescribes. */
        for (int i = 0;; i++) {
                fd = (int) syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
                if (fd >= 0)
                        return fd;
                if (errno == ENOSYS) {
                        no_openat2 = true;
                        return openat_walk(dirfd, path, flags);
                }
                if (errno != EAGAIN || i >= 64)
                        return -errno;
        }
}

int sysfs_open_at(Sysfs *s, const char *path, int flags) {
        if (!path_is_safe(path))
                return -EINVAL;
        return openat_beneath(s->root_fd, path, flags);
}

int sysfs_read_attr(Sysfs *s, const char *path, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        ssize_t n;

        fd = sysfs_open_at(s, path, O_RDONLY | O_NOFOLLOW);
        if (fd < 0)
                return fd;
        buf = malloc(ATTR_MAX + 1);
        if (!buf)
                return -ENOMEM;
        n = read(fd, buf, ATTR_MAX + 1);
        if (n < 0)
                return -errno;
        if (n > ATTR_MAX)
                return -EFBIG;
        buf[n] = 0;
        if (n > 0 && buf[n - 1] == '\n')
                buf[n - 1] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

int sysfs_read_link(Sysfs *s, const char *path, char **ret) {
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_free_ char *dir = NULL;
        char target[PATH_MAX];
        const char *name;
        ssize_t n;

        if (!path_is_safe(path))
                return -EINVAL;
        /* Resolve the directory beneath the root, then read the link itself
         * relative to it: no component is followed outside the root, and
         * the link's own target is read, never followed. */
        name = strrchr(path, '/');
        if (name) {
                dir = strndup(path, (size_t) (name - path));
                if (!dir)
                        return -ENOMEM;
                dfd = openat_beneath(s->root_fd, dir, O_PATH | O_DIRECTORY);
                if (dfd < 0)
                        return dfd;
                name++;
        } else {
                name = path;
        }
        n = readlinkat(dfd >= 0 ? dfd : s->root_fd, name, target, sizeof(target));
        if (n < 0)
                return errno == EINVAL ? -ENOLINK : -errno;
        /* A full buffer may be a cut-off target: refuse rather than guess. */
        if ((size_t) n >= sizeof(target))
                return -ENAMETOOLONG;
        target[n] = 0;
        *ret = strdup(target);
        return *ret ? 0 : -ENOMEM;
}

int sysfs_read_link_name(Sysfs *s, const char *path, char **ret) {
        _cleanup_free_ char *target = NULL;
        const char *base;
        int r;

        r = sysfs_read_link(s, path, &target);
        if (r < 0)
                return r;
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
                return -EINVAL;
        *ret = strdup(base);
        return *ret ? 0 : -ENOMEM;
}

static void pci_path(const PciAddress *a, const char *attr, char buf[static 64]) {
        char bdf[PCI_ADDRESS_STRING_MAX];
        snprintf(buf, 64, "bus/pci/devices/%s/%s", pci_address_format(a, bdf), attr);
}

int sysfs_pci_iommu_group(Sysfs *s, const PciAddress *a, uint32_t *ret) {
        _cleanup_free_ char *name = NULL;
        char path[64], *end;
        unsigned long v;
        int r;

        pci_path(a, "iommu_group", path);
        r = sysfs_read_link_name(s, path, &name);
        if (r < 0)
                return r;
        if (name[0] < '0' || name[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(name, &end, 10);
        if (errno || *end || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

int sysfs_pci_driver(Sysfs *s, const PciAddress *a, char **ret) {
        char path[64];

        pci_path(a, "driver", path);
        return sysfs_read_link_name(s, path, ret);
}

static int device_path(SysfsBus bus, const char *name, const char *attr, char *buf, size_t n) {
        char canon[UUID_STRING_MAX > PCI_ADDRESS_STRING_MAX ? UUID_STRING_MAX : PCI_ADDRESS_STRING_MAX];
        int r;

        if (bus == SYSFS_BUS_PCI)
                r = pci_address_canonicalize(name, canon);
        else
                r = uuid_canonicalize(name, canon);
        if (r < 0 || strcmp(canon, name) != 0)
                return -EINVAL;
        r = snprintf(buf, n, "bus/%s/devices/%s/%s", bus == SYSFS_BUS_PCI ? "pci" : "mdev", name, attr);
        return r < 0 || (size_t) r >= n ? -EINVAL : 0;
}

int sysfs_device_read_attr(Sysfs *s, SysfsBus bus, const char *name, const char *attr, char **ret) {
        char path[256];
        int r = device_path(bus, name, attr, path, sizeof(path));
        return r < 0 ? r : sysfs_read_attr(s, path, ret);
}

int sysfs_device_read_link_name(Sysfs *s, SysfsBus bus, const char *name, const char *link, char **ret) {
        char path[256];
        int r = device_path(bus, name, link, path, sizeof(path));
        return r < 0 ? r : sysfs_read_link_name(s, path, ret);
}

static void strvp(char ***v) {
        sysfs_strv_free(*v);
}

int sysfs_device_dir_entry(Sysfs *s, SysfsBus bus, const char *name, const char *subdir,
                           const char *prefix, char **ret) {
        _cleanup_(strvp) char **entries = NULL;
        char path[256];
        int r;

        r = device_path(bus, name, subdir, path, sizeof(path));
        if (r < 0)
                return r;
        r = sysfs_list_dir(s, path, &entries);
        if (r < 0)
                return r;
        for (char **e = entries; *e; e++)
                if (strncmp(*e, prefix, strlen(prefix)) == 0) {
                        *ret = strdup(*e);
                        return *ret ? 0 : -ENOMEM;
                }
        return -ENOENT;
}

int sysfs_exists(Sysfs *s, const char *path) {
        int fd = sysfs_open_at(s, path, O_PATH);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        safe_close(fd);
        return 1;
}

int sysfs_name_is_valid(const char *name) {
        size_t n;

        if (!name)
                return 0;
        n = strnlen(name, NAME_MAX + 1);
        if (n == 0 || n > NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (name[i] == '/' || (unsigned char) name[i] <= ' ' || (unsigned char) name[i] >= 0x7f)
                        return 0;
        return 1;
}

char **sysfs_strv_free(char **v) {
        if (v)
                for (char **p = v; *p; p++)
                        free(*p);
        free(v);
        return NULL;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int sysfs_list_dir(Sysfs *s, const char *path, char ***ret) {
        char **v = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        fd = sysfs_open_at(s, path, O_RDONLY | O_DIRECTORY);
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        while ((de = readdir(d))) {
                if (!sysfs_name_is_valid(de->d_name))
                        continue;
                if (n + 2 > allocated) {
                        size_t k = allocated ? allocated * 2 : 8;
                        char **nv = realloc(v, k * sizeof(*nv));
                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        v = nv;
                        allocated = k;
                }
                v[n] = strdup(de->d_name);
                if (!v[n]) {
                        r = -ENOMEM;
                        break;
                }
                v[++n] = NULL;
        }
        closedir(d);
        if (r < 0) {
                if (v)
                        v[n] = NULL;
                sysfs_strv_free(v);
                return r;
        }
        if (!v) {
                v = calloc(1, sizeof(*v));
                if (!v)
                        return -ENOMEM;
        }
        qsort(v, n, sizeof(*v), cmp_str);
        *ret = v;
        return 0;
}

int sysfs_mdev_parent_name(Sysfs *s, const char *uuid, char **ret) {
        char canon[UUID_STRING_MAX], path[64], target[PATH_MAX];
        _cleanup_close_ int dfd = -EBADF;
        const char *end, *start;
        ssize_t n;

        if (uuid_canonicalize(uuid, canon) < 0 || strcmp(canon, uuid) != 0)
                return -EINVAL;
        dfd = openat_beneath(s->root_fd, "bus/mdev/devices", O_PATH | O_DIRECTORY);
        if (dfd < 0)
                return dfd;
        n = readlinkat(dfd, canon, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        /* ".../<parent>/<uuid>": the component before the last. */
        end = strrchr(target, '/');
        if (!end || strcmp(end + 1, canon) != 0)
                return -EINVAL;
        for (start = end; start > target && start[-1] != '/'; start--)
                ;
        snprintf(path, sizeof(path), "%.*s", (int) (end - start), start);
        if (!sysfs_name_is_valid(path) || (size_t) (end - start) >= sizeof(path))
                return -EINVAL;
        *ret = strdup(path);
        return *ret ? 0 : -ENOMEM;
}
