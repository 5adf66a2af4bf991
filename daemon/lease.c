/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lease.h"
#include "shared/log.h"
#include "shared/macro.h"

const char *lease_mode_to_string(LeaseMode m) {
        static const char *const names[] = {
                [LEASE_MODE_BOUND] = "bound",
                [LEASE_MODE_PARKED] = "parked",
        };
        return (size_t) m < ELEMENTSOF(names) ? names[m] : "?";
}

int lease_mode_from_string(const char *s, LeaseMode *ret) {
        for (LeaseMode m = 0; m < _LEASE_MODE_MAX; m++)
                if (s && strcmp(s, lease_mode_to_string(m)) == 0) {
                        *ret = m;
                        return 0;
                }
        return -EINVAL;
}

int lease_id_from_string(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!s || strlen(s) != 16)
                return -EINVAL;
        for (size_t i = 0; i < 16; i++) {
                char c = s[i];
                unsigned d;

                if (c >= '0' && c <= '9')
                        d = (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned) (c - 'a' + 10);
                else
                        return -EINVAL;
                v = v << 4 | d;
        }
        if (v == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

int lease_new(LeaseMode mode, Lease **ret) {
        Lease *l;
        struct timespec ts;

        if ((size_t) mode >= _LEASE_MODE_MAX)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        /* Random, so an id from before a restart never names a new lease. */
        do {
                if (getrandom(&l->id, sizeof(l->id), 0) != sizeof(l->id)) {
                        free(l);
                        return -EIO;
                }
        } while (l->id == 0);
        snprintf(l->id_string, sizeof(l->id_string), "%016" PRIx64, l->id);
        l->mode = mode;
        l->holder_pidfd = l->iommufd = -EBADF;
        clock_gettime(CLOCK_REALTIME, &ts);
        l->created_usec = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
        *ret = l;
        return 0;
}

void lease_close_fds(Lease *l) {
        for (size_t i = 0; i < l->n_devices; i++)
                l->devices[i].fd = safe_close(l->devices[i].fd);
        l->iommufd = safe_close(l->iommufd);
}

Lease *lease_free(Lease *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->holder_source);
        sd_event_source_disable_unref(l->release_timer);
        lease_close_fds(l);
        safe_close(l->holder_pidfd);
        free(l->devices);
        free(l->prepared_groups);
        free(l->release_reason);
        free(l);
        return NULL;
}

void lease_freep(Lease **l) {
        lease_free(*l);
}

int lease_open_iommufd(Lease *l, IommufdStep *ret_step) {
        int r;

        if (l->iommufd >= 0)
                return -EALREADY;
        r = iommufd_open(NULL, ret_step);
        if (r < 0)
                return r;
        l->iommufd = r;
        if (l->mode == LEASE_MODE_BOUND) {
                r = iommufd_ioas_alloc(l->iommufd, &l->ioas_id);
                if (r < 0) {
                        *ret_step = IOMMUFD_STEP_IOAS_ALLOC;
                        l->iommufd = safe_close(l->iommufd);
                        return r;
                }
        }
        return 0;
}

int lease_add_device(Lease *l, const char *name, uint32_t group, const char *cdev, IommufdStep *ret_step) {
        _cleanup_close_ int fd = -EBADF;
        LeaseDevice d = { .group = group, .fd = -EBADF };
        LeaseDevice *p;
        int r;

        if (l->iommufd < 0)
                return -EBADF;
        if (strlen(name) >= sizeof(d.name) || strlen(cdev) >= sizeof(d.cdev))
                return -EINVAL;
        strcpy(d.name, name);
        strcpy(d.cdev, cdev);
        *ret_step = IOMMUFD_STEP_DEVICE_OPEN;
        fd = iommufd_device_open(cdev);
        if (fd < 0)
                return fd;
        if (l->mode == LEASE_MODE_BOUND) {
                *ret_step = IOMMUFD_STEP_BIND;
                r = iommufd_bind(fd, l->iommufd, &d.devid);
                if (r < 0)
                        return r;
                *ret_step = IOMMUFD_STEP_ATTACH;
                r = iommufd_attach(fd, l->ioas_id, &d.pt_id);
                if (r < 0)
                        return r;       /* closing the fd unbinds it */
        }
        p = realloc(l->devices, (l->n_devices + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        l->devices = p;
        d.fd = TAKE_FD(fd);
        l->devices[l->n_devices++] = d;
        return 0;
}

int lease_find_device(const Lease *l, const char *name) {
        for (size_t i = 0; i < l->n_devices; i++)
                if (strcmp(l->devices[i].name, name) == 0)
                        return (int) i;
        return -ENOENT;
}

static bool cut_device(Lease *l, LeaseDevice *d) {
        int r;

        if (d->fd < 0)
                return false;
        r = iommufd_detach(d->fd);
        if (r < 0) {
                log_debug("Lease %s: no DMA to cut for %s (%s)", l->id_string, d->name, strerror(-r));
                return false;
        }
        return true;
}

void lease_remove_device(Lease *l, size_t index) {
        if (index >= l->n_devices)
                return;
        (void) cut_device(l, &l->devices[index]);
        safe_close(l->devices[index].fd);
        l->devices[index] = l->devices[--l->n_devices];
}

bool lease_has_group(const Lease *l, uint32_t group) {
        for (size_t i = 0; i < l->n_devices; i++)
                if (l->devices[i].group == group)
                        return true;
        return false;
}

size_t lease_cut_dma(Lease *l) {
        size_t k = 0;
        int r;

        for (size_t i = 0; i < l->n_devices; i++)
                k += cut_device(l, &l->devices[i]);
        if (l->mode == LEASE_MODE_BOUND && l->iommufd >= 0) {
                r = iommufd_ioas_unmap_all(l->iommufd, l->ioas_id);
                if (r < 0)
                        log_debug("Lease %s: unmapping IOAS %u: %s", l->id_string, l->ioas_id, strerror(-r));
        }
        return k;
}

static json_object *process_to_json(const ProcessInfo *p) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "uid", json_object_new_int64(p->uid));
        json_object_object_add(o, "pid", json_object_new_int64(p->pid));
        json_object_object_add(o, "command", json_object_new_string(p->comm));
        return o;
}

json_object *lease_device_to_json(const Lease *l, const LeaseDevice *d) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "name", json_object_new_string(d->name));
        json_object_object_add(o, "iommuGroup", json_object_new_int64(d->group));
        json_object_object_add(o, "vfioDevice", json_object_new_string(d->cdev));
        if (l->mode == LEASE_MODE_BOUND) {
                json_object_object_add(o, "devid", json_object_new_int64(d->devid));
                json_object_object_add(o, "hwptId", json_object_new_int64(d->pt_id));
        }
        return o;
}

json_object *lease_to_json(const Lease *l) {
        json_object *o = json_object_new_object(), *a, *g;

        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_string(l->id_string));
        json_object_object_add(o, "mode", json_object_new_string(lease_mode_to_string(l->mode)));
        json_object_object_add(o, "backend", json_object_new_string("iommufd"));
        json_object_object_add(o, "holder", process_to_json(&l->holder));
        json_object_object_add(o, "owner", process_to_json(&l->owner));
        json_object_object_add(o, "created", json_object_new_int64((int64_t) l->created_usec));
        if (l->mode == LEASE_MODE_BOUND)
                json_object_object_add(o, "ioasId", json_object_new_int64(l->ioas_id));
        a = json_object_new_array();
        g = json_object_new_array();
        for (size_t i = 0; i < l->n_devices; i++) {
                bool seen = false;

                json_object_array_add(a, lease_device_to_json(l, &l->devices[i]));
                for (size_t k = 0; k < i; k++)
                        seen = seen || l->devices[k].group == l->devices[i].group;
                if (!seen)
                        json_object_array_add(g, json_object_new_int64(l->devices[i].group));
        }
        json_object_object_add(o, "devices", a);
        json_object_object_add(o, "groups", g);
        if (l->memlock)
                json_object_object_add(o, "memlock", json_object_new_int64((int64_t) l->memlock));
        if (l->release_reason) {
                json_object_object_add(o, "releaseReason", json_object_new_string(l->release_reason));
                json_object_object_add(o, "releaseDeadline", json_object_new_int64((int64_t) l->release_deadline_usec));
        }
        return o;
}
