/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-restart.c - what outlives the process, so that a restart or a
 * crash loses no lease and never hands a group out twice.
 *
 * Two things are kept, and both are brought up to date whenever the
 * leases change (manager_state_sync()); the file before the caller is
 * answered, the store, for a new claim, right after the reply is sent:
 *   - the state file (lease-state.h), written whole to a temporary file
 *     and renamed over the old one: at any moment there is one complete
 *     version of it;
 *   - systemd's fd store: iommud's own copy of every file a lease keeps
 *     (the iommufd, the device files or legacy container and groups, the
 *     kernel's request eventfds, the holder's pidfd), sent with FDSTORE=1
 *     under a name that says whose it is, and taken out (FDSTOREREMOVE=1)
 *     when the lease lets go of it.
 *
 * At start, before anyone is served, manager_restart_recover() reads the
 * file and matches each lease's records with the stored files, each
 * checked against what it claims to be (a device file's st_rdev against
 * the device's node, a pidfd's pid against the holder's).  Then:
 *   - a lease whose holder is gone ends (its DMA cut through the stored
 *     files, its groups released and restored as always);
 *   - a lease whose files are gone (systemd empties the store when the
 *     service stops rather than restarts, or when its start limit trips)
 *     stays while its holder lives and some process holds its devices:
 *     iommud cannot cut its DMA any more, but the kernel still refuses
 *     its groups to anyone else; when nobody holds them it ends;
 *   - a group iommud cannot account for (stored files no record names, a
 *     damaged file, a lease that cannot be taken back) is "releasing" with
 *     no lease: handed out only once the probe finds nobody holds it.
 * A damaged state file is reported, kept as state.json.damaged, and not
 * trusted at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "lease-state.h"
#include "manager-internal.h"
#include "process.h"
#include "shared/log.h"
#include "shared/macro.h"

#define STATE_FILE "state.json"

typedef struct StoredFd {
        char name[LEASE_FD_NAME_MAX];
        int fd;                 /* stored: the lease's (borrowed); inherited: ours until used */
        bool used;
} StoredFd;

typedef struct RestartState {
        char boot_id[37];
        bool notify;            /* systemd's fd store is there ($NOTIFY_SOCKET) */
        Hashmap *stored;        /* name -> StoredFd: what the store has of ours */
        StoredFd *inherited;    /* the stored fds passed at this start, until the recovery */
        size_t n_inherited;
        bool write_failed;      /* logged once, until a write works again */

        /* what the last start found, for GetStatus */
        uint64_t at;
        const char *state_file; /* "none", "ok", "damaged", "other-boot" */
        char problem[320];
        unsigned recovered, ended, without_files, unknown_groups, dropped_fds;
} RestartState;

static uint64_t now_realtime(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void stored_free(Hashmap *h) {
        size_t i = 0;
        void *v;

        while (h && hashmap_iterate(h, &i, &v, NULL))
                free(v);
        hashmap_free(h);
}

int manager_restart_init(Manager *m) {
        RestartState *rs = calloc(1, sizeof(*rs));
        char buf[64] = "";
        FILE *f;

        if (!rs)
                return -ENOMEM;
        m->restart = rs;
        rs->stored = hashmap_new();
        if (!rs->stored)
                return -ENOMEM;
        rs->notify = getenv("NOTIFY_SOCKET") != NULL;
        rs->state_file = "none";
        f = fopen("/proc/sys/kernel/random/boot_id", "re");
        if (f) {
                if (fgets(buf, sizeof(buf), f))
                        buf[strcspn(buf, "\n")] = 0;
                fclose(f);
        }
        /* The hardened unit shows iommud no /proc/sys (ProcSubset=pid):
         * then "" is written and not checked.  The file lives in /run,
         * which no boot inherits from another; the holders' start times
         * keep a pid of another boot from being taken for a holder. */
        snprintf(rs->boot_id, sizeof(rs->boot_id), "%.36s", buf);
        return 0;
}

void manager_restart_done(Manager *m) {
        RestartState *rs = m->restart;

        if (!rs)
                return;
        for (size_t i = 0; i < rs->n_inherited; i++)
                safe_close(rs->inherited[i].fd);
        free(rs->inherited);
        stored_free(rs->stored);
        free(rs);
        m->restart = NULL;
}

/* ---- the fds systemd passes ---- */

static void strv_free_simple(char **l) {
        for (size_t i = 0; l && l[i]; i++)
                free(l[i]);
        free(l);
}

int manager_restart_take_fds(Manager *m, int *ret_varlink_fd) {
        RestartState *rs = m->restart;
        char **names = NULL;
        int n;

        *ret_varlink_fd = -1;
        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to get file descriptors from systemd: %m");
        rs->inherited = calloc((size_t) n + 1, sizeof(*rs->inherited));
        if (!rs->inherited) {
                strv_free_simple(names);
                return -ENOMEM;
        }
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                const char *name = names && names[i] ? names[i] : "unknown";
                char id[LEASE_ID_STRING_MAX];

                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
                if (lease_state_fd_name_lease(name, id) >= 0) {
                        StoredFd *s = &rs->inherited[rs->n_inherited++];
                        snprintf(s->name, sizeof(s->name), "%s", name);
                        s->fd = fd;
                } else if (*ret_varlink_fd < 0 && sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0)
                        *ret_varlink_fd = fd;
                else {
                        log_warning("Ignoring a file descriptor from systemd named \"%s\": neither the varlink "
                                    "socket nor a lease's", name);
                        close(fd);
                }
        }
        strv_free_simple(names);
        if (rs->n_inherited > 0)
                log_info("systemd kept %zu file descriptors of leases for this start", rs->n_inherited);
        return 0;
}

/* ---- keeping it up to date ---- */

static int write_state(Manager *m) {
        RestartState *rs = m->restart;
        size_t n = manager_lease_count(m), n_rel = manager_releasing_count(m), i = 0, k = 0;
        _cleanup_free_ Lease **leases = calloc(n + 1, sizeof(*leases));
        _cleanup_free_ StateReleasing *rel = calloc(n_rel + 1, sizeof(*rel));
        _cleanup_free_ char *text = NULL, *tmp = NULL, *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t len, done = 0;
        void *v;

        if (!leases || !rel)
                return -ENOMEM;
        while (k < n && hashmap_iterate(m->leases, &i, &v, NULL))
                leases[k++] = v;
        n_rel = manager_releasing_records(m, rel, n_rel);
        text = lease_state_format(rs->boot_id, leases, k, rel, n_rel);
        if (!text)
                return -ENOMEM;
        if (asprintf(&path, "%s/" STATE_FILE, m->state_dir) < 0 || asprintf(&tmp, "%s.new", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ENOENT && mkdir(m->state_dir, 0755) >= 0)
                fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        len = strlen(text);
        while (done < len) {
                ssize_t w = write(fd, text + done, len - done);
                if (w < 0) {
                        int r = -errno;
                        (void) unlink(tmp);
                        return r;
                }
                done += (size_t) w;
        }
        /* No fsync: the file is for a restart of the daemon, not of the
         * machine (it lives in /run, and a reboot ends every lease). */
        fd = safe_close(fd);
        if (rename(tmp, path) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

static int want(Hashmap *h, const char *id, LeaseFdKind kind, const char *detail, int fd) {
        StoredFd *s;
        int r;

        if (fd < 0)
                return 0;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        lease_state_fd_name(s->name, id, kind, detail);
        s->fd = fd;
        r = hashmap_put(h, s->name, s);
        if (r < 0)
                free(s);
        return r == -EEXIST ? 0 : r;
}

/* What the store should hold now: every lease's own files. */
static Hashmap *wanted_fds(Manager *m) {
        Hashmap *h = hashmap_new();
        size_t i = 0;
        void *v;
        int r = h ? 0 : -ENOMEM;

        while (r >= 0 && hashmap_iterate(m->leases, &i, &v, NULL)) {
                const Lease *l = v;
                char group[16];

                r = want(h, l->id_string, LEASE_FD_HOLDER, NULL, l->holder_pidfd);
                if (r >= 0)
                        r = want(h, l->id_string, LEASE_FD_IOMMUFD, NULL, l->iommufd);
                if (r >= 0)
                        r = want(h, l->id_string, LEASE_FD_CONTAINER, NULL, l->container);
                for (size_t k = 0; r >= 0 && k < l->n_groups; k++) {
                        snprintf(group, sizeof(group), "%u", l->groups[k].id);
                        r = want(h, l->id_string, LEASE_FD_GROUP, group, l->groups[k].fd);
                }
                for (size_t k = 0; r >= 0 && k < l->n_devices; k++) {
                        r = want(h, l->id_string, LEASE_FD_DEVICE, l->devices[k].name, l->devices[k].fd);
                        if (r >= 0)
                                r = want(h, l->id_string, LEASE_FD_REQUEST, l->devices[k].name,
                                         l->devices[k].req_fd);
                }
        }
        if (r < 0) {
                stored_free(h);
                return NULL;
        }
        return h;
}

static void sync_store(Manager *m) {
        RestartState *rs = m->restart;
        Hashmap *wanted = wanted_fds(m);
        size_t i = 0;
        void *v;

        if (!wanted) {
                log_error("Out of memory: the fd store is not brought up to date");
                return;
        }
        /* Out first: what no lease keeps, or keeps as another file now. */
        while (hashmap_iterate(rs->stored, &i, &v, NULL)) {
                StoredFd *s = v, *w = hashmap_get(wanted, s->name);
                if (w && w->fd == s->fd)
                        continue;
                (void) sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", s->name);
                hashmap_remove(rs->stored, s->name);
                free(s);
                i = 0;          /* the map changed under the walk: again from the start */
        }
        i = 0;
        while (hashmap_iterate(wanted, &i, &v, NULL)) {
                StoredFd *w = v;
                char msg[LEASE_FD_NAME_MAX + 32];
                int r;

                if (hashmap_get(rs->stored, w->name))
                        continue;
                snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", w->name);
                r = sd_pid_notify_with_fds(0, false, msg, &w->fd, 1);
                if (r <= 0) {
                        log_warning("Cannot keep %s in systemd's fd store: %s", w->name,
                                    r < 0 ? strerror(-r) : "no notification socket");
                        continue;
                }
                hashmap_remove(wanted, w->name);
                i = 0;
                if (hashmap_put(rs->stored, w->name, w) < 0)
                        free(w);
        }
        stored_free(wanted);
}

void manager_state_write(Manager *m) {
        RestartState *rs = m->restart;
        int r;

        if (!rs)
                return;
        r = write_state(m);
        if (r < 0 && !rs->write_failed)
                log_error("Cannot write %s/" STATE_FILE ": %s; a restart now would not know these leases (it "
                          "would keep their groups from everyone until nobody holds them)",
                          m->state_dir, strerror(-r));
        else if (r >= 0 && rs->write_failed)
                log_info("%s/" STATE_FILE " is written again", m->state_dir);
        rs->write_failed = r < 0;
}

void manager_state_store(Manager *m) {
        if (m->restart && m->restart->notify)
                sync_store(m);
}

void manager_state_sync(Manager *m) {
        manager_state_write(m);
        manager_state_store(m);
}

/* ---- taking the leases back ---- */

/* @fd is the character device node @path is (st_rdev). */
static bool fd_is_node(int fd, const char *path) {
        struct stat a, b;

        return fstat(fd, &a) >= 0 && stat(path, &b) >= 0 && S_ISCHR(a.st_mode) && S_ISCHR(b.st_mode) &&
               a.st_rdev == b.st_rdev;
}

static bool fd_is_eventfd(int fd) {
        char path[64], target[64];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return false;
        target[n] = 0;
        return strcmp(target, "anon_inode:[eventfd]") == 0;
}

/* The inherited fd named so, checked by @check; -EBADF when there is
 * none, or it is not what its name says (then it is closed). */
static int take_inherited(Manager *m, const char *id, LeaseFdKind kind, const char *detail, const char *node,
                          bool eventfd) {
        RestartState *rs = m->restart;
        char name[LEASE_FD_NAME_MAX];

        lease_state_fd_name(name, id, kind, detail);
        for (size_t i = 0; i < rs->n_inherited; i++) {
                StoredFd *s = &rs->inherited[i];
                if (s->used || strcmp(s->name, name) != 0)
                        continue;
                s->used = true;
                if ((node && !fd_is_node(s->fd, node)) || (eventfd && !fd_is_eventfd(s->fd))) {
                        log_warning("The stored file %s is not %s: not used", name, node ? node : "an eventfd");
                        (void) sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", name);
                        s->fd = safe_close(s->fd);
                        rs->dropped_fds++;
                        return -EBADF;
                }
                /* It is in the store already: remember it as stored. */
                StoredFd *st = calloc(1, sizeof(*st));
                if (st) {
                        *st = *s;
                        if (hashmap_put(rs->stored, st->name, st) < 0)
                                free(st);
                }
                return TAKE_FD(s->fd);
        }
        return -EBADF;
}

/* A lease's files from the store; true when it has the ones that cut
 * its DMA (an access-mode lease has none by design). */
static bool attach_files(Manager *m, Lease *l) {
        char path[64];

        if (l->backend == LEASE_BACKEND_IOMMUFD)
                l->iommufd = take_inherited(m, l->id_string, LEASE_FD_IOMMUFD, NULL, "/dev/iommu", false);
        else if (l->mode == LEASE_MODE_BOUND)
                l->container = take_inherited(m, l->id_string, LEASE_FD_CONTAINER, NULL, "/dev/vfio/vfio", false);
        for (size_t i = 0; i < l->n_groups; i++) {
                char g[16];
                snprintf(g, sizeof(g), "%u", l->groups[i].id);
                snprintf(path, sizeof(path), "/dev/vfio/%u", l->groups[i].id);
                if (!l->groups[i].acl)
                        l->groups[i].fd = take_inherited(m, l->id_string, LEASE_FD_GROUP, g, path, false);
        }
        for (size_t i = 0; i < l->n_devices; i++) {
                LeaseDevice *d = &l->devices[i];
                if (l->backend == LEASE_BACKEND_IOMMUFD) {
                        snprintf(path, sizeof(path), "/dev/vfio/devices/%s", d->cdev);
                        d->fd = take_inherited(m, l->id_string, LEASE_FD_DEVICE, d->name, path, false);
                }
                d->req_fd = take_inherited(m, l->id_string, LEASE_FD_REQUEST, d->name, NULL, true);
        }
        if (l->mode == LEASE_MODE_ACCESS)
                return true;
        return l->backend == LEASE_BACKEND_IOMMUFD ? l->iommufd >= 0 : l->container >= 0;
}

/* The holder: its stored pidfd, or the process with its pid and start
 * time.  false when it is gone. */
static bool attach_holder(Manager *m, Lease *l) {
        pid_t pid;
        int fd = take_inherited(m, l->id_string, LEASE_FD_HOLDER, NULL, NULL, false);

        if (fd >= 0) {
                int r = pidfd_get_pid(fd, &pid);
                if (r >= 0 && pid == l->holder.pid) {
                        l->holder_pidfd = fd;
                        return pidfd_is_alive(fd) > 0;
                }
                safe_close(fd);
                if (r == -ESRCH)
                        return false;
                log_warning("Lease %s: the stored pidfd is not of its holder (pid %d): not used", l->id_string,
                            (int) l->holder.pid);
        }
        if (l->holder.start_time == 0)
                return false;
        fd = pidfd_open_verified(m->proc_root, l->holder.pid, l->holder.start_time);
        if (fd < 0)
                return false;
        l->holder_pidfd = fd;
        return true;
}

/* The IOMMU group of the device node @fd is (a VFIO device cdev or a
 * legacy group node), or -1. */
static int64_t group_of_fd(int fd) {
        char path[PATH_MAX], real[PATH_MAX], link[PATH_MAX];
        struct stat st;
        const char *base;
        char *end;
        long v;
        ssize_t n;

        if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
                return -1;
        snprintf(path, sizeof(path), "/sys/dev/char/%u:%u", major(st.st_rdev), minor(st.st_rdev));
        if (!realpath(path, real))
                return -1;
        /* .../DEVICE/vfio-dev/vfioN: the device's iommu_group link. */
        if (strstr(real, "/vfio-dev/")) {
                *strstr(real, "/vfio-dev/") = 0;
                if (strlen(real) + sizeof("/iommu_group") > sizeof(path))
                        return -1;
                memcpy(path, real, strlen(real));
                memcpy(path + strlen(real), "/iommu_group", sizeof("/iommu_group"));
                n = readlink(path, link, sizeof(link) - 1);
                if (n < 0)
                        return -1;
                link[n] = 0;
                base = strrchr(link, '/');
                base = base ? base + 1 : link;
        } else if (strncmp(real, "/sys/devices/virtual/vfio/", 26) == 0)
                base = real + 26;       /* a legacy group node: vfio/N */
        else
                return -1;
        errno = 0;
        v = strtol(base, &end, 10);
        return errno || end == base || *end || v < 0 ? -1 : v;
}

static void add_unknown(uint32_t *groups, size_t *n, size_t max, int64_t g) {
        if (g < 0)
                return;
        for (size_t i = 0; i < *n; i++)
                if (groups[i] == (uint32_t) g)
                        return;
        if (*n < max)
                groups[(*n)++] = (uint32_t) g;
}

static int read_state(Manager *m, char **ret, size_t *ret_size) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        size_t done = 0;

        if (asprintf(&path, "%s/" STATE_FILE, m->state_dir) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size > (off_t) LEASE_STATE_MAX_BYTES)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (done < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + done, (size_t) st.st_size - done);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        buf[done] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = done;
        return 0;
}

/* The file cannot be trusted: keep it for the admin, out of the way. */
static void set_damaged(Manager *m, const char *problem) {
        RestartState *rs = m->restart;
        _cleanup_free_ char *path = NULL, *aside = NULL;

        rs->state_file = "damaged";
        snprintf(rs->problem, sizeof(rs->problem), "%s", problem);
        if (asprintf(&path, "%s/" STATE_FILE, m->state_dir) >= 0 && asprintf(&aside, "%s.damaged", path) >= 0)
                (void) rename(path, aside);
        log_error("%s/" STATE_FILE " is damaged (%s): no lease is taken back from it, it is kept as %s.damaged, "
                  "and every IOMMU group a process holds is kept from claims until nobody does",
                  m->state_dir, problem, STATE_FILE);
}

int manager_restart_recover(Manager *m) {
        RestartState *rs = m->restart;
        LeaseState s = { 0 };
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ Lease **dead = NULL, **orphans = NULL;
        size_t n_dead = 0, n_orphans = 0, n_unknown = 0, size = 0;
        uint32_t unknown[512];
        bool distrust = false;
        char error[256];
        int r;

        rs->at = now_realtime();
        r = read_state(m, &text, &size);
        if (r == -ENOENT) {
                rs->state_file = "none";
                if (rs->n_inherited > 0) {
                        snprintf(rs->problem, sizeof(rs->problem),
                                 "systemd kept files of leases but there is no state file");
                        log_warning("systemd kept %zu files of leases, but %s/" STATE_FILE " is missing: their "
                                    "groups are kept from claims until nobody holds them", rs->n_inherited,
                                    m->state_dir);
                }
        } else if (r < 0) {
                char msg[128];
                snprintf(msg, sizeof(msg), "cannot be read: %s", strerror(-r));
                set_damaged(m, msg);
                distrust = true;
        } else if ((r = lease_state_parse(text, size, &s, error, sizeof(error))) < 0) {
                if (r == -ENOMEM)
                        return r;
                set_damaged(m, error);
                distrust = true;
        } else if (s.boot_id[0] && rs->boot_id[0] && strcmp(s.boot_id, rs->boot_id) != 0) {
                rs->state_file = "other-boot";
                log_notice("%s/" STATE_FILE " is from another boot: its leases ended with it", m->state_dir);
                lease_state_done(&s);
        } else
                rs->state_file = "ok";

        dead = calloc(s.n_leases + 1, sizeof(*dead));
        orphans = calloc(s.n_leases + 1, sizeof(*orphans));
        if (!dead || !orphans) {
                lease_state_done(&s);
                return -ENOMEM;
        }
        for (size_t i = 0; i < s.n_leases; i++) {
                Lease *l = TAKE_PTR(s.leases[i]);
                bool files = attach_files(m, l), alive = attach_holder(m, l);

                if (manager_lease_adopt(m, l) < 0) {
                        for (size_t k = 0; k < l->n_devices; k++)
                                add_unknown(unknown, &n_unknown, ELEMENTSOF(unknown), l->devices[k].group);
                        /* Its files close; the holder's copies are its own.
                         * An ACL entry stays: revoking it would act on a
                         * record iommud could not place. */
                        if (l->mode == LEASE_MODE_ACCESS)
                                log_warning("Lease %s: the access of uid %u to its groups' nodes is left as it is",
                                            l->id_string, (unsigned) l->holder.uid);
                        lease_state_forget_acls(l);
                        lease_free(l);
                        continue;
                }
                rs->recovered++;
                if (!files)
                        rs->without_files++;
                log_info("Lease %s of %s (pid %d, uid %u) taken back: %s mode, %zu devices%s%s", l->id_string,
                         l->holder.comm, (int) l->holder.pid, (unsigned) l->holder.uid, lease_mode_to_string(l->mode),
                         l->n_devices, files ? "" : ", without its files (systemd did not keep them)",
                         alive ? "" : "; its holder is gone");
                if (!alive)
                        dead[n_dead++] = l;
                else if (!files)
                        orphans[n_orphans++] = l;
        }
        for (size_t i = 0; i < s.n_releasing; i++) {
                uint32_t g = s.releasing[i].group;
                if (manager_releasing_adopt(m, &s.releasing[i]) < 0)
                        add_unknown(unknown, &n_unknown, ELEMENTSOF(unknown), g);
        }
        lease_state_done(&s);

        /* Stored files no record took: their groups are someone's. */
        for (size_t i = 0; i < rs->n_inherited; i++) {
                StoredFd *st = &rs->inherited[i];
                if (st->fd < 0)
                        continue;
                add_unknown(unknown, &n_unknown, ELEMENTSOF(unknown), group_of_fd(st->fd));
                log_warning("The stored file %s belongs to no lease iommud knows: closed", st->name);
                (void) sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", st->name);
                st->fd = safe_close(st->fd);
                rs->dropped_fds++;
        }
        /* Without a state to trust, every group on a VFIO driver may be
         * a lease's: the probe tells which are free. */
        if (distrust) {
                _cleanup_free_ const Group **groups = NULL;
                size_t ng = 0;

                if (registry_list_groups(m->registry, &groups, &ng) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < ng; i++)
                        for (size_t k = 0; k < groups[i]->n_members; k++)
                                if (groups[i]->members[k]->vfio_cdev || groups[i]->members[k]->vfio_group_node) {
                                        add_unknown(unknown, &n_unknown, ELEMENTSOF(unknown), groups[i]->id);
                                        break;
                                }
        }
        for (size_t i = 0; i < n_unknown; i++) {
                StateReleasing rec = { .group = unknown[i], .backend = manager_lease_backend(m) };
                if (manager_group_is_claimed(m, unknown[i], NULL))
                        continue;
                if (manager_releasing_adopt(m, &rec) >= 0)
                        rs->unknown_groups++;
        }

        for (size_t i = 0; i < n_dead; i++) {
                manager_end_lease(m, dead[i], "its holder exited while iommud was not running");
                rs->ended++;
        }
        for (size_t i = 0; i < n_orphans; i++)
                if (!manager_lease_devices_held(m, orphans[i])) {
                        manager_end_lease(m, orphans[i],
                                          "iommud started without its files, and no process holds its devices");
                        rs->ended++;
                }
        free(rs->inherited);
        rs->inherited = NULL;
        rs->n_inherited = 0;
        if (rs->recovered || rs->unknown_groups || rs->dropped_fds)
                log_info("At start: %u leases taken back (%u of them without their files), %u ended since; %u "
                         "IOMMU groups held by processes iommud knows no lease of; %u stored files dropped",
                         rs->recovered, rs->without_files, rs->ended, rs->unknown_groups, rs->dropped_fds);
        /* A device of a lease may have gone while iommud was down. */
        manager_lease_check_soon(m);
        manager_state_sync(m);
        return 0;
}

json_object *manager_restart_status(Manager *m) {
        RestartState *rs = m->restart;
        json_object *o;

        if (!rs || !(o = json_object_new_object()))
                return NULL;
        json_object_object_add(o, "at", json_object_new_int64((int64_t) rs->at));
        json_object_object_add(o, "stateFile", json_object_new_string(rs->state_file));
        json_object_object_add(o, "problem", rs->problem[0] ? json_object_new_string(rs->problem) : NULL);
        json_object_object_add(o, "recoveredLeases", json_object_new_int64(rs->recovered));
        json_object_object_add(o, "withoutFiles", json_object_new_int64(rs->without_files));
        json_object_object_add(o, "endedLeases", json_object_new_int64(rs->ended));
        json_object_object_add(o, "unknownGroups", json_object_new_int64(rs->unknown_groups));
        json_object_object_add(o, "droppedFiles", json_object_new_int64(rs->dropped_fds));
        return o;
}
