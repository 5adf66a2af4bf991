/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uevent-inject: send udev-format device events to the "udev" netlink
 * group, as udevd does after rule processing, so that a test or benchmark
 * can drive iommud's real monitor path with events of its choosing.
 * Root only (the receiver ignores senders that are not uid 0).  Events
 * stay in the sender's network namespace: run it, and the daemon, under
 * `unshare --net` so no other listener on the host sees them.
 *
 *   uevent-inject [--count N] ACTION DEVPATH SUBSYSTEM
 *       send one event N times (default 1)
 *   uevent-inject --stdin
 *       one event per line: ACTION DEVPATH SUBSYSTEM
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDEV_MONITOR_MAGIC 0xfeedcafeU
#define GROUP_UDEV 2

struct header {
        char prefix[8];
        unsigned magic;
        unsigned header_size;
        unsigned properties_off;
        unsigned properties_len;
        unsigned filter_subsystem_hash;
        unsigned filter_devtype_hash;
        unsigned filter_tag_bloom_hi;
        unsigned filter_tag_bloom_lo;
};

/* MurmurHash2, seed 0: what libudev's in-kernel socket filters match. */
static uint32_t murmur2(const char *s) {
        const uint32_t m = 0x5bd1e995;
        size_t len = strlen(s);
        uint32_t h = (uint32_t) len;
        const unsigned char *p = (const unsigned char *) s;

        while (len >= 4) {
                uint32_t k = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
                k *= m;
                k ^= k >> 24;
                k *= m;
                h *= m;
                h ^= k;
                p += 4;
                len -= 4;
        }
        switch (len) {
        case 3:
                h ^= (uint32_t) p[2] << 16;
                /* fall through */
        case 2:
                h ^= (uint32_t) p[1] << 8;
                /* fall through */
        case 1:
                h ^= p[0];
                h *= m;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return h;
}

static unsigned long long seqnum = 1000000;

static int send_event(int fd, const char *action, const char *devpath, const char *subsystem) {
        char props[2048];
        struct header h = { .prefix = "libudev" };
        struct sockaddr_nl dst = { .nl_family = AF_NETLINK, .nl_groups = GROUP_UDEV };
        struct iovec iov[2];
        struct msghdr msg = { .msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = iov, .msg_iovlen = 2 };
        int n;

        n = snprintf(props, sizeof(props), "ACTION=%s%cDEVPATH=%s%cSUBSYSTEM=%s%cSEQNUM=%llu%c",
                     action, 0, devpath, 0, subsystem, 0, seqnum++, 0);
        if (n < 0 || (size_t) n >= sizeof(props))
                return -E2BIG;
        h.magic = htonl(UDEV_MONITOR_MAGIC);
        h.header_size = sizeof(h);
        h.properties_off = sizeof(h);
        h.properties_len = (unsigned) n;
        h.filter_subsystem_hash = htonl(murmur2(subsystem));
        iov[0] = (struct iovec) { .iov_base = &h, .iov_len = sizeof(h) };
        iov[1] = (struct iovec) { .iov_base = props, .iov_len = (size_t) n };
        if (sendmsg(fd, &msg, 0) < 0) {
                /* Nobody listening is fine: the event is simply gone. */
                if (errno == ECONNREFUSED)
                        return 0;
                return -errno;
        }
        return 0;
}

int main(int argc, char **argv) {
        struct sockaddr_nl self = { .nl_family = AF_NETLINK };
        long count = 1;
        int fd, r;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
        if (fd < 0 || bind(fd, (struct sockaddr *) &self, sizeof(self)) < 0) {
                perror("uevent-inject: netlink socket");
                return 1;
        }
        if (argc == 2 && strcmp(argv[1], "--stdin") == 0) {
                char line[1024], a[64], d[800], s[64];
                while (fgets(line, sizeof(line), stdin)) {
                        if (sscanf(line, "%63s %799s %63s", a, d, s) != 3)
                                continue;
                        r = send_event(fd, a, d, s);
                        if (r < 0) {
                                fprintf(stderr, "uevent-inject: send: %s\n", strerror(-r));
                                return 1;
                        }
                }
                return 0;
        }
        if (argc == 6 && strcmp(argv[1], "--count") == 0) {
                count = strtol(argv[2], NULL, 10);
                argv += 2;
                argc -= 2;
        }
        if (argc != 4 || count < 1) {
                fprintf(stderr, "usage: uevent-inject [--count N] ACTION DEVPATH SUBSYSTEM | --stdin\n");
                return 2;
        }
        for (long i = 0; i < count; i++) {
                r = send_event(fd, argv[1], argv[2], argv[3]);
                if (r < 0) {
                        fprintf(stderr, "uevent-inject: send: %s\n", strerror(-r));
                        return 1;
                }
        }
        return 0;
}
