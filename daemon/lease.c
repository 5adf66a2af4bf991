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
#include "vfio-legacy.h"
#include "shared/macro.h"

const char *lease_mode_to_string(LeaseMode m) {
        static const char *const names[] = {
                [LEASE_MODE_BOUND] = "bound",
                [LEASE_MODE_PARKED] = "parked",
                [LEASE_MODE_ACCESS] = "access",
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

const char *lease_backend_to_string(LeaseBackend b) {
        return b == LEASE_BACKEND_LEGACY ? "legacy" : "iommufd";
}

bool lease_mode_valid(LeaseBackend backend, LeaseMode mode) {
        if ((size_t) mode >= _LEASE_MODE_MAX)
                return false;
        return backend == LEASE_BACKEND_LEGACY ? mode != LEASE_MODE_PARKED : mode != LEASE_MODE_ACCESS;
}

int lease_new_with_id(LeaseBackend backend, LeaseMode mode, uint64_t id, Lease **ret) {
        Lease *l;
        struct timespec ts;

        if (!lease_mode_valid(backend, mode) || id == 0)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->id = id;
        snprintf(l->id_string, sizeof(l->id_string), "%016" PRIx64, l->id);
        l->mode = mode;
        l->backend = backend;
        l->holder_pidfd = l->iommufd = l->container = -EBADF;
        clock_gettime(CLOCK_REALTIME, &ts);
        l->created_usec = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
        *ret = l;
        return 0;
}

int lease_new(LeaseBackend backend, LeaseMode mode, Lease **ret) {
        uint64_t id;

        /* Random, so an id from before a restart never names a new lease. */
        do {
                if (getrandom(&id, sizeof(id), 0) != sizeof(id))
                        return -EIO;
        } while (id == 0);
        return lease_new_with_id(backend, mode, id, ret);
}

static void group_let_go(Lease *l, LeaseGroup *g) {
        int r;

        g->fd = safe_close(g->fd);
        if (g->acl) {
                r = vfio_group_acl_revoke(-EBADF, g->id, l->holder.uid);
                if (r < 0)
                        log_error("Lease %s: cannot revoke uid %u's access to /dev/vfio/%u: %s", l->id_string,
                                  (unsigned) l->holder.uid, g->id, strerror(-r));
                g->acl = false;
        }
}

static void device_close(LeaseDevice *d) {
        d->req_source = sd_event_source_disable_unref(d->req_source);
        d->req_fd = safe_close(d->req_fd);
        d->fd = safe_close(d->fd);
}

void lease_close_fds(Lease *l) {
        for (size_t i = 0; i < l->n_devices; i++)
                device_close(&l->devices[i]);
        for (size_t i = 0; i < l->n_groups; i++)
                group_let_go(l, &l->groups[i]);
        l->iommufd = safe_close(l->iommufd);
        l->container = safe_close(l->container);
}

Lease *lease_free(Lease *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->holder_source);
        sd_event_source_disable_unref(l->release_timer);
        lease_close_fds(l);
        safe_close(l->holder_pidfd);
        free(l->devices);
        free(l->groups);
        free(l->moved);
        free(l->release_reason);
        free(l);
        return NULL;
}

void lease_freep(Lease **l) {
        lease_free(*l);
}

int lease_open(Lease *l, LeaseFailure *f) {
        IommufdStep step = IOMMUFD_STEP_OPEN;
        LegacyStep lstep = LEGACY_STEP_CONTAINER_OPEN;
        int r;

        if (l->iommufd >= 0 || l->container >= 0)
                return -EALREADY;
        if (l->backend == LEASE_BACKEND_LEGACY) {
                if (l->mode == LEASE_MODE_ACCESS)
                        return 0;       /* the holder opens its own container */
                r = vfio_legacy_container_open(NULL, &lstep);
                if (r < 0) {
                        f->step = vfio_legacy_step_to_string(lstep);
                        f->reason = vfio_legacy_error_reason(lstep, r);
                        return r;
                }
                l->container = r;
                return 0;
        }
        r = iommufd_open(NULL, &step);
        if (r >= 0) {
                l->iommufd = r;
                if (l->mode != LEASE_MODE_BOUND)
                        return 0;
                step = IOMMUFD_STEP_IOAS_ALLOC;
                r = iommufd_ioas_alloc(l->iommufd, &l->ioas_id);
                if (r >= 0)
                        return 0;
                l->iommufd = safe_close(l->iommufd);
        }
        f->step = iommufd_step_to_string(step);
        f->reason = iommufd_error_reason(step, r);
        return r;
}

static LeaseGroup *find_group(Lease *l, uint32_t id) {
        for (size_t i = 0; i < l->n_groups; i++)
                if (l->groups[i].id == id)
                        return &l->groups[i];
        return NULL;
}

/* Bring @id into a legacy lease: into the container, or open to the
 * holder.  1 when it was brought in now, 0 when it was in already. */
static int legacy_group_add(Lease *l, uint32_t id, LeaseFailure *f) {
        LegacyStep step = LEGACY_STEP_GROUP_OPEN;
        LeaseGroup g = { .id = id, .fd = -EBADF }, *p;
        int r;

        if (find_group(l, id))
                return 0;
        p = realloc(l->groups, (l->n_groups + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        l->groups = p;
        if (l->mode == LEASE_MODE_ACCESS) {
                step = LEGACY_STEP_ACL;
                r = vfio_group_acl_grant(-EBADF, id, l->holder.uid);
                if (r < 0)
                        goto fail;
                g.acl = true;
        } else {
                r = vfio_legacy_group_open(id, &step);
                if (r < 0)
                        goto fail;
                g.fd = r;
                step = LEGACY_STEP_SET_CONTAINER;
                r = vfio_legacy_group_set_container(g.fd, l->container);
                if (r >= 0 && !l->iommu_set) {
                        step = LEGACY_STEP_SET_IOMMU;
                        r = vfio_legacy_set_iommu(l->container);
                        l->iommu_set = r >= 0;
                }
                if (r < 0) {
                        safe_close(g.fd);
                        goto fail;
                }
        }
        l->groups[l->n_groups++] = g;
        return 1;
fail:
        f->step = vfio_legacy_step_to_string(step);
        f->reason = vfio_legacy_error_reason(step, r);
        f->not_viable = r == -EADDRNOTAVAIL || r == -EBUSY || r == -EPERM;
        return r;
}

static void legacy_group_remove(Lease *l, uint32_t id) {
        LeaseGroup *g = find_group(l, id);

        if (!g)
                return;
        group_let_go(l, g);
        *g = l->groups[--l->n_groups];
}

int lease_add_device(Lease *l, const char *name, uint32_t group, const char *cdev, const char *vf_token,
                     LeaseFailure *f) {
        _cleanup_close_ int fd = -EBADF;
        LeaseDevice d = { .group = group, .fd = -EBADF, .req_fd = -EBADF };
        bool new_group = false;
        IommufdStep step = IOMMUFD_STEP_DEVICE_OPEN;
        LeaseDevice *p;
        int r;

        if (strlen(name) >= sizeof(d.name) || (cdev && strlen(cdev) >= sizeof(d.cdev)))
                return -EINVAL;
        strcpy(d.name, name);
        if (cdev)
                strcpy(d.cdev, cdev);
        p = realloc(l->devices, (l->n_devices + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        l->devices = p;

        if (l->backend == LEASE_BACKEND_LEGACY) {
                r = legacy_group_add(l, group, f);
                if (r < 0)
                        return r;
                new_group = r > 0;
                if (l->mode == LEASE_MODE_BOUND) {
                        fd = vfio_legacy_device_open_token(find_group(l, group)->fd, name, vf_token);
                        if (fd < 0) {
                                f->step = vfio_legacy_step_to_string(LEGACY_STEP_DEVICE_OPEN);
                                f->reason = vfio_legacy_error_reason(LEGACY_STEP_DEVICE_OPEN, fd);
                                if (new_group)
                                        legacy_group_remove(l, group);
                                return fd;
                        }
                        /* Best effort: mdevs have no request interrupt. */
                        d.req_fd = vfio_device_req_eventfd(fd);
                        if (d.req_fd < 0)
                                log_debug("Lease %s: %s: no request eventfd (%s)", l->id_string, name,
                                          strerror(-d.req_fd));
                }
                d.fd = TAKE_FD(fd);
                l->devices[l->n_devices++] = d;
                return 0;
        }

        if (l->iommufd < 0 || !cdev)
                return -EBADF;
        fd = iommufd_device_open(cdev);
        r = fd;
        if (fd >= 0 && l->mode == LEASE_MODE_BOUND) {
                step = IOMMUFD_STEP_BIND;
                r = iommufd_bind(fd, l->iommufd, &d.devid);
                if (r >= 0) {
                        step = IOMMUFD_STEP_ATTACH;
                        r = iommufd_attach(fd, l->ioas_id, &d.pt_id);
                }
        }
        if (r < 0) {
                /* Closing the fd unbinds it. */
                f->step = iommufd_step_to_string(step);
                f->reason = iommufd_error_reason(step, r);
                f->not_viable = step == IOMMUFD_STEP_BIND && (r == -EPERM || r == -EBUSY);
                return r;
        }
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

        /* Legacy: DMA goes through the container, cut as a whole. */
        if (d->fd < 0 || l->backend == LEASE_BACKEND_LEGACY)
                return false;
        r = iommufd_detach(d->fd);
        if (r < 0) {
                log_debug("Lease %s: no DMA to cut for %s (%s)", l->id_string, d->name, strerror(-r));
                return false;
        }
        return true;
}

void lease_remove_device(Lease *l, size_t index) {
        uint32_t group;

        if (index >= l->n_devices)
                return;
        group = l->devices[index].group;
        (void) cut_device(l, &l->devices[index]);
        device_close(&l->devices[index]);
        l->devices[index] = l->devices[--l->n_devices];
        if (l->backend == LEASE_BACKEND_LEGACY && !lease_has_group(l, group))
                legacy_group_remove(l, group);
}

void lease_handed_out(Lease *l) {
        if (l->backend != LEASE_BACKEND_LEGACY)
                return;
        for (size_t i = 0; i < l->n_devices; i++)
                l->devices[i].fd = safe_close(l->devices[i].fd);
}

const char *lease_device_gone(const Lease *l, const LeaseDevice *ld, const Device *d) {
        if (!d)
                return "was removed from the host";
        if (d->iommu_group != (int64_t) ld->group)
                return "left its IOMMU group";
        /* The kernel drops the driver link, then the cdev, then waits for
         * the device's files to close: from here both look the same. */
        if ((d->kind == DEVICE_PCI && !device_driver_is_vfio(d->driver)) ||
            (l->backend == LEASE_BACKEND_IOMMUFD && ld->cdev[0] &&
             (!d->vfio_cdev || strcmp(d->vfio_cdev, ld->cdev) != 0)))
                return "is being removed or unbound from its VFIO driver";
        return NULL;
}

int lease_add_moved(Lease *l, const LeaseMoved *moved, size_t n) {
        LeaseMoved *p;

        if (n == 0)
                return 0;
        p = realloc(l->moved, (l->n_moved + n) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        l->moved = p;
        memcpy(p + l->n_moved, moved, n * sizeof(*p));
        l->n_moved += n;
        return 0;
}

int lease_take_moved(Lease *l, uint32_t group, LeaseMoved **ret, size_t *ret_n) {
        LeaseMoved *out = NULL;
        size_t n = 0, k = 0;

        for (size_t i = 0; i < l->n_moved; i++)
                n += l->moved[i].group == group;
        if (n > 0) {
                out = calloc(n, sizeof(*out));
                if (!out)
                        return -ENOMEM;
                n = 0;
                for (size_t i = 0; i < l->n_moved; i++)
                        if (l->moved[i].group == group)
                                out[n++] = l->moved[i];
                        else
                                l->moved[k++] = l->moved[i];
                l->n_moved = k;
        }
        *ret = out;
        *ret_n = n;
        return 0;
}

bool lease_has_group_before(const Lease *l, size_t index) {
        for (size_t k = 0; k < index && k < l->n_devices; k++)
                if (l->devices[k].group == l->devices[index].group)
                        return true;
        return false;
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
        if (l->backend == LEASE_BACKEND_LEGACY && l->container >= 0 && l->iommu_set) {
                /* Every mapping of the container, so every device's DMA. */
                r = vfio_legacy_unmap_all(l->container);
                if (r < 0)
                        log_warning("Lease %s: cannot unmap its container: %s", l->id_string, strerror(-r));
                else
                        k = l->n_devices;
        }
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
        json_object_object_add(o, "vfioDevice", d->cdev[0] ? json_object_new_string(d->cdev) : NULL);
        if (l->backend == LEASE_BACKEND_IOMMUFD && l->mode == LEASE_MODE_BOUND) {
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
        json_object_object_add(o, "backend", json_object_new_string(lease_backend_to_string(l->backend)));
        json_object_object_add(o, "holder", process_to_json(&l->holder));
        json_object_object_add(o, "owner", process_to_json(&l->owner));
        json_object_object_add(o, "created", json_object_new_int64((int64_t) l->created_usec));
        if (l->backend == LEASE_BACKEND_IOMMUFD && l->mode == LEASE_MODE_BOUND)
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
        for (size_t i = 0; i < l->n_moved; i++) {
                json_object *c = json_object_object_get(o, "createdMdevs");

                if (!l->moved[i].mdev_created)
                        continue;
                if (!c) {
                        c = json_object_new_array();
                        json_object_object_add(o, "createdMdevs", c);
                }
                json_object_array_add(c, json_object_new_string(l->moved[i].name));
        }
        if (l->memlock)
                json_object_object_add(o, "memlock", json_object_new_int64((int64_t) l->memlock));
        if (l->release_reason) {
                json_object_object_add(o, "releaseReason", json_object_new_string(l->release_reason));
                json_object_object_add(o, "releaseDeadline", json_object_new_int64((int64_t) l->release_deadline_usec));
        }
        return o;
}
