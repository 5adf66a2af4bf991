/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-registry: the measuring half of bench/run-registry.
 *
 *   bench-registry enum-baseline [PREFIX]
 *       read, with plain syscalls, what iommud reads of every PCI function
 *       under /sys/bus/pci/devices (names starting with PREFIX): the floor
 *       for enumeration.  Prints "<ms> <count>".
 *   bench-registry startup IOMMUD SOCKET
 *       start IOMMUD and time until GetStatus answers.  Prints "<ms> <pid>".
 *   bench-registry list SOCKET ROUNDS
 *       ListDevices ROUNDS times (the first fills iommud's cache), and the
 *       same request answered with a reply of the same size by a raw
 *       AF_UNIX responder, both read by the same raw client.  Prints
 *       "<median ms> <baseline median ms> <reply bytes>".
 *   bench-registry wait-devices SOCKET COUNT
 *       time until GetStatus reports COUNT devices.  Prints "<ms>".
 *   bench-registry names SOCKET
 *       print every device name iommud lists, one per line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/varlink-client.h"

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
        qsort(v, (size_t) n, sizeof(*v), cmp_double);
        return v[n / 2];
}

static void die(const char *what, int r) {
        fprintf(stderr, "bench-registry: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

static int enum_baseline(const char *prefix) {
        static const char *const attrs[] = { "vendor", "device", "subsystem_vendor", "subsystem_device", "class",
                                             "numa_node", "driver_override" };
        static const char *const links[] = { "driver", "iommu_group", "physfn" };
        double t0 = now_ms();
        int dfd = open("/sys/bus/pci/devices", O_RDONLY | O_DIRECTORY), count = 0;
        DIR *d = fdopendir(dfd);
        struct dirent *de;
        char buf[PATH_MAX], path[PATH_MAX];

        if (!d)
                die("opendir /sys/bus/pci/devices", errno);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || strncmp(de->d_name, prefix, strlen(prefix)) != 0)
                        continue;
                for (size_t i = 0; i < sizeof(attrs) / sizeof(*attrs); i++) {
                        int fd;
                        snprintf(path, sizeof(path), "%s/%s", de->d_name, attrs[i]);
                        fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
                        if (fd >= 0) {
                                if (read(fd, buf, sizeof(buf)) < 0)
                                        die("read", errno);
                                close(fd);
                        }
                }
                for (size_t i = 0; i < sizeof(links) / sizeof(*links); i++) {
                        snprintf(path, sizeof(path), "%s/%s", de->d_name, links[i]);
                        (void) readlinkat(dfd, path, buf, sizeof(buf));
                }
                count++;
        }
        closedir(d);
        printf("%.1f %d\n", now_ms() - t0, count);
        return 0;
}

static int status_devices(const char *sock, long *ret) {
        VarlinkClient *c = NULL;
        json_object *reply = NULL, *v;
        const char *error = NULL;
        bool continues;
        int r;

        r = varlink_client_connect(sock, &c);
        if (r < 0)
                return r;
        r = varlink_client_call(c, "org.iommud.Manager.GetStatus", NULL, 0);
        if (r >= 0)
                r = varlink_client_read_reply(c, 10000, &reply, &error, &continues);
        if (r >= 0 && (error || !json_object_object_get_ex(reply, "devices", &v)))
                r = -EPROTO;
        if (r >= 0)
                *ret = (long) json_object_get_int64(v);
        json_object_put(reply);
        varlink_client_free(c);
        return r;
}

static int startup(const char *iommud, const char *sock) {
        double t0 = now_ms();
        long n;
        pid_t pid = fork();

        if (pid == 0) {
                execl(iommud, iommud, "--varlink-socket", sock, "--log-level", "warning", (char *) NULL);
                _exit(127);
        }
        for (;;) {
                if (status_devices(sock, &n) >= 0)
                        break;
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        die("iommud exited", EIO);
                if (now_ms() - t0 > 60000)
                        die("iommud did not answer within 60 s", ETIMEDOUT);
                usleep(1000);
        }
        printf("%.1f %d\n", now_ms() - t0, (int) pid);
        return 0;
}

/* Read one NUL-terminated message; returns its length. */
static size_t read_message(int fd, char **buf, size_t *size) {
        size_t len = 0;
        for (;;) {
                ssize_t n;
                if (len == *size) {
                        *size = *size ? *size * 2 : 65536;
                        *buf = realloc(*buf, *size);
                }
                n = read(fd, *buf + len, *size - len);
                if (n <= 0)
                        die("read", n < 0 ? errno : EPIPE);
                len += (size_t) n;
                if ((*buf)[len - 1] == 0)
                        return len;
        }
}

static int connect_raw(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                die("connect", errno);
        return fd;
}

/* The same client code times both servers: iommud answering ListDevices,
 * and a raw AF_UNIX responder sending a reply of the same size.  What
 * differs is only the server's work.  (Parsing 4 MB of JSON is the
 * client's cost and is left out of both.) */
static int list(const char *sock, int rounds) {
        static const char request[] = "{\"method\":\"org.iommud.Manager.ListDevices\"}";
        double *t = calloc((size_t) rounds, sizeof(double)), *b = calloc((size_t) rounds, sizeof(double));
        size_t reply_bytes = 0, size = 0;
        char *buf = NULL;
        int sp[2], fd;
        pid_t pid;

        fd = connect_raw(sock);
        for (int i = 0; i < rounds; i++) {
                double t0 = now_ms();
                if (write(fd, request, sizeof(request)) != (ssize_t) sizeof(request))
                        die("write", errno);
                reply_bytes = read_message(fd, &buf, &size);
                t[i] = now_ms() - t0;
        }
        close(fd);
        if (!strstr(buf, "\"devices\":["))
                die("ListDevices did not answer with devices", EPROTO);

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                die("socketpair", errno);
        pid = fork();
        if (pid == 0) {
                char *payload = malloc(reply_bytes), *in = NULL;
                size_t insize = 0;
                memset(payload, 'x', reply_bytes);
                payload[reply_bytes - 1] = 0;
                close(sp[0]);
                for (int i = 0; i < rounds; i++) {
                        size_t off = 0;
                        read_message(sp[1], &in, &insize);
                        while (off < reply_bytes) {
                                ssize_t n = write(sp[1], payload + off, reply_bytes - off);
                                if (n <= 0)
                                        _exit(1);
                                off += (size_t) n;
                        }
                }
                _exit(0);
        }
        close(sp[1]);
        for (int i = 0; i < rounds; i++) {
                double t0 = now_ms();
                if (write(sp[0], request, sizeof(request)) != (ssize_t) sizeof(request))
                        die("write", errno);
                read_message(sp[0], &buf, &size);
                b[i] = now_ms() - t0;
        }
        waitpid(pid, NULL, 0);
        printf("%.2f %.2f %zu\n", median(t, rounds), median(b, rounds), reply_bytes);
        free(t);
        free(b);
        free(buf);
        return 0;
}

static int wait_devices(const char *sock, long want) {
        double t0 = now_ms();
        long n = -1;
        while (status_devices(sock, &n) < 0 || n != want) {
                if (now_ms() - t0 > 60000) {
                        fprintf(stderr, "bench-registry: %ld devices after 60 s, want %ld\n", n, want);
                        return 1;
                }
                usleep(500);
        }
        printf("%.1f\n", now_ms() - t0);
        return 0;
}

static int names(const char *sock) {
        VarlinkClient *c = NULL;
        json_object *reply = NULL, *devs;
        const char *error = NULL;
        bool continues;
        int r = varlink_client_connect(sock, &c);

        if (r >= 0)
                r = varlink_client_call(c, "org.iommud.Manager.ListDevices", NULL, 0);
        if (r >= 0)
                r = varlink_client_read_reply(c, 30000, &reply, &error, &continues);
        if (r < 0 || error || !json_object_object_get_ex(reply, "devices", &devs))
                die("ListDevices", r < 0 ? r : EPROTO);
        for (size_t i = 0; i < json_object_array_length(devs); i++)
                puts(json_object_get_string(json_object_object_get(json_object_array_get_idx(devs, i), "name")));
        json_object_put(reply);
        varlink_client_free(c);
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 2 && strcmp(argv[1], "enum-baseline") == 0)
                return enum_baseline(argc > 2 ? argv[2] : "");
        if (argc == 4 && strcmp(argv[1], "startup") == 0)
                return startup(argv[2], argv[3]);
        if (argc == 4 && strcmp(argv[1], "list") == 0)
                return list(argv[2], atoi(argv[3]));
        if (argc == 4 && strcmp(argv[1], "wait-devices") == 0)
                return wait_devices(argv[2], atol(argv[3]));
        if (argc == 3 && strcmp(argv[1], "names") == 0)
                return names(argv[2]);
        fprintf(stderr, "usage: see the comment at the top of bench/bench-registry.c\n");
        return 2;
}
