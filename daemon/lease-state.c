/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lease-state.c - the state file's text: written from the leases, read
 * back strictly.  See lease-state.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lease-state.h"
#include "shared/macro.h"
#include "shared/pci-address.h"
#include "shared/uuid.h"

#define LEASES_MAX 65536
#define LEASE_DEVICES_MAX 256
#define REASON_MAX 1024
#define PID_MAX_LIMIT 4194304

static void json_putp(json_object **o) {
        json_object_put(*o);
}

/* ---- writing ---- */

static json_object *process_json(const ProcessInfo *p) {
        json_object *o = json_object_new_object();
        char comm[sizeof(p->comm)];

        /* A process names itself (prctl): any bytes.  The file keeps
         * printable ASCII, so it always reads back (it is for display). */
        for (size_t i = 0; i < sizeof(comm); i++)
                comm[i] = p->comm[i] == 0 ? 0 : p->comm[i] < 0x20 || p->comm[i] > 0x7e ? '?' : p->comm[i];
        comm[sizeof(comm) - 1] = 0;
        json_object_object_add(o, "pid", json_object_new_int64(p->pid));
        json_object_object_add(o, "uid", json_object_new_int64(p->uid));
        json_object_object_add(o, "command", json_object_new_string(comm));
        json_object_object_add(o, "startTime", json_object_new_uint64(p->start_time));
        return o;
}

static json_object *moved_json(const LeaseMoved *m, size_t n) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(m[i].name));
                json_object_object_add(o, "group", json_object_new_int64(m[i].group));
                json_object_object_add(o, "mdevCreated", json_object_new_boolean(m[i].mdev_created));
                json_object_array_add(a, o);
        }
        return a;
}

static json_object *lease_json(const Lease *l) {
        json_object *o = json_object_new_object(), *a;

        json_object_object_add(o, "id", json_object_new_string(l->id_string));
        json_object_object_add(o, "mode", json_object_new_string(lease_mode_to_string(l->mode)));
        json_object_object_add(o, "backend", json_object_new_string(lease_backend_to_string(l->backend)));
        json_object_object_add(o, "holder", process_json(&l->holder));
        json_object_object_add(o, "owner", process_json(&l->owner));
        json_object_object_add(o, "created", json_object_new_uint64(l->created_usec));
        json_object_object_add(o, "memlock", json_object_new_uint64(l->memlock));
        json_object_object_add(o, "ioasId", json_object_new_int64(l->ioas_id));
        json_object_object_add(o, "iommuSet", json_object_new_boolean(l->iommu_set));
        a = json_object_new_array();
        for (size_t i = 0; i < l->n_groups; i++) {
                json_object *g = json_object_new_object();
                json_object_object_add(g, "id", json_object_new_int64(l->groups[i].id));
                json_object_object_add(g, "acl", json_object_new_boolean(l->groups[i].acl));
                json_object_array_add(a, g);
        }
        json_object_object_add(o, "groups", a);
        a = json_object_new_array();
        for (size_t i = 0; i < l->n_devices; i++) {
                const LeaseDevice *d = &l->devices[i];
                json_object *j = json_object_new_object();
                json_object_object_add(j, "name", json_object_new_string(d->name));
                json_object_object_add(j, "group", json_object_new_int64(d->group));
                json_object_object_add(j, "cdev", json_object_new_string(d->cdev));
                json_object_object_add(j, "devid", json_object_new_int64(d->devid));
                json_object_object_add(j, "ptId", json_object_new_int64(d->pt_id));
                json_object_array_add(a, j);
        }
        json_object_object_add(o, "devices", a);
        json_object_object_add(o, "moved", moved_json(l->moved, l->n_moved));
        json_object_object_add(o, "releaseReason",
                               l->release_reason ? json_object_new_string(l->release_reason) : NULL);
        json_object_object_add(o, "releaseDeadline", json_object_new_uint64(l->release_deadline_usec));
        return o;
}

static json_object *releasing_json(const StateReleasing *r) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();

        json_object_object_add(o, "group", json_object_new_int64(r->group));
        json_object_object_add(o, "lease", json_object_new_string(r->lease));
        json_object_object_add(o, "holder", process_json(&r->holder));
        json_object_object_add(o, "backend", json_object_new_string(lease_backend_to_string(r->backend)));
        for (size_t i = 0; i < r->n_cdevs; i++)
                json_object_array_add(a, json_object_new_string(r->cdevs[i]));
        json_object_object_add(o, "cdevs", a);
        json_object_object_add(o, "restore", moved_json(r->restore, r->n_restore));
        return o;
}

char *lease_state_format(const char *boot_id, Lease *const *leases, size_t n, const StateReleasing *rel,
                         size_t n_rel) {
        _cleanup_(json_putp) json_object *o = json_object_new_object();
        json_object *a;
        const char *text;
        char *ret;

        if (!o)
                return NULL;
        json_object_object_add(o, "version", json_object_new_int(LEASE_STATE_VERSION));
        json_object_object_add(o, "bootId", json_object_new_string(boot_id));
        a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, lease_json(leases[i]));
        json_object_object_add(o, "leases", a);
        a = json_object_new_array();
        for (size_t i = 0; i < n_rel; i++)
                json_object_array_add(a, releasing_json(&rel[i]));
        json_object_object_add(o, "releasing", a);
        /* json-c leaves out what it could not allocate; a file missing a
         * lease would be worse than no file: check the text has them. */
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || json_object_array_length(json_object_object_get(o, "leases")) != n ||
            json_object_array_length(json_object_object_get(o, "releasing")) != n_rel)
                return NULL;
        if (asprintf(&ret, "%s\n", text) < 0)
                return NULL;
        return ret;
}

/* ---- reading ---- */

typedef struct Parser {
        char *error;
        size_t error_size;
} Parser;

_printf_(3, 4) static int bad(Parser *p, const char *path, const char *fmt, ...) {
        char msg[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (p->error && p->error_size)
                snprintf(p->error, p->error_size, "%s%s%s", path, path[0] ? ": " : "", msg);
        return -EINVAL;
}

/* @o has exactly the keys of @keys (NULL-terminated), @required first
 * ones of which must be there. */
static int check_keys(Parser *p, const char *path, json_object *o, const char *const *keys, size_t required) {
        if (!json_object_is_type(o, json_type_object))
                return bad(p, path, "not an object");
        json_object_object_foreach(o, key, val) {
                bool known = false;
                (void) val;
                for (size_t i = 0; keys[i]; i++)
                        known = known || strcmp(keys[i], key) == 0;
                if (!known)
                        return bad(p, path, "unknown key \"%.64s\"", key);
        }
        for (size_t i = 0; i < required; i++)
                if (!json_object_object_get_ex(o, keys[i], NULL))
                        return bad(p, path, "\"%s\" is missing", keys[i]);
        return 0;
}

static int get_uint(Parser *p, const char *path, json_object *o, const char *key, uint64_t max, uint64_t *ret) {
        json_object *v;
        char sub[192];
        int64_t i;

        snprintf(sub, sizeof(sub), "%s.%s", path, key);
        if (!json_object_object_get_ex(o, key, &v))
                return bad(p, sub, "missing");
        if (!json_object_is_type(v, json_type_int))
                return bad(p, sub, "not an integer");
        /* json-c keeps integers above INT64_MAX as unsigned. */
        if (json_object_get_uint64(v) > (uint64_t) INT64_MAX) {
                if (max < UINT64_MAX)
                        return bad(p, sub, "out of range");
                *ret = json_object_get_uint64(v);
                return 0;
        }
        i = json_object_get_int64(v);
        if (i < 0 || (uint64_t) i > max)
                return bad(p, sub, "out of range");
        *ret = (uint64_t) i;
        return 0;
}

static int get_bool(Parser *p, const char *path, json_object *o, const char *key, bool *ret) {
        json_object *v;
        char sub[192];

        snprintf(sub, sizeof(sub), "%s.%s", path, key);
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
                return bad(p, sub, "not a boolean");
        *ret = json_object_get_boolean(v);
        return 0;
}

/* A string of at most @max bytes, no NUL and (unless @control) no
 * control characters. */
static int get_text(Parser *p, const char *path, json_object *o, const char *key, size_t max, bool control,
                    const char **ret) {
        json_object *v;
        const char *s;
        char sub[192];
        size_t len;

        snprintf(sub, sizeof(sub), "%s.%s", path, key);
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return bad(p, sub, "not a string");
        s = json_object_get_string(v);
        len = (size_t) json_object_get_string_len(v);
        if (len > max || strlen(s) != len)
                return bad(p, sub, "too long, or holds a NUL");
        for (size_t i = 0; i < len && !control; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return bad(p, sub, "holds a control character");
        *ret = s;
        return 0;
}

static int get_string(Parser *p, const char *path, json_object *o, const char *key, size_t max, const char **ret) {
        return get_text(p, path, o, key, max, false, ret);
}

static int get_array(Parser *p, const char *path, json_object *o, const char *key, size_t max, json_object **ret) {
        json_object *v;
        char sub[192];

        snprintf(sub, sizeof(sub), "%s.%s", path, key);
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return bad(p, sub, "not an array");
        if (json_object_array_length(v) > max)
                return bad(p, sub, "more than %zu entries", max);
        *ret = v;
        return 0;
}

/* A device as iommud names one: a canonical PCI address or mdev UUID. */
static int get_device_name(Parser *p, const char *path, json_object *o, const char *key,
                           char ret[static UUID_STRING_MAX]) {
        char canon[UUID_STRING_MAX], sub[192];
        const char *s;
        int r = get_string(p, path, o, key, UUID_STRING_MAX - 1, &s);

        if (r < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.%s", path, key);
        if (!((pci_address_canonicalize(s, canon) >= 0 || uuid_canonicalize(s, canon) >= 0) && strcmp(canon, s) == 0))
                return bad(p, sub, "not a canonical PCI address or mdev UUID");
        memcpy(ret, canon, UUID_STRING_MAX);
        return 0;
}

/* "" or "vfio" and digits: a VFIO device cdev's name. */
static bool cdev_name_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0)
                return true;
        if (n < 5 || n > 15 || strncmp(s, "vfio", 4) != 0)
                return false;
        for (size_t i = 4; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

static int get_cdev(Parser *p, const char *path, json_object *o, const char *key, char ret[static 16]) {
        const char *s;
        char sub[192];
        int r = get_string(p, path, o, key, 15, &s);

        if (r < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.%s", path, key);
        if (!cdev_name_valid(s))
                return bad(p, sub, "not a VFIO device cdev name");
        snprintf(ret, 16, "%s", s);
        return 0;
}

static int get_group(Parser *p, const char *path, json_object *o, const char *key, uint32_t *ret) {
        uint64_t v;
        int r = get_uint(p, path, o, key, INT32_MAX, &v);

        if (r >= 0)
                *ret = (uint32_t) v;
        return r;
}

static int parse_process(Parser *p, const char *path, json_object *o, ProcessInfo *ret) {
        static const char *const keys[] = { "pid", "uid", "command", "startTime", NULL };
        uint64_t pid, uid;
        const char *comm;
        int r;

        if ((r = check_keys(p, path, o, keys, 4)) < 0 || (r = get_uint(p, path, o, "pid", PID_MAX_LIMIT, &pid)) < 0 ||
            (r = get_uint(p, path, o, "uid", UINT32_MAX - 1, &uid)) < 0 ||
            (r = get_string(p, path, o, "command", 16, &comm)) < 0 ||
            (r = get_uint(p, path, o, "startTime", UINT64_MAX, &ret->start_time)) < 0)
                return r;
        ret->pid = (pid_t) pid;
        ret->uid = (uid_t) uid;
        snprintf(ret->comm, sizeof(ret->comm), "%s", comm);
        return 0;
}

static int parse_moved(Parser *p, const char *path, json_object *a, LeaseMoved **ret, size_t *ret_n) {
        static const char *const keys[] = { "name", "group", "mdevCreated", NULL };
        size_t n = json_object_array_length(a);
        _cleanup_free_ LeaseMoved *m = calloc(n + 1, sizeof(*m));
        char sub[160];
        int r;

        if (!m)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(a, i);
                snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                if ((r = check_keys(p, sub, o, keys, 3)) < 0 || (r = get_device_name(p, sub, o, "name", m[i].name)) < 0 ||
                    (r = get_group(p, sub, o, "group", &m[i].group)) < 0 ||
                    (r = get_bool(p, sub, o, "mdevCreated", &m[i].mdev_created)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(m);
        *ret_n = n;
        return 0;
}

static int parse_backend(Parser *p, const char *path, json_object *o, LeaseBackend *ret) {
        const char *s;
        char sub[192];
        int r = get_string(p, path, o, "backend", 16, &s);

        if (r < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.backend", path);
        if (strcmp(s, lease_backend_to_string(LEASE_BACKEND_IOMMUFD)) == 0)
                *ret = LEASE_BACKEND_IOMMUFD;
        else if (strcmp(s, lease_backend_to_string(LEASE_BACKEND_LEGACY)) == 0)
                *ret = LEASE_BACKEND_LEGACY;
        else
                return bad(p, sub, "not a backend");
        return 0;
}

static int parse_lease(Parser *p, const char *path, json_object *o, Lease **ret) {
        static const char *const keys[] = { "id", "mode", "backend", "holder", "owner", "created", "memlock",
                                            "ioasId", "iommuSet", "groups", "devices", "moved",
                                            "releaseReason", "releaseDeadline", NULL };
        _cleanup_(lease_freep) Lease *l = NULL;
        LeaseBackend backend;
        LeaseMode mode = _LEASE_MODE_MAX;
        json_object *a, *v;
        const char *s;
        uint64_t id, u;
        char sub[160];
        int r;

        if ((r = check_keys(p, path, o, keys, 14)) < 0 || (r = get_string(p, path, o, "id", 16, &s)) < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.id", path);
        if (lease_id_from_string(s, &id) < 0)
                return bad(p, sub, "not a lease id");
        if ((r = parse_backend(p, path, o, &backend)) < 0 || (r = get_string(p, path, o, "mode", 16, &s)) < 0)
                return r;
        for (LeaseMode k = 0; k < _LEASE_MODE_MAX; k++)
                if (strcmp(s, lease_mode_to_string(k)) == 0)
                        mode = k;
        snprintf(sub, sizeof(sub), "%s.mode", path);
        if (mode == _LEASE_MODE_MAX || !lease_mode_valid(backend, mode))
                return bad(p, sub, "not a mode of the %s backend", lease_backend_to_string(backend));
        r = lease_new_with_id(backend, mode, id, &l);
        if (r < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.holder", path);
        if ((r = parse_process(p, sub, json_object_object_get(o, "holder"), &l->holder)) < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.owner", path);
        if ((r = parse_process(p, sub, json_object_object_get(o, "owner"), &l->owner)) < 0 ||
            (r = get_uint(p, path, o, "created", UINT64_MAX, &l->created_usec)) < 0 ||
            (r = get_uint(p, path, o, "memlock", UINT64_MAX, &l->memlock)) < 0 ||
            (r = get_uint(p, path, o, "ioasId", UINT32_MAX, &u)) < 0 ||
            (r = get_bool(p, path, o, "iommuSet", &l->iommu_set)) < 0 ||
            (r = get_uint(p, path, o, "releaseDeadline", UINT64_MAX, &l->release_deadline_usec)) < 0)
                return r;
        l->ioas_id = (uint32_t) u;

        v = json_object_object_get(o, "releaseReason");
        if (v) {
                /* A caller's words, UTF-8 (both faces check), new lines and all. */
                if ((r = get_text(p, path, o, "releaseReason", REASON_MAX, true, &s)) < 0)
                        return r;
                l->release_reason = strdup(s);
                if (!l->release_reason)
                        return -ENOMEM;
        } else if (l->release_deadline_usec != 0) {
                snprintf(sub, sizeof(sub), "%s.releaseDeadline", path);
                return bad(p, sub, "set without a releaseReason");
        }

        if ((r = get_array(p, path, o, "groups", LEASE_DEVICES_MAX, &a)) < 0)
                return r;
        l->n_groups = json_object_array_length(a);
        l->groups = calloc(l->n_groups + 1, sizeof(*l->groups));
        if (!l->groups)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_groups; i++) {
                static const char *const gkeys[] = { "id", "acl", NULL };
                json_object *g = json_object_array_get_idx(a, i);

                l->groups[i].fd = -EBADF;
                snprintf(sub, sizeof(sub), "%s.groups[%zu]", path, i);
                if ((r = check_keys(p, sub, g, gkeys, 2)) < 0 || (r = get_group(p, sub, g, "id", &l->groups[i].id)) < 0 ||
                    (r = get_bool(p, sub, g, "acl", &l->groups[i].acl)) < 0)
                        return r;
                if (backend != LEASE_BACKEND_LEGACY)
                        return bad(p, sub, "an iommufd lease has no group records");
                if (l->groups[i].acl != (mode == LEASE_MODE_ACCESS))
                        return bad(p, sub, "acl does not match the lease's mode");
                for (size_t k = 0; k < i; k++)
                        if (l->groups[k].id == l->groups[i].id)
                                return bad(p, sub, "group %u is listed twice", l->groups[i].id);
        }

        if ((r = get_array(p, path, o, "devices", LEASE_DEVICES_MAX, &a)) < 0)
                return r;
        l->n_devices = json_object_array_length(a);
        l->devices = calloc(l->n_devices + 1, sizeof(*l->devices));
        if (!l->devices)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_devices; i++) {
                static const char *const dkeys[] = { "name", "group", "cdev", "devid", "ptId", NULL };
                json_object *j = json_object_array_get_idx(a, i);
                LeaseDevice *d = &l->devices[i];
                uint64_t devid, pt;
                bool in_groups = false;

                d->fd = d->req_fd = -EBADF;
                snprintf(sub, sizeof(sub), "%s.devices[%zu]", path, i);
                if ((r = check_keys(p, sub, j, dkeys, 5)) < 0 || (r = get_device_name(p, sub, j, "name", d->name)) < 0 ||
                    (r = get_group(p, sub, j, "group", &d->group)) < 0 || (r = get_cdev(p, sub, j, "cdev", d->cdev)) < 0 ||
                    (r = get_uint(p, sub, j, "devid", UINT32_MAX, &devid)) < 0 ||
                    (r = get_uint(p, sub, j, "ptId", UINT32_MAX, &pt)) < 0)
                        return r;
                d->devid = (uint32_t) devid;
                d->pt_id = (uint32_t) pt;
                for (size_t k = 0; k < i; k++)
                        if (strcmp(l->devices[k].name, d->name) == 0)
                                return bad(p, sub, "%s is listed twice", d->name);
                if (backend == LEASE_BACKEND_IOMMUFD && !d->cdev[0])
                        return bad(p, sub, "an iommufd lease's device has no cdev");
                for (size_t k = 0; k < l->n_groups; k++)
                        in_groups = in_groups || l->groups[k].id == d->group;
                if (backend == LEASE_BACKEND_LEGACY && !in_groups)
                        return bad(p, sub, "its group %u is not in the lease's groups", d->group);
        }
        for (size_t k = 0; k < l->n_groups; k++)
                if (!lease_has_group(l, l->groups[k].id)) {
                        snprintf(sub, sizeof(sub), "%s.groups[%zu]", path, k);
                        return bad(p, sub, "group %u has no device of the lease", l->groups[k].id);
                }

        if ((r = get_array(p, path, o, "moved", LEASE_DEVICES_MAX, &a)) < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.moved", path);
        if ((r = parse_moved(p, sub, a, &l->moved, &l->n_moved)) < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static int parse_releasing(Parser *p, const char *path, json_object *o, StateReleasing *ret) {
        static const char *const keys[] = { "group", "lease", "holder", "backend", "cdevs", "restore", NULL };
        json_object *a;
        const char *s;
        char sub[160];
        uint64_t id;
        int r;

        if ((r = check_keys(p, path, o, keys, 6)) < 0 || (r = get_group(p, path, o, "group", &ret->group)) < 0 ||
            (r = get_string(p, path, o, "lease", 16, &s)) < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.lease", path);
        /* "": a group iommud found held at a start, of no lease it knew. */
        if (s[0] && lease_id_from_string(s, &id) < 0)
                return bad(p, sub, "not a lease id");
        snprintf(ret->lease, sizeof(ret->lease), "%s", s);
        snprintf(sub, sizeof(sub), "%s.holder", path);
        if ((r = parse_process(p, sub, json_object_object_get(o, "holder"), &ret->holder)) < 0 ||
            (r = parse_backend(p, path, o, &ret->backend)) < 0 ||
            (r = get_array(p, path, o, "cdevs", LEASE_DEVICES_MAX, &a)) < 0)
                return r;
        ret->n_cdevs = json_object_array_length(a);
        ret->cdevs = calloc(ret->n_cdevs + 1, sizeof(*ret->cdevs));
        if (!ret->cdevs)
                return -ENOMEM;
        for (size_t i = 0; i < ret->n_cdevs; i++) {
                json_object *c = json_object_array_get_idx(a, i);
                const char *name = json_object_get_string(c);

                snprintf(sub, sizeof(sub), "%s.cdevs[%zu]", path, i);
                if (!json_object_is_type(c, json_type_string) || !name[0] ||
                    (size_t) json_object_get_string_len(c) != strlen(name) || !cdev_name_valid(name))
                        return bad(p, sub, "not a VFIO device cdev name");
                snprintf(ret->cdevs[i], 16, "%s", name);
        }
        if ((r = get_array(p, path, o, "restore", LEASE_DEVICES_MAX, &a)) < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.restore", path);
        return parse_moved(p, sub, a, &ret->restore, &ret->n_restore);
}

/* No IOMMU group in two records: the file must never make iommud think
 * a group is two leases' (or free and someone's). */
static int check_groups_once(Parser *p, const LeaseState *s) {
        for (size_t i = 0; i < s->n_leases; i++)
                for (size_t d = 0; d < s->leases[i]->n_devices; d++) {
                        uint32_t g = s->leases[i]->devices[d].group;
                        for (size_t k = i + 1; k < s->n_leases; k++)
                                if (lease_has_group(s->leases[k], g))
                                        return bad(p, "", "IOMMU group %u is in leases %s and %s", g,
                                                   s->leases[i]->id_string, s->leases[k]->id_string);
                        for (size_t k = 0; k < s->n_releasing; k++)
                                if (s->releasing[k].group == g)
                                        return bad(p, "", "IOMMU group %u is in lease %s and releasing", g,
                                                   s->leases[i]->id_string);
                }
        for (size_t i = 0; i < s->n_leases; i++)
                for (size_t k = i + 1; k < s->n_leases; k++)
                        if (s->leases[i]->id == s->leases[k]->id)
                                return bad(p, "", "lease %s is there twice", s->leases[i]->id_string);
        for (size_t i = 0; i < s->n_releasing; i++)
                for (size_t k = i + 1; k < s->n_releasing; k++)
                        if (s->releasing[i].group == s->releasing[k].group)
                                return bad(p, "", "IOMMU group %u is releasing twice", s->releasing[i].group);
        return 0;
}

int lease_state_parse(const char *text, size_t size, LeaseState *ret, char *error, size_t error_size) {
        static const char *const keys[] = { "version", "bootId", "leases", "releasing", NULL };
        _cleanup_(json_putp) json_object *o = NULL;
        LeaseState s = { 0 };
        Parser p = { error, error_size };
        json_object *a;
        json_tokener *tok;
        const char *boot;
        char canon[UUID_STRING_MAX], sub[64];
        uint64_t version;
        bool ok;
        int r;

        if (error_size)
                error[0] = 0;
        if (size == 0)
                return bad(&p, "", "the file is empty");
        if (size > LEASE_STATE_MAX_BYTES || memchr(text, 0, size))
                return bad(&p, "", "too large, or holds a NUL byte");
        tok = json_tokener_new_ex(8);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, text, (int) size);
        ok = json_tokener_get_error(tok) == json_tokener_success && o;
        if (!ok) {
                enum json_tokener_error e = json_tokener_get_error(tok);
                json_tokener_free(tok);
                return bad(&p, "", "not JSON: %s", e == json_tokener_continue ? "it ends too early"
                                                                              : json_tokener_error_desc(e));
        }
        for (size_t i = json_tokener_get_parse_end(tok); ok && i < size; i++)
                ok = text[i] == ' ' || text[i] == '\t' || text[i] == '\n';
        json_tokener_free(tok);
        if (!ok)
                return bad(&p, "", "something follows the JSON object");
        if ((r = check_keys(&p, "", o, keys, 4)) < 0 || (r = get_uint(&p, "", o, "version", 1000, &version)) < 0)
                return r;
        if (version != LEASE_STATE_VERSION)
                return bad(&p, "version", "%" PRIu64 ", not %d", version, LEASE_STATE_VERSION);
        if ((r = get_string(&p, "", o, "bootId", 36, &boot)) < 0)
                return r;
        if (boot[0] && uuid_canonicalize(boot, canon) < 0)
                return bad(&p, "bootId", "not a boot id");
        snprintf(s.boot_id, sizeof(s.boot_id), "%s", boot[0] ? canon : "");

        if ((r = get_array(&p, "", o, "leases", LEASES_MAX, &a)) < 0)
                goto fail;
        s.leases = calloc(json_object_array_length(a) + 1, sizeof(*s.leases));
        if (!s.leases) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                snprintf(sub, sizeof(sub), "leases[%zu]", i);
                r = parse_lease(&p, sub, json_object_array_get_idx(a, i), &s.leases[s.n_leases]);
                if (r < 0)
                        goto fail;
                s.n_leases++;
        }
        if ((r = get_array(&p, "", o, "releasing", LEASES_MAX, &a)) < 0)
                goto fail;
        s.releasing = calloc(json_object_array_length(a) + 1, sizeof(*s.releasing));
        if (!s.releasing) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                snprintf(sub, sizeof(sub), "releasing[%zu]", i);
                r = parse_releasing(&p, sub, json_object_array_get_idx(a, i), &s.releasing[s.n_releasing]);
                s.n_releasing++;        /* freed with the rest on failure */
                if (r < 0)
                        goto fail;
        }
        r = check_groups_once(&p, &s);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        lease_state_done(&s);
        return r;
}

void state_releasing_done(StateReleasing *r) {
        free(r->cdevs);
        free(r->restore);
        r->cdevs = NULL;
        r->restore = NULL;
        r->n_cdevs = r->n_restore = 0;
}

void lease_state_forget_acls(Lease *l) {
        for (size_t i = 0; l && i < l->n_groups; i++)
                l->groups[i].acl = false;
}

void lease_state_done(LeaseState *s) {
        for (size_t i = 0; i < s->n_leases; i++) {
                /* Records, not leases: freeing them revokes nothing. */
                lease_state_forget_acls(s->leases[i]);
                lease_free(s->leases[i]);
        }
        for (size_t i = 0; i < s->n_releasing; i++)
                state_releasing_done(&s->releasing[i]);
        free(s->leases);
        free(s->releasing);
        *s = (LeaseState) { 0 };
}

/* ---- the fd store's names ---- */

static const char *const fd_kinds[_LEASE_FD_KIND_MAX] = {
        [LEASE_FD_HOLDER] = "holder",   [LEASE_FD_IOMMUFD] = "iommufd", [LEASE_FD_CONTAINER] = "container",
        [LEASE_FD_GROUP] = "group",     [LEASE_FD_DEVICE] = "dev",      [LEASE_FD_REQUEST] = "req",
};

void lease_state_fd_name(char buf[static LEASE_FD_NAME_MAX], const char *id, LeaseFdKind kind, const char *detail) {
        snprintf(buf, LEASE_FD_NAME_MAX, "L%.16s.%s%s%.40s", id, fd_kinds[kind], detail ? "." : "",
                 detail ? detail : "");
        for (char *c = buf; *c; c++)
                if (*c == ':')
                        *c = '_';
}

int lease_state_fd_name_lease(const char *name, char id[static LEASE_ID_STRING_MAX]) {
        uint64_t v;

        if (!name || name[0] != 'L' || strlen(name) < 18 || name[17] != '.')
                return -EINVAL;
        memcpy(id, name + 1, 16);
        id[16] = 0;
        return lease_id_from_string(id, &v) < 0 ? -EINVAL : 0;
}
