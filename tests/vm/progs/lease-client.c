/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lease-client: a varlink client of iommud's lease methods, for the VM
 * checks, doing what iommuctl cannot show from a shell.
 *
 *   lease-client race N DEVICE
 *       N processes connect, wait at one barrier, and all Claim DEVICE's
 *       group at once (each the holder of its own claim).  Exactly one
 *       must win; every other one must get GroupBusy.
 *   lease-client hotplug DEVICE1 DEVICE2
 *       Claim DEVICE1 (bound), then AddDevices DEVICE2 to the same lease:
 *       both fds answer VFIO_DEVICE_GET_INFO and the lease lists both in
 *       one iommufd; RemoveDevices DEVICE2 leaves one; Release ends it.
 *
 *   lease-client bench N DEVICE
 *       N rounds of Claim (bound) until the fds are in hand, then
 *       Release and wait for the group to be free again (not timed);
 *       prints "sample claim USEC" per round.
 *   lease-client ping N
 *       N ListLeases round trips: what any call costs at least.
 *   lease-client baseline N CDEV
 *       The same kernel work done in this process, as root: open
 *       /dev/iommu, per-process accounting, IOAS, open the cdev, bind,
 *       attach; prints "sample baseline USEC" per round.
 *
 * Prints "ok: ..." lines; exit 0 when everything held.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <time.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/varlink-client.h"

#define SOCKET "/run/iommud/org.iommud.Manager"
#define IFACE "org.iommud.Manager"

static void die(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "lease-client: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static VarlinkClient *connect_iommud(void) {
        VarlinkClient *c;
        int r = varlink_client_connect(SOCKET, &c);
        if (r < 0)
                die("connect %s: %s", SOCKET, strerror(-r));
        return c;
}

/* One call; *ret_error is NULL on success. */
static json_object *call(VarlinkClient *c, const char *method, json_object *params, const char **ret_error) {
        json_object *reply = NULL;
        int r = varlink_client_call(c, method, params, 0);
        if (r >= 0)
                r = varlink_client_read_reply(c, 120000, &reply, ret_error, NULL);
        if (r < 0)
                die("%s: %s", method, strerror(-r));
        return reply;
}

static json_object *devices(const char *a, const char *b) {
        json_object *arr = json_object_new_array();
        json_object_array_add(arr, json_object_new_string(a));
        if (b)
                json_object_array_add(arr, json_object_new_string(b));
        return arr;
}

static int get_info(int fd) {
        struct vfio_device_info info = { .argsz = sizeof(info) };
        return ioctl(fd, VFIO_DEVICE_GET_INFO, &info) < 0 ? -errno : (int) info.num_regions;
}

static int race(int n, const char *dev) {
        int barrier[2], results[2];
        pid_t pids[64];
        int wins = 0, busy = 0;
        char line[256];
        FILE *f;

        if (n < 2 || n > 64)
                die("N must be 2..64");
        if (pipe(barrier) < 0 || pipe(results) < 0)
                die("pipe: %m");
        for (int i = 0; i < n; i++) {
                pids[i] = fork();
                if (pids[i] < 0)
                        die("fork: %m");
                if (pids[i] == 0) {
                        VarlinkClient *c = connect_iommud();
                        json_object *p = json_object_new_object(), *reply;
                        const char *error = NULL;
                        char buf[1];

                        close(barrier[1]);
                        /* Everyone is connected; go when the parent closes the pipe. */
                        (void) read(barrier[0], buf, 1);
                        json_object_object_add(p, "devices", devices(dev, NULL));
                        reply = call(c, IFACE ".Claim", p, &error);
                        dprintf(results[1], "%s %d\n", error ? error : "granted", (int) getpid());
                        json_object_put(reply);
                        if (!error)
                                pause();        /* hold the lease until killed */
                        _exit(0);
                }
        }
        close(barrier[0]);
        close(results[1]);
        usleep(500 * 1000);
        close(barrier[1]);
        f = fdopen(results[0], "r");
        for (int i = 0; i < n && fgets(line, sizeof(line), f); i++) {
                if (strncmp(line, "granted", 7) == 0)
                        wins++;
                else if (strncmp(line, IFACE ".GroupBusy", strlen(IFACE ".GroupBusy")) == 0)
                        busy++;
                else
                        fprintf(stderr, "lease-client: unexpected answer: %s", line);
        }
        for (int i = 0; i < n; i++) {
                kill(pids[i], SIGTERM);
                waitpid(pids[i], NULL, 0);
        }
        if (wins != 1 || busy != n - 1)
                die("%d claims won and %d were told GroupBusy, of %d", wins, busy, n);
        printf("ok: of %d concurrent claims for %s exactly one won; %d got GroupBusy\n", n, dev, busy);
        return 0;
}

static int hotplug(const char *dev1, const char *dev2) {
        VarlinkClient *c = connect_iommud();
        json_object *p = json_object_new_object(), *reply, *lease, *d;
        const char *error = NULL, *id;
        int fd1, fd2, r;

        json_object_object_add(p, "devices", devices(dev1, NULL));
        reply = call(c, IFACE ".Claim", p, &error);
        if (error)
                die("Claim %s: %s %s", dev1, error, json_object_to_json_string(reply));
        lease = json_object_object_get(reply, "lease");
        id = strdup(json_object_get_string(json_object_object_get(lease, "id")));
        d = json_object_array_get_idx(json_object_object_get(reply, "devices"), 0);
        fd1 = varlink_client_take_fd(c, (unsigned) json_object_get_int(json_object_object_get(d, "fd")));
        if (fd1 < 0 || (r = get_info(fd1)) < 0)
                die("%s's fd does not answer GET_INFO", dev1);
        printf("ok: lease %s: %s bound, GET_INFO: %d regions\n", id, dev1, r);
        json_object_put(reply);

        p = json_object_new_object();
        json_object_object_add(p, "lease", json_object_new_string(id));
        json_object_object_add(p, "devices", devices(dev2, NULL));
        reply = call(c, IFACE ".AddDevices", p, &error);
        if (error)
                die("AddDevices %s: %s %s", dev2, error, json_object_to_json_string(reply));
        d = json_object_array_get_idx(json_object_object_get(reply, "devices"), 0);
        fd2 = varlink_client_take_fd(c, (unsigned) json_object_get_int(json_object_object_get(d, "fd")));
        if (fd2 < 0 || (r = get_info(fd2)) < 0)
                die("%s's fd does not answer GET_INFO", dev2);
        lease = json_object_object_get(reply, "lease");
        if (json_object_array_length(json_object_object_get(lease, "devices")) != 2)
                die("the lease does not list both devices: %s", json_object_to_json_string(lease));
        printf("ok: AddDevices put %s under the same lease and iommufd (IOAS %s), GET_INFO: %d regions\n", dev2,
               json_object_get_string(json_object_object_get(lease, "ioasId")), r);
        json_object_put(reply);

        p = json_object_new_object();
        json_object_object_add(p, "lease", json_object_new_string(id));
        json_object_object_add(p, "devices", devices(dev2, NULL));
        reply = call(c, IFACE ".RemoveDevices", p, &error);
        if (error)
                die("RemoveDevices: %s", error);
        lease = json_object_object_get(reply, "lease");
        if (json_object_array_length(json_object_object_get(lease, "devices")) != 1)
                die("RemoveDevices left: %s", json_object_to_json_string(lease));
        printf("ok: RemoveDevices took %s out; %s stays\n", dev2, dev1);
        json_object_put(reply);
        close(fd2);

        p = json_object_new_object();
        json_object_object_add(p, "lease", json_object_new_string(id));
        reply = call(c, IFACE ".Release", p, &error);
        if (error)
                die("Release: %s", error);
        json_object_put(reply);
        close(fd1);
        printf("ok: released %s\n", id);
        varlink_client_free(c);
        return 0;
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static bool group_free(VarlinkClient *c, int64_t group) {
        json_object *p = json_object_new_object(), *reply, *g, *claim;
        const char *error = NULL;
        bool free_ = false;

        json_object_object_add(p, "id", json_object_new_int64(group));
        reply = call(c, IFACE ".GetGroup", p, &error);
        if (!error && json_object_object_get_ex(reply, "group", &g) && json_object_object_get_ex(g, "claim", &claim))
                free_ = strcmp(json_object_get_string(claim), "free") == 0;
        json_object_put(reply);
        return free_;
}

static int bench(int n, const char *dev) {
        VarlinkClient *c = connect_iommud();

        for (int i = 0; i < n; i++) {
                json_object *p = json_object_new_object(), *reply, *d;
                const char *error = NULL;
                uint64_t t0, t1;
                int64_t group;
                char id[17];
                int fd, ifd;

                json_object_object_add(p, "devices", devices(dev, NULL));
                t0 = now_usec();
                reply = call(c, IFACE ".Claim", p, &error);
                if (error)
                        die("Claim %s: %s %s", dev, error, json_object_to_json_string(reply));
                d = json_object_array_get_idx(json_object_object_get(reply, "devices"), 0);
                fd = varlink_client_take_fd(c, (unsigned) json_object_get_int(json_object_object_get(d, "fd")));
                ifd = varlink_client_take_fd(c, (unsigned) json_object_get_int(json_object_object_get(reply, "iommufd")));
                t1 = now_usec();
                if (fd < 0 || ifd < 0)
                        die("no fds in the reply");
                printf("sample claim %llu\n", (unsigned long long) (t1 - t0));
                group = json_object_get_int64(json_object_object_get(d, "iommuGroup"));
                snprintf(id, sizeof(id), "%s",
                         json_object_get_string(json_object_object_get(json_object_object_get(reply, "lease"), "id")));
                json_object_put(reply);
                close(fd);
                close(ifd);
                p = json_object_new_object();
                json_object_object_add(p, "lease", json_object_new_string(id));
                reply = call(c, IFACE ".Release", p, &error);
                if (error)
                        die("Release: %s", error);
                json_object_put(reply);
                for (int k = 0; k < 1000 && !group_free(c, group); k++)
                        usleep(2000);
        }
        varlink_client_free(c);
        return 0;
}

/* The floor of any call: ListLeases with no lease, one round trip. */
static int ping(int n) {
        VarlinkClient *c = connect_iommud();

        for (int i = 0; i < n; i++) {
                const char *error = NULL;
                uint64_t t0 = now_usec();
                json_object *reply = call(c, IFACE ".ListLeases", NULL, &error);

                printf("sample roundtrip %llu\n", (unsigned long long) (now_usec() - t0));
                json_object_put(reply);
        }
        varlink_client_free(c);
        return 0;
}

static int baseline(int n, const char *cdev) {
        char path[64];

        snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
        for (int i = 0; i < n; i++) {
                struct iommu_option opt = { .size = sizeof(opt), .option_id = IOMMU_OPTION_RLIMIT_MODE,
                                            .op = IOMMU_OPTION_OP_SET, .val64 = 1 };
                struct iommu_ioas_alloc a = { .size = sizeof(a) };
                struct vfio_device_bind_iommufd b = { .argsz = sizeof(b) };
                struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
                uint64_t t0 = now_usec(), t1;
                int ifd, fd;

                ifd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
                if (ifd < 0 || ioctl(ifd, IOMMU_OPTION, &opt) < 0 || ioctl(ifd, IOMMU_IOAS_ALLOC, &a) < 0)
                        die("iommufd: %m");
                fd = open(path, O_RDWR | O_CLOEXEC);
                b.iommufd = ifd;
                at.pt_id = a.out_ioas_id;
                if (fd < 0 || ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &b) < 0 ||
                    ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0)
                        die("%s: %m", path);
                t1 = now_usec();
                printf("sample baseline %llu\n", (unsigned long long) (t1 - t0));
                close(fd);
                close(ifd);
        }
        return 0;
}

int main(int argc, char **argv) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc == 4 && strcmp(argv[1], "race") == 0)
                return race(atoi(argv[2]), argv[3]);
        if (argc == 4 && strcmp(argv[1], "hotplug") == 0)
                return hotplug(argv[2], argv[3]);
        if (argc == 4 && strcmp(argv[1], "bench") == 0)
                return bench(atoi(argv[2]), argv[3]);
        if (argc == 3 && strcmp(argv[1], "ping") == 0)
                return ping(atoi(argv[2]));
        if (argc == 4 && strcmp(argv[1], "baseline") == 0)
                return baseline(atoi(argv[2]), argv[3]);
        fprintf(stderr, "usage: lease-client race N DEVICE | hotplug DEVICE1 DEVICE2 | bench N DEVICE | baseline N CDEV\n");
        return 2;
}
