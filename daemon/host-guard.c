/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host-guard.h"
#include "shared/hashmap.h"
#include "shared/hex.h"
#include "shared/macro.h"

/* From <linux/route.h>, which drags in more than it gives. */
#define ROUTE_FLAG_UP 0x0001u
#define ROUTE_FLAG_REJECT 0x0200u

/* One /proc line we keep; longer ones are no line we parse. */
#define LINE_MAX_BYTES 16384

typedef struct Critical {
        char name[PCI_ADDRESS_STRING_MAX];      /* the key */
        char *reason;
} Critical;

struct HostGuard {
        Hashmap *critical;      /* canonical PCI address -> Critical */
};

/* What one scan carries along: the guard it fills, the block and network
 * devices it has visited (so a device shared by many mounts or reached by
 * two paths is looked at once), and what is left of its budget. */
typedef struct Scan {
        Sysfs *sysfs;
        HostGuard *guard;
        Hashmap *seen;          /* "block:NAME", "net:NAME", ... -> the key itself, owned */
        /* Separate budgets, so that a host with very many block devices
         * still has its routes looked at. */
        size_t block_left;
        size_t net_left;
} Scan;

HostGuard *host_guard_free(HostGuard *h) {
        size_t i = 0;
        void *v;

        if (!h)
                return NULL;
        while (hashmap_iterate(h->critical, &i, &v, NULL)) {
                Critical *c = v;
                free(c->reason);
                free(c);
        }
        hashmap_free(h->critical);
        free(h);
        return NULL;
}

void host_guard_freep(HostGuard **h) {
        host_guard_free(*h);
}

static int host_guard_new(HostGuard **ret) {
        HostGuard *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->critical = hashmap_new();
        if (!h->critical) {
                free(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

/* Record @name as critical; the first reason found stays.  @name must be
 * canonical.  -ENOMEM. */
static int mark(HostGuard *h, const char *name, const char *reason) {
        Critical *c;
        int r;

        if (hashmap_get(h->critical, name))
                return 0;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->reason = strdup(reason);
        if (!c->reason) {
                free(c);
                return -ENOMEM;
        }
        r = hashmap_put(h->critical, c->name, c);
        if (r < 0) {
                free(c->reason);
                free(c);
                return r;
        }
        return 0;
}

static int markf(HostGuard *h, const char *name, const char *fmt, ...) _printf_(3, 4);
static int markf(HostGuard *h, const char *name, const char *fmt, ...) {
        _cleanup_free_ char *reason = NULL;
        va_list ap;
        int k;

        if (hashmap_get(h->critical, name))
                return 0;
        va_start(ap, fmt);
        k = vasprintf(&reason, fmt, ap);
        va_end(ap);
        if (k < 0) {
                reason = NULL;
                return -ENOMEM;
        }
        return mark(h, name, reason);
}

/* 1 when @kind:@name was new, 0 when seen before or *@left is spent. */
static int seen_add(Scan *sc, const char *kind, const char *name, size_t *left) {
        _cleanup_free_ char *key = NULL;
        int r;

        if (asprintf(&key, "%s:%s", kind, name) < 0) {
                key = NULL;
                return -ENOMEM;
        }
        if (hashmap_get(sc->seen, key))
                return 0;
        if (*left == 0)
                return 0;
        (*left)--;
        r = hashmap_put(sc->seen, key, key);
        if (r < 0)
                return r;
        TAKE_PTR(key);
        return 1;
}

/* @s, all of it, is a canonical PCI address. */
static bool is_pci_name(const char *s, size_t n) {
        char buf[PCI_ADDRESS_STRING_MAX], canon[PCI_ADDRESS_STRING_MAX];

        if (n == 0 || n >= sizeof(buf))
                return false;
        memcpy(buf, s, n);
        buf[n] = 0;
        return pci_address_canonicalize(buf, canon) >= 0 && strcmp(buf, canon) == 0;
}

/* Mark the PCI functions a device's sysfs link target passes through, as
 * the kernel writes them: "../../devices/pci0000:00/0000:00:1c.0/
 * 0000:01:00.0/virtio2/block/vda/vda1".  The last PCI component is the
 * device, the ones above it are bridges to it.  A target of any other
 * shape (absolute, elsewhere, with "." or ".." further on) is not the
 * kernel's, and is ignored. */
static int mark_target(Scan *sc, const char *target, const char *reason) {
        char last[PCI_ADDRESS_STRING_MAX] = "";
        const char *p = target;
        int r;

        while (strncmp(p, "../", 3) == 0)
                p += 3;
        if (p == target || strncmp(p, "devices/", 8) != 0)
                return 0;
        p += 8;
        for (const char *c = p; *c;) {
                size_t n = strcspn(c, "/");
                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return 0;
                if (is_pci_name(c, n))
                        snprintf(last, sizeof(last), "%.*s", (int) n, c);
                c += n;
                if (*c == '/')
                        c++;
        }
        if (!*last)
                return 0;
        r = mark(sc->guard, last, reason);
        if (r < 0)
                return r;
        for (const char *c = p; *c;) {
                size_t n = strcspn(c, "/");
                if (is_pci_name(c, n) && !(n == strlen(last) && memcmp(c, last, n) == 0)) {
                        char bridge[PCI_ADDRESS_STRING_MAX];
                        snprintf(bridge, sizeof(bridge), "%.*s", (int) n, c);
                        r = markf(sc->guard, bridge, "is a bridge above %s, which %s", last, reason);
                        if (r < 0)
                                return r;
                }
                c += n;
                if (*c == '/')
                        c++;
        }
        return 0;
}

/* The last component of a link target, if it is a valid sysfs name. */
static const char *target_name(const char *target) {
        const char *base = strrchr(target, '/');
        base = base ? base + 1 : target;
        return sysfs_name_is_valid(base) ? base : NULL;
}

static void strvp(char ***v) {
        sysfs_strv_free(*v);
}

/* Only -ENOMEM is worth stopping a scan for. */
static int fatal(int r) {
        return r == -ENOMEM ? r : 0;
}

static int scan_block_link(Scan *sc, const char *link, const char *reason, unsigned depth);

/* With native NVMe multipath (the default on most distributions) a
 * namespace is not below its controller but below its subsystem:
 * "../../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1".  The
 * subsystem links each of its controllers by name ("nvme0"), and
 * class/nvme/<name> leads to the controller below its PCI function.
 * Every controller is a path the namespace's I/O may take. */
static int scan_nvme_subsystem(Scan *sc, const char *target, const char *reason) {
        _cleanup_(strvp) char **entries = NULL;
        const char *p = strstr(target, "/nvme-subsystem/");
        char subsys[NAME_MAX + 1], path[PATH_MAX];
        size_t n;
        int r;

        if (!p)
                return 0;
        p += strlen("/nvme-subsystem/");
        n = strcspn(p, "/");
        if (n == 0 || n >= sizeof(subsys) || p[n] != '/')
                return 0;
        snprintf(subsys, sizeof(subsys), "%.*s", (int) n, p);
        if (!sysfs_name_is_valid(subsys))
                return 0;
        snprintf(path, sizeof(path), "class/nvme-subsystem/%s", subsys);
        r = sysfs_list_dir(sc->sysfs, path, &entries);
        if (r < 0)
                return fatal(r);
        for (char **e = entries; *e; e++) {
                _cleanup_free_ char *ctrl = NULL;

                if (strncmp(*e, "nvme", 4) != 0 || !(*e)[4] || strspn(*e + 4, "0123456789") != strlen(*e + 4))
                        continue;
                r = seen_add(sc, "nvme", *e, &sc->block_left);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                snprintf(path, sizeof(path), "class/nvme/%s", *e);
                r = sysfs_read_link(sc->sysfs, path, &ctrl);
                if (r < 0) {
                        if (r == -ENOMEM)
                                return r;
                        continue;
                }
                r = mark_target(sc, ctrl, reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A block device whose link target is @target: mark its path, then the
 * devices it is stacked on (a dm or md device's "slaves"). */
static int scan_block_target(Scan *sc, const char *target, const char *reason, unsigned depth) {
        _cleanup_(strvp) char **slaves = NULL;
        const char *name = target_name(target);
        char path[PATH_MAX];
        int r;

        if (!name)
                return 0;
        r = seen_add(sc, "block", name, &sc->block_left);
        if (r <= 0)
                return r;
        r = mark_target(sc, target, reason);
        if (r < 0)
                return r;
        r = scan_nvme_subsystem(sc, target, reason);
        if (r < 0)
                return r;
        if (depth >= HOST_GUARD_DEPTH_MAX)
                return 0;
        snprintf(path, sizeof(path), "class/block/%s/slaves", name);
        r = sysfs_list_dir(sc->sysfs, path, &slaves);
        if (r < 0)
                return fatal(r);
        for (char **e = slaves; *e; e++) {
                snprintf(path, sizeof(path), "class/block/%s", *e);
                r = scan_block_link(sc, path, reason, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scan_block_link(Scan *sc, const char *link, const char *reason, unsigned depth) {
        _cleanup_free_ char *target = NULL;
        int r;

        r = sysfs_read_link(sc->sysfs, link, &target);
        if (r < 0)
                return fatal(r);
        return scan_block_target(sc, target, reason, depth);
}

/* Undo mountinfo's octal escapes (\040 for a space, \134 for a backslash)
 * and make the result fit for a reason text that ends up in JSON and on a
 * terminal: control characters, and every non-ASCII byte when the whole is
 * not UTF-8, become '?'. */
static bool utf8_valid(const unsigned char *s) {
        while (*s) {
                size_t n;
                uint32_t c;

                if (*s < 0x80) {
                        s++;
                        continue;
                }
                if ((*s & 0xe0) == 0xc0)
                        n = 1, c = *s & 0x1f;
                else if ((*s & 0xf0) == 0xe0)
                        n = 2, c = *s & 0x0f;
                else if ((*s & 0xf8) == 0xf0)
                        n = 3, c = *s & 0x07;
                else
                        return false;
                for (size_t i = 1; i <= n; i++) {
                        if ((s[i] & 0xc0) != 0x80)
                                return false;
                        c = (c << 6) | (s[i] & 0x3f);
                }
                /* Overlong forms, surrogates, beyond Unicode. */
                if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
                    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
                        return false;
                s += n + 1;
        }
        return true;
}

static char *unescape(const char *s) {
        char *out = malloc(strlen(s) + 1), *o = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
                    s[3] <= '7') {
                        *o++ = (char) (((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
                        s += 3;
                } else {
                        *o++ = *s;
                }
        }
        *o = 0;
        for (o = out; *o; o++)
                if ((unsigned char) *o < ' ' || *o == 0x7f)
                        *o = '?';
        if (!utf8_valid((const unsigned char *) out))
                for (o = out; *o; o++)
                        if ((unsigned char) *o >= 0x80)
                                *o = '?';
        return out;
}

/* A decimal number of at most @digits digits, no sign, no space. */
static int parse_dec(const char *s, size_t n, size_t digits, unsigned *ret) {
        unsigned v = 0;

        if (n == 0 || n > digits)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        *ret = v;
        return 0;
}

/* "MAJ:MIN" as the kernel prints a dev_t: 12-bit major, 20-bit minor. */
static int parse_devnum(const char *s, unsigned *ret_major, unsigned *ret_minor) {
        const char *colon = strchr(s, ':');

        if (!colon || parse_dec(s, (size_t) (colon - s), 4, ret_major) < 0 ||
            parse_dec(colon + 1, strlen(colon + 1), 7, ret_minor) < 0)
                return -EINVAL;
        if (*ret_major >= (1u << 12) || *ret_minor >= (1u << 20))
                return -EINVAL;
        return 0;
}

/* A filesystem on no block device of its own (btrfs reports an anonymous
 * 0:N device for every subvolume) still names its device as the source:
 * "/dev/vda3" is class/block/vda3, "/dev/mapper/NAME" is the dm device
 * whose dm/name is NAME.  The target of its class/block link, or NULL. */
static int source_block_target(Scan *sc, const char *source, char **ret) {
        _cleanup_(strvp) char **blocks = NULL;
        char path[PATH_MAX];
        const char *name;
        int r;

        *ret = NULL;
        if (strncmp(source, "/dev/mapper/", 12) == 0) {
                /* Only compared with what sysfs says, never a path. */
                name = source + 12;
                if (!*name)
                        return 0;
                r = sysfs_list_dir(sc->sysfs, "class/block", &blocks);
                if (r < 0)
                        return fatal(r);
                for (char **e = blocks; *e; e++) {
                        _cleanup_free_ char *dm_name = NULL;

                        if (strncmp(*e, "dm-", 3) != 0)
                                continue;
                        snprintf(path, sizeof(path), "class/block/%s/dm/name", *e);
                        r = sysfs_read_attr(sc->sysfs, path, &dm_name);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0 || strcmp(dm_name, name) != 0)
                                continue;
                        snprintf(path, sizeof(path), "class/block/%s", *e);
                        return fatal(sysfs_read_link(sc->sysfs, path, ret));
                }
                return 0;
        }
        if (strncmp(source, "/dev/", 5) != 0)
                return 0;
        name = source + 5;
        if (!sysfs_name_is_valid(name) || strcmp(name, "root") == 0)
                return 0;
        snprintf(path, sizeof(path), "class/block/%s", name);
        return fatal(sysfs_read_link(sc->sysfs, path, ret));
}

/* One mountinfo line, split in place:
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * Field 3 is the device, field 5 the mount point; after the optional
 * fields, a lone "-" and then the fstype and the source. */
static int scan_mount_line(Scan *sc, char *line) {
        _cleanup_free_ char *target = NULL, *where = NULL, *what = NULL, *reason = NULL;
        char *field[6], *fstype = NULL, *source = NULL, *f, *p = line, path[64];
        unsigned major, minor;
        size_t n = 0;
        int r;

        while ((f = strsep(&p, " "))) {
                if (n < ELEMENTSOF(field)) {
                        field[n++] = f;
                        continue;
                }
                if (strcmp(f, "-") == 0) {
                        fstype = strsep(&p, " ");
                        source = strsep(&p, " ");
                        break;
                }
        }
        if (n < ELEMENTSOF(field) || !fstype || !source || !*fstype || !*source || *field[4] != '/')
                return 0;
        if (parse_devnum(field[2], &major, &minor) < 0)
                return 0;

        what = unescape(source);
        if (!what)
                return -ENOMEM;
        /* Bind mounts and btrfs subvolumes repeat a device many times; the
         * first mount of it gives the reason, so look at it once. */
        if (major != 0) {
                snprintf(path, sizeof(path), "dev/block/%u:%u", major, minor);
                r = seen_add(sc, "dev", path, &sc->block_left);
                if (r <= 0)
                        return r;
                r = sysfs_read_link(sc->sysfs, path, &target);
                if (r < 0)
                        return fatal(r);
        } else {
                if (strncmp(what, "/dev/", 5) != 0)
                        return 0;
                r = seen_add(sc, "source", what, &sc->block_left);
                if (r <= 0)
                        return r;
                r = source_block_target(sc, what, &target);
                if (r < 0 || !target)
                        return r;
        }

        where = unescape(field[4]);
        if (!where)
                return -ENOMEM;
        /* The source as mount(8) shows it, unless the kernel made it up
         * ("/dev/root" without an initramfs): then the device's own name. */
        if (strncmp(what, "/dev/", 5) == 0 && strcmp(what, "/dev/root") != 0)
                r = asprintf(&reason, "backs the mounted filesystem %s (%s)", where, what);
        else if (target_name(target))
                r = asprintf(&reason, "backs the mounted filesystem %s (/dev/%s)", where, target_name(target));
        else
                r = asprintf(&reason, "backs the mounted filesystem %s", where);
        if (r < 0) {
                reason = NULL;
                return -ENOMEM;
        }
        return scan_block_target(sc, target, reason, 0);
}

/* Calls @fn on each line of @text (a private copy of it), at most @max. */
static int for_each_line(Scan *sc, const char *text, size_t max, int (*fn)(Scan *sc, char *line)) {
        size_t count = 0;
        int r;

        if (!text)
                return 0;
        for (const char *p = text; *p && count < max; count++) {
                size_t len = strcspn(p, "\n");
                _cleanup_free_ char *line = NULL;

                if (len <= LINE_MAX_BYTES) {
                        line = strndup(p, len);
                        if (!line)
                                return -ENOMEM;
                        r = fn(sc, line);
                        if (r < 0)
                                return r;
                }
                p += len;
                if (*p == '\n')
                        p++;
        }
        return 0;
}

static int scan_net(Scan *sc, const char *top, const char *ifname, bool ipv6, unsigned depth) {
        _cleanup_(strvp) char **entries = NULL, **ports = NULL;
        _cleanup_free_ char *target = NULL, *reason = NULL;
        const char *family = ipv6 ? "IPv6 " : "";
        char path[PATH_MAX];
        int r;

        /* The name comes from a /proc text: a single path component the
         * kernel could have made, or nothing. */
        if (!sysfs_name_is_valid(ifname) || strlen(ifname) >= IF_NAMESIZE)
                return 0;
        r = seen_add(sc, "net", ifname, &sc->net_left);
        if (r <= 0)
                return r;
        snprintf(path, sizeof(path), "class/net/%s", ifname);
        r = sysfs_read_link(sc->sysfs, path, &target);
        if (r < 0)
                return fatal(r);
        if (strcmp(top, ifname) == 0)
                r = asprintf(&reason, "carries the %sdefault route (%s)", family, ifname);
        else
                r = asprintf(&reason, "carries the %sdefault route (%s via %s)", family, top, ifname);
        if (r < 0) {
                reason = NULL;
                return -ENOMEM;
        }
        r = mark_target(sc, target, reason);
        if (r < 0)
                return r;
        if (depth >= HOST_GUARD_DEPTH_MAX)
                return 0;

        /* What it sits on: a bond's, VLAN's or macvlan's lower devices
         * (lower_<name> links), and a bridge's ports (brif/<name>). */
        r = sysfs_list_dir(sc->sysfs, path, &entries);
        if (r < 0)
                return fatal(r);
        for (char **e = entries; *e; e++)
                if (strncmp(*e, "lower_", 6) == 0) {
                        r = scan_net(sc, top, *e + 6, ipv6, depth + 1);
                        if (r < 0)
                                return r;
                }
        snprintf(path, sizeof(path), "class/net/%s/brif", ifname);
        r = sysfs_list_dir(sc->sysfs, path, &ports);
        if (r < 0)
                return fatal(r);
        for (char **e = ports; *e; e++) {
                r = scan_net(sc, top, *e, ipv6, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Up to @max white-space separated fields of @line, split in place. */
static size_t split_fields(char *line, char **field, size_t max) {
        size_t n = 0;
        char *f;

        while (n < max && (f = strsep(&line, " \t")))
                if (*f)
                        field[n++] = f;
        return n;
}

/* /proc/net/route: a header, then
 *   Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
 * in hex, network byte order; the default route is 0/0. */
static int scan_route4_line(Scan *sc, char *line) {
        char *field[8];
        uint32_t flags;

        if (split_fields(line, field, ELEMENTSOF(field)) < ELEMENTSOF(field))
                return 0;
        if (strcmp(field[1], "00000000") != 0 || strcmp(field[7], "00000000") != 0)
                return 0;
        if (strlen(field[3]) != 4 || hex_parse_fixed(field[3], 4, &flags) < 0)
                return 0;
        if (!(flags & ROUTE_FLAG_UP) || (flags & ROUTE_FLAG_REJECT))
                return 0;
        return scan_net(sc, field[0], field[0], false, 0);
}

/* /proc/net/ipv6_route, no header:
 *   dest dest_plen src src_plen next_hop metric refcnt use flags iface
 * The default route is ::/0; an unreachable one sits on "lo". */
static int scan_route6_line(Scan *sc, char *line) {
        static const char zeros[] = "00000000000000000000000000000000";
        char *field[10];
        uint32_t flags;

        if (split_fields(line, field, ELEMENTSOF(field)) < ELEMENTSOF(field))
                return 0;
        if (strcmp(field[0], zeros) != 0 || strcmp(field[1], "00") != 0)
                return 0;
        if (strlen(field[8]) != 8 || hex_parse_fixed(field[8], 8, &flags) < 0)
                return 0;
        if (!(flags & ROUTE_FLAG_UP) || (flags & ROUTE_FLAG_REJECT) || strcmp(field[9], "lo") == 0)
                return 0;
        return scan_net(sc, field[9], field[9], true, 0);
}

/* Every device with boot_vga set: the firmware's console, which the
 * kernel's framebuffer (and often the display server) still uses. */
static int scan_boot_vga(Scan *sc) {
        _cleanup_(strvp) char **devices = NULL;
        int r;

        r = sysfs_list_dir(sc->sysfs, "bus/pci/devices", &devices);
        if (r < 0)
                return fatal(r);
        for (char **e = devices; *e; e++) {
                _cleanup_free_ char *v = NULL;

                if (!is_pci_name(*e, strlen(*e)))
                        continue;
                r = sysfs_device_read_attr(sc->sysfs, SYSFS_BUS_PCI, *e, "boot_vga", &v);
                if (r < 0) {
                        if (r == -ENOMEM)
                                return r;
                        continue;
                }
                if (strcmp(v, "1") == 0) {
                        r = mark(sc->guard, *e, "is the boot VGA device");
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Disabling SR-IOV on a PF removes its VFs: a critical VF makes its PF
 * critical too. */
static int scan_physfn(Scan *sc) {
        _cleanup_free_ Critical **found = NULL;
        size_t n = 0, i = 0;
        void *v;
        int r;

        found = calloc(hashmap_size(sc->guard->critical) + 1, sizeof(*found));
        if (!found)
                return -ENOMEM;
        while (hashmap_iterate(sc->guard->critical, &i, &v, NULL))
                found[n++] = v;
        for (i = 0; i < n; i++) {
                _cleanup_free_ char *pf = NULL;

                r = sysfs_device_read_link_name(sc->sysfs, SYSFS_BUS_PCI, found[i]->name, "physfn", &pf);
                if (r < 0) {
                        if (r == -ENOMEM)
                                return r;
                        continue;
                }
                if (!is_pci_name(pf, strlen(pf)))
                        continue;
                r = markf(sc->guard, pf, "is the PF of %s, which %s", found[i]->name, found[i]->reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

int host_guard_scan(Sysfs *s, const char *mountinfo, const char *route4, const char *route6, HostGuard **ret) {
        _cleanup_(host_guard_freep) HostGuard *h = NULL;
        Scan sc = { .sysfs = s, .block_left = HOST_GUARD_NODES_MAX, .net_left = HOST_GUARD_NODES_MAX };
        size_t i = 0;
        void *v;
        int r;

        r = host_guard_new(&h);
        if (r < 0)
                return r;
        sc.guard = h;
        sc.seen = hashmap_new();
        if (!sc.seen)
                return -ENOMEM;

        r = scan_boot_vga(&sc);
        if (r >= 0)
                r = for_each_line(&sc, mountinfo, HOST_GUARD_MOUNTS_MAX, scan_mount_line);
        if (r >= 0)
                r = for_each_line(&sc, route4, HOST_GUARD_NODES_MAX, scan_route4_line);
        if (r >= 0)
                r = for_each_line(&sc, route6, HOST_GUARD_NODES_MAX, scan_route6_line);
        if (r >= 0)
                r = scan_physfn(&sc);

        while (hashmap_iterate(sc.seen, &i, &v, NULL))
                free(v);
        hashmap_free(sc.seen);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}

/* Reads @path, keeping the lines @keep accepts (all if NULL) up to @max of
 * them: the kernel's route tables can be large (a full BGP table), and
 * only their default routes matter.  A missing file is NULL. */
static int read_proc(const char *path, bool (*keep)(const char *line), size_t max, char **ret) {
        _cleanup_free_ char *text = NULL, *line = NULL;
        size_t size = 0, allocated = 0, n_lines = 0;
        FILE *f;
        ssize_t len;
        int r = 0;

        f = fopen(path, "re");
        if (!f) {
                if (errno != ENOENT)
                        return -errno;
                *ret = NULL;
                return 0;
        }
        while (n_lines < max) {
                errno = 0;
                len = getline(&line, &allocated, f);
                if (len < 0) {
                        r = errno ? -errno : 0;
                        break;
                }
                if (keep && !keep(line))
                        continue;
                if ((size_t) len > LINE_MAX_BYTES)
                        continue;
                {
                        char *t = realloc(text, size + (size_t) len + 2);
                        if (!t) {
                                r = -ENOMEM;
                                break;
                        }
                        text = t;
                }
                memcpy(text + size, line, (size_t) len);
                size += (size_t) len;
                if (text[size - 1] != '\n')
                        text[size++] = '\n';
                text[size] = 0;
                n_lines++;
        }
        fclose(f);
        if (r < 0)
                return r;
        if (!text) {
                text = strdup("");
                if (!text)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(text);
        return 0;
}

static bool is_route4_default(const char *line) {
        /* "Iface\t00000000\t...": the destination is the second field. */
        const char *tab = strchr(line, '\t');
        return tab && strncmp(tab + 1, "00000000", 8) == 0;
}

static bool is_route6_default(const char *line) {
        return strncmp(line, "00000000000000000000000000000000 00 ", 36) == 0;
}

int host_guard_scan_host(Sysfs *s, HostGuard **ret) {
        _cleanup_free_ char *mountinfo = NULL, *route4 = NULL, *route6 = NULL;
        int r;

        r = read_proc("/proc/self/mountinfo", NULL, HOST_GUARD_MOUNTS_MAX, &mountinfo);
        if (r < 0)
                return r;
        r = read_proc("/proc/self/net/route", is_route4_default, HOST_GUARD_NODES_MAX, &route4);
        if (r < 0)
                return r;
        r = read_proc("/proc/self/net/ipv6_route", is_route6_default, HOST_GUARD_NODES_MAX, &route6);
        if (r < 0)
                return r;
        return host_guard_scan(s, mountinfo, route4, route6, ret);
}

const char *host_guard_reason(const HostGuard *h, const char *pci_name) {
        const Critical *c;

        if (!h || !pci_name)
                return NULL;
        c = hashmap_get(h->critical, pci_name);
        return c ? c->reason : NULL;
}

static bool refuse(char *reason, size_t size, const char *fmt, ...) _printf_(3, 4);
static bool refuse(char *reason, size_t size, const char *fmt, ...) {
        va_list ap;

        if (reason && size > 0) {
                va_start(ap, fmt);
                vsnprintf(reason, size, fmt, ap);
                va_end(ap);
        }
        return true;
}

bool host_guard_refuses(const HostGuard *h, const Registry *r, const Device *d, char *reason, size_t size) {
        const Group *g;
        const char *why;

        if (reason && size > 0)
                reason[0] = 0;
        if (!h || !d)
                return false;
        if (d->kind == DEVICE_MDEV) {
                why = host_guard_reason(h, d->parent);
                return why && refuse(reason, size, "created on %s, which %s", d->parent, why);
        }
        why = host_guard_reason(h, d->name);
        if (why)
                return refuse(reason, size, "%s", why);
        if (!r || d->iommu_group < 0 || d->iommu_group > UINT32_MAX)
                return false;
        g = registry_get_group(r, (uint32_t) d->iommu_group);
        if (!g)
                return false;
        /* Members are sorted, so the peer named is the same every time. */
        for (size_t i = 0; i < g->n_members; i++) {
                const Device *m = g->members[i];

                if (m == d || strcmp(m->name, d->name) == 0)
                        continue;
                why = host_guard_reason(h, m->name);
                if (why)
                        return refuse(reason, size, "shares IOMMU group %" PRIu32 " with %s, which %s", g->id,
                                      m->name, why);
        }
        return false;
}

bool host_guard_equal(const HostGuard *a, const HostGuard *b) {
        size_t i = 0;
        void *v;

        if (host_guard_count(a) != host_guard_count(b))
                return false;
        if (host_guard_count(a) == 0)
                return true;
        while (hashmap_iterate(a->critical, &i, &v, NULL)) {
                const Critical *c = v;
                const char *other = host_guard_reason(b, c->name);
                if (!other || strcmp(other, c->reason) != 0)
                        return false;
        }
        return true;
}

size_t host_guard_count(const HostGuard *h) {
        return h ? hashmap_size(h->critical) : 0;
}
