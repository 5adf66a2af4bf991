/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager.h"
#include "mdev.h"
#include "process.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/uuid.h"
#include "sriov.h"
#include "varlink-manager.h"

#define IFACE "org.iommud.Manager"

static int reply_with(VarlinkCall *c, const char *key, json_object *v) {
        json_object *o;

        if (!v)
                return -ENOMEM;
        o = json_object_new_object();
        if (!o) {
                json_object_put(v);
                return -ENOMEM;
        }
        json_object_object_add(o, key, v);
        return varlink_call_reply(c, o);
}

/* With 10,000 devices the reply is megabytes: it is assembled from each
 * device's cached JSON text rather than built and serialized anew. */
static int method_list_devices(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        Registry *reg = manager_get_registry(m);
        _cleanup_free_ const Device **list = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t n, len = 0, alloc = 4096;
        int r;

        r = registry_list_devices(reg, &list, &n);
        if (r < 0)
                return r;
        buf = malloc(alloc);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, "{\"devices\":[", 12);
        len = 12;
        for (size_t i = 0; i < n; i++) {
                const char *t = registry_device_json_text(reg, list[i]);
                size_t k;

                if (!t)
                        return -ENOMEM;
                k = strlen(t);
                if (len + k + 4 > alloc) {
                        char *nb;
                        while (len + k + 4 > alloc)
                                alloc *= 2;
                        nb = realloc(buf, alloc);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                if (i > 0)
                        buf[len++] = ',';
                memcpy(buf + len, t, k);
                len += k;
        }
        memcpy(buf + len, "]}", 3);
        return varlink_call_reply_text(c, buf);
}

static int method_get_device(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        Registry *reg = manager_get_registry(m);
        char name[UUID_STRING_MAX];
        const Device *d;
        const char *s;
        int r;

        r = varlink_json_get_string(params, "name", true, 64, &s);
        if (r < 0 || device_name_canonicalize(s, name) < 0)
                return varlink_call_reply_invalid_parameter(c, "name");
        d = registry_get_device(reg, name);
        if (!d) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "name", json_object_new_string(name));
                return varlink_call_reply_error(c, IFACE ".NoSuchDevice", e);
        }
        return reply_with(c, "device", registry_device_to_json(reg, d));
}

static int method_list_groups(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ const Group **list = NULL;
        json_object *a;
        size_t n;
        int r;

        r = registry_list_groups(manager_get_registry(m), &list, &n);
        if (r < 0)
                return r;
        a = json_object_new_array_ext((int) n);
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, manager_group_to_json(m, list[i]));
        return reply_with(c, "groups", a);
}

static int method_get_group(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        const Group *g;
        uint32_t id;
        int r;

        r = varlink_json_get_uint32(params, "id", true, &id);
        if (r < 0)
                return varlink_call_reply_invalid_parameter(c, "id");
        g = registry_get_group(manager_get_registry(m), id);
        if (!g) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "id", json_object_new_int64(id));
                return varlink_call_reply_error(c, IFACE ".NoSuchGroup", e);
        }
        return reply_with(c, "group", manager_group_to_json(m, g));
}

static int method_list_mdev_types(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        json_object *a = NULL;
        int r;

        r = mdev_list_types(manager_get_sysfs(m), &a);
        if (r < 0)
                return r;
        return reply_with(c, "parents", a);
}

static int method_get_status(VarlinkCall *c, json_object *params, void *userdata) {
        json_object *o = manager_status(userdata);
        return o ? varlink_call_reply(c, o) : -ENOMEM;
}

/* Monitor: one subscription per call, ended by the client going away. */
typedef struct MonitorSub {
        Manager *manager;
        VarlinkCall *call;
        ManagerWatch *watch;
} MonitorSub;

static void monitor_event(Manager *m, const char *event, json_object *device, json_object *group, json_object *lease,
                          void *userdata) {
        MonitorSub *sub = userdata;
        json_object *o = json_object_new_object();

        if (!o)
                return;
        json_object_object_add(o, "event", json_object_new_string(event));
        if (device)
                json_object_object_add(o, "device", json_object_get(device));
        if (group)
                json_object_object_add(o, "group", json_object_get(group));
        if (lease)
                json_object_object_add(o, "lease", json_object_get(lease));
        (void) varlink_call_notify(sub->call, o);
}

static void monitor_cancel(VarlinkCall *c, void *userdata) {
        MonitorSub *sub = userdata;
        manager_unwatch(sub->manager, sub->watch);
        varlink_call_unref(sub->call);
        free(sub);
}

static int method_monitor(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        MonitorSub *sub;
        json_object *o;
        int r;

        if (!varlink_call_wants_more(c))
                return varlink_call_reply_error(c, "org.varlink.service.ExpectedMore", NULL);
        sub = calloc(1, sizeof(*sub));
        if (!sub)
                return -ENOMEM;
        r = manager_watch(m, monitor_event, sub, &sub->watch);
        if (r < 0) {
                free(sub);
                return r;
        }
        sub->manager = m;
        sub->call = varlink_call_ref(c);
        varlink_call_set_cancel_callback(c, monitor_cancel, sub);
        o = json_object_new_object();
        json_object_object_add(o, "event", json_object_new_string("subscribed"));
        return varlink_call_notify(c, o);
}

static int method_get_policy(VarlinkCall *c, json_object *params, void *userdata) {
        json_object *o = manager_policy(userdata);
        return o ? varlink_call_reply(c, o) : -ENOMEM;
}

/* ---- Prepare and Restore ---- */

/* The one table from the manager's errors to the IDL's: each error's
 * parameters, from ManagerError. */
static int reply_manager_error(VarlinkCall *c, const ManagerError *e) {
        json_object *o = json_object_new_object();
        char name[128];

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "message", json_object_new_string(e->message));
        if (e->device[0])
                json_object_object_add(o, "device", json_object_new_string(e->device));
        if (e->group >= 0)
                json_object_object_add(o, "group", json_object_new_int64(e->group));
        if (strcmp(e->name, "RebindFailed") == 0 || strcmp(e->name, "DeviceInUse") == 0 ||
            strcmp(e->name, "SriovFailed") == 0) {
                json_object_object_add(o, "rolledBack", json_object_new_boolean(e->rolled_back));
                if (e->rollback_message[0])
                        json_object_object_add(o, "rollbackMessage", json_object_new_string(e->rollback_message));
        }
        if (strcmp(e->name, "NoSuchDevice") == 0)
                json_object_object_add(o, "name", json_object_new_string(e->device));
        if (strcmp(e->name, "BindFailed") == 0) {
                json_object_object_add(o, "rolledBack", json_object_new_boolean(e->rolled_back));
                if (e->rollback_message[0])
                        json_object_object_add(o, "rollbackMessage", json_object_new_string(e->rollback_message));
        }
        if (e->step[0])
                json_object_object_add(o, "step", json_object_new_string(e->step));
        if (e->errno_value)
                json_object_object_add(o, "errno", json_object_new_int64(e->errno_value));
        if (strcmp(e->name, "GroupBusy") == 0 || strcmp(e->name, "NoSuchLease") == 0)
                json_object_object_add(o, "lease", json_object_new_string(e->lease));
        if (strcmp(e->name, "GroupBusy") == 0) {
                json_object_object_add(o, "state", json_object_new_string(e->state));
                if (e->pid > 0) {
                        json_object_object_add(o, "holderUid", json_object_new_int64(e->uid));
                        json_object_object_add(o, "holderPid", json_object_new_int64(e->pid));
                        json_object_object_add(o, "holderCommand", json_object_new_string(e->command));
                }
        }
        if (strcmp(e->name, "DeviceInUse") == 0) {
                json_object_object_add(o, "pid", json_object_new_int64(e->pid));
                json_object_object_add(o, "command", json_object_new_string(e->command));
                json_object_object_add(o, "node", json_object_new_string(e->node));
        }
        snprintf(name, sizeof(name), IFACE ".%s", e->name);
        return varlink_call_reply_error(c, name, o);
}

static void rebind_done(Manager *m, const ManagerError *err, json_object *result, void *userdata) {
        VarlinkCall *c = userdata;

        /* The work is done whether or not the client is still there to
         * hear it; replying to a gone client fails harmlessly. */
        if (err)
                (void) reply_manager_error(c, err);
        else
                (void) varlink_call_reply(c, json_object_get(result));
        varlink_call_unref(c);
}

/* A "devices" list of at most @max names: 1 when present and valid (names
 * canonical in @names), 0 when absent or null, -EINVAL when malformed. */
static int get_device_names(json_object *params, size_t max, char names[][UUID_STRING_MAX], const char **ptrs,
                            size_t *ret_n) {
        json_object *devices = NULL;
        size_t n;

        if (!json_object_object_get_ex(params, "devices", &devices) || !devices)
                return 0;
        if (!json_object_is_type(devices, json_type_array) || json_object_array_length(devices) == 0 ||
            json_object_array_length(devices) > max)
                return -EINVAL;
        n = json_object_array_length(devices);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(devices, i);
                const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;

                /* No NUL inside, not over-long, a PCI address or a UUID. */
                if (!s || (size_t) json_object_get_string_len(e) != strlen(s) || strlen(s) > 64 ||
                    device_name_canonicalize(s, names[i]) < 0)
                        return -EINVAL;
                ptrs[i] = names[i];
        }
        *ret_n = n;
        return 1;
}

/* Claim's and AddDevices' "mdevs": [{parent, type, uuid?}], at most
 * @max; the strings point into @params, @uuids holds the canonical UUIDs.
 * 0 when absent, 1, or -EINVAL. */
static int get_mdev_specs(json_object *params, size_t max, ManagerMdevSpec *specs, char uuids[][UUID_STRING_MAX],
                          size_t *ret_n) {
        json_object *a = NULL;
        size_t n;

        if (!json_object_object_get_ex(params, "mdevs", &a) || !a) {
                *ret_n = 0;
                return 0;
        }
        if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) > max)
                return -EINVAL;
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                const char *uuid = NULL;
                int r;

                if (!json_object_is_type(e, json_type_object) ||
                    varlink_json_get_string(e, "parent", true, 127, &specs[i].parent) < 0 ||
                    varlink_json_get_string(e, "type", true, 127, &specs[i].type) < 0)
                        return -EINVAL;
                r = varlink_json_get_string(e, "uuid", false, 64, &uuid);
                if (r < 0 || (uuid && uuid_canonicalize(uuid, uuids[i]) < 0))
                        return -EINVAL;
                specs[i].uuid = uuid ? uuids[i] : NULL;
        }
        *ret_n = n;
        return n > 0;
}

/* The peer, with a pidfd the caller closes (-1 when there is none:
 * polkit then relies on pid and start time alone). */
static int get_caller(VarlinkCall *c, ManagerCaller *ret) {
        struct ucred cred;
        int r = varlink_call_get_peer_creds(c, &cred);

        if (r < 0)
                return r;
        *ret = (ManagerCaller) { .uid = cred.uid, .pid = cred.pid, .pidfd = varlink_call_get_peer_pidfd(c) };
        if (ret->pidfd < 0)
                ret->pidfd = -EBADF;
        return 0;
}

static void caller_done(ManagerCaller *caller) {
        caller->pidfd = safe_close(caller->pidfd);
}

static int method_rebind(VarlinkCall *c, json_object *params, Manager *m, bool restore) {
        char names[MANAGER_REBIND_DEVICES_MAX][UUID_STRING_MAX];
        const char *ptrs[MANAGER_REBIND_DEVICES_MAX];
        ManagerCaller caller;
        int64_t group = -1;
        size_t n = 0;
        int r;

        if (get_device_names(params, MANAGER_REBIND_DEVICES_MAX, names, ptrs, &n) < 0)
                return varlink_call_reply_invalid_parameter(c, "devices");
        r = varlink_json_get_int64(params, "group", false, &group);
        if (r < 0 || (r > 0 && (group < 0 || group > UINT32_MAX)))
                return varlink_call_reply_invalid_parameter(c, "group");
        if ((n > 0) == (r > 0))
                /* Exactly one of the two: both is a bad group, neither a
                 * missing device list. */
                return varlink_call_reply_invalid_parameter(c, n > 0 ? "group" : "devices");

        r = get_caller(c, &caller);
        if (r < 0)
                return r;
        varlink_call_ref(c);
        r = manager_caller_rebind(m, &caller, restore, ptrs, n, group, rebind_done, c);
        caller_done(&caller);
        if (r < 0)
                varlink_call_unref(c);
        return r;
}

static void reload_done(Manager *m, const ManagerError *err, void *userdata) {
        VarlinkCall *c = userdata;
        const Config *cf = manager_get_config(m);
        json_object *o;

        if (err)
                (void) reply_manager_error(c, err);
        else {
                o = json_object_new_object();
                json_object_object_add(o, "config", json_object_new_string(cf->path));
                json_object_object_add(o, "configFound", json_object_new_boolean(cf->found));
                json_object_object_add(o, "assignableRules", json_object_new_int64((int64_t) cf->assignable.n));
                (void) varlink_call_reply(c, o);
        }
        varlink_call_unref(c);
}

static int method_reload(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        ManagerCaller caller;
        int r;

        r = get_caller(c, &caller);
        if (r < 0)
                return r;
        varlink_call_ref(c);
        r = manager_caller_reload(m, &caller, reload_done, c);
        caller_done(&caller);
        if (r < 0)
                varlink_call_unref(c);
        return r;
}

static int method_prepare(VarlinkCall *c, json_object *params, void *userdata) {
        return method_rebind(c, params, userdata, false);
}

static int method_restore(VarlinkCall *c, json_object *params, void *userdata) {
        return method_rebind(c, params, userdata, true);
}

/* ---- leases ---- */

/* One fd per device and the iommufd must fit in one reply. */

static int get_lease_id(json_object *params, const char **ret) {
        int r = varlink_json_get_string(params, "lease", true, 16, ret);
        return r < 0 ? r : 0;
}

/* A Claim or AddDevices under way, so that the client going away can
 * stop it.  Freed with the call's last reference... by claim_done. */
typedef struct ClaimCall {
        VarlinkCall *call;
        ManagerClaim *claim;    /* NULL once done, or for root */
} ClaimCall;

static void claim_call_cancelled(VarlinkCall *c, void *userdata) {
        ClaimCall *cc = userdata;

        if (cc->claim)
                manager_claim_cancel(cc->claim);
}

/* The reply of Claim and AddDevices: the lease, and the fds (the
 * manager's duplicates, ours to pass on or close). */
static void claim_done(Manager *m, const ManagerError *err, const Lease *l, const size_t *added, size_t n_added,
                       ManagerClaimFds *fds, void *userdata) {
        ClaimCall *cc = userdata;
        VarlinkCall *c = cc->call;
        json_object *o = NULL, *a;
        int r, idx;

        if (err) {
                (void) reply_manager_error(c, err);
                goto out;
        }
        o = json_object_new_object();
        a = json_object_new_array();
        if (!o || !a)
                goto fail;
        /* push_fd() takes each fd, also when it fails. */
        if (fds->iommufd >= 0) {
                idx = varlink_call_push_fd(c, TAKE_FD(fds->iommufd));
                if (idx < 0)
                        goto fail;
                json_object_object_add(o, "iommufd", json_object_new_int64(idx));
        }
        if (fds->container >= 0) {
                idx = varlink_call_push_fd(c, TAKE_FD(fds->container));
                if (idx < 0)
                        goto fail;
                json_object_object_add(o, "container", json_object_new_int64(idx));
        }
        if (fds->n_groups > 0) {
                json_object *ga = json_object_new_array();
                if (!ga)
                        goto fail;
                json_object_object_add(o, "groups", ga);
                for (size_t i = 0; i < fds->n_groups; i++) {
                        json_object *j = json_object_new_object();

                        idx = varlink_call_push_fd(c, TAKE_FD(fds->group_fds[i]));
                        if (idx < 0)
                                goto fail;
                        json_object_object_add(j, "id", json_object_new_int64(fds->group_ids[i]));
                        json_object_object_add(j, "fd", json_object_new_int64(idx));
                        json_object_array_add(ga, j);
                }
        }
        for (size_t i = 0; i < n_added; i++) {
                json_object *j = lease_device_to_json(l, &l->devices[added[i]]);

                if (!j)
                        goto fail;
                json_object_array_add(a, j);
                if (i >= LEASE_REPLY_FDS_MAX || fds->device_fds[i] < 0)
                        continue;       /* access mode: the holder opens it */
                idx = varlink_call_push_fd(c, TAKE_FD(fds->device_fds[i]));
                if (idx < 0)
                        goto fail;
                json_object_object_add(j, "fd", json_object_new_int64(idx));
        }
        json_object_object_add(o, "devices", a);
        json_object_object_add(o, "lease", lease_to_json(l));
        r = varlink_call_reply(c, o);
        if (r < 0)
                /* The client went away: the lease stays, its holder may
                 * still be alive (and Release can end it). */
                log_info("Lease %s granted, but the reply could not be sent: %s", l->id_string, strerror(-r));
        goto out;
fail:
        json_object_put(o);
        (void) varlink_call_reply_error(c, "org.varlink.service.InternalError", NULL);
out:
        if (fds) {
                /* Whatever was not passed on. */
                safe_close(fds->iommufd);
                safe_close(fds->container);
                for (size_t i = 0; i < fds->n_groups; i++)
                        safe_close(fds->group_fds[i]);
                for (size_t i = 0; i < LEASE_REPLY_FDS_MAX; i++)
                        safe_close(fds->device_fds[i]);
        }
        varlink_call_set_cancel_callback(c, NULL, NULL);
        varlink_call_unref(c);
        free(cc);
}

static int method_claim(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        char names[MANAGER_CLAIM_DEVICES_MAX][UUID_STRING_MAX];
        const char *ptrs[MANAGER_CLAIM_DEVICES_MAX];
        ManagerClaimRequest req = { .holder_pidfd = -EBADF };
        ManagerClaim *claim = NULL;
        ClaimCall *cc;
        ManagerCaller caller;
        const char *mode = NULL, *lease = NULL;
        bool add = strcmp(varlink_call_get_method(c), IFACE ".AddDevices") == 0;
        int64_t holder = -1, memlock = 0;
        ManagerMdevSpec specs[MANAGER_CLAIM_DEVICES_MAX];
        char uuids[MANAGER_CLAIM_DEVICES_MAX][UUID_STRING_MAX], vf_token[UUID_STRING_MAX];
        size_t n = 0, n_mdevs = 0;
        int r;

        if (get_mdev_specs(params, MANAGER_CLAIM_DEVICES_MAX, specs, uuids, &n_mdevs) < 0)
                return varlink_call_reply_invalid_parameter(c, "mdevs");
        {
                const char *token = NULL;
                r = varlink_json_get_string(params, "vfToken", false, 64, &token);
                if (r < 0 || (token && uuid_canonicalize(token, vf_token) < 0))
                        return varlink_call_reply_invalid_parameter(c, "vfToken");
                if (token)
                        req.vf_token = vf_token;
        }
        /* devices: [] when the claim is for new mdevs only. */
        {
                json_object *d = NULL;
                bool empty = n_mdevs > 0 && json_object_object_get_ex(params, "devices", &d) &&
                             json_object_is_type(d, json_type_array) && json_object_array_length(d) == 0;
                if (!empty && get_device_names(params, MANAGER_CLAIM_DEVICES_MAX, names, ptrs, &n) <= 0)
                        return varlink_call_reply_invalid_parameter(c, "devices");
        }
        if (add) {
                if (get_lease_id(params, &lease) < 0)
                        return varlink_call_reply_invalid_parameter(c, "lease");
        } else {
                r = varlink_json_get_string(params, "mode", false, 16, &mode);
                if (r < 0 || (r > 0 && lease_mode_from_string(mode, &req.mode) < 0))
                        return varlink_call_reply_invalid_parameter(c, "mode");
                r = varlink_json_get_int64(params, "holder", false, &holder);
                if (r < 0 || (r > 0 && (holder < 0 || holder >= VARLINK_DEFAULT_MAX_FDS)))
                        return varlink_call_reply_invalid_parameter(c, "holder");
                r = varlink_json_get_int64(params, "memlock", false, &memlock);
                if (r < 0 || memlock < 0)
                        return varlink_call_reply_invalid_parameter(c, "memlock");
        }
        if (!add) {
                if (holder >= 0) {
                        req.holder_pidfd = varlink_call_take_fd(c, (unsigned) holder);
                        if (req.holder_pidfd < 0)
                                return varlink_call_reply_invalid_parameter(c, "holder");
                } else {
                        req.holder_pidfd = varlink_call_get_peer_pidfd(c);
                        if (req.holder_pidfd == -ENOTCONN)
                                return 0;
                }
                if (req.holder_pidfd == -EMFILE || req.holder_pidfd == -ENFILE) {
                        json_object *e = json_object_new_object();
                        json_object_object_add(e, "message", json_object_new_string(
                                "iommud has no file descriptors left for the caller's pidfd: end other leases, "
                                "or raise iommud's LimitNOFILE="));
                        return varlink_call_reply_error(c, IFACE ".TooManyOpenFiles", e);
                }
                /* A pidfd, and of a live process. */
                {
                        ManagerError e = { .group = -1 };
                        r = manager_check_holder(req.holder_pidfd, &e);
                        if (r < 0) {
                                safe_close(req.holder_pidfd);
                                if (e.name)
                                        return reply_manager_error(c, &e);
                                return holder >= 0 ? varlink_call_reply_invalid_parameter(c, "holder") : r;
                        }
                }
        }
        r = get_caller(c, &caller);
        if (r < 0) {
                safe_close(req.holder_pidfd);
                return r;
        }
        req.names = ptrs;
        req.n = n;
        req.mdevs = specs;
        req.n_mdevs = n_mdevs;
        req.memlock = (uint64_t) memlock;
        req.lease = lease;
        cc = calloc(1, sizeof(*cc));
        if (!cc) {
                caller_done(&caller);
                safe_close(req.holder_pidfd);
                return -ENOMEM;
        }
        cc->call = varlink_call_ref(c);
        /* Set before the claim: a root claim may be answered (and cc
         * freed) within manager_claim(), and then no cancel can come. */
        varlink_call_set_cancel_callback(c, claim_call_cancelled, cc);
        r = manager_claim(m, &caller, &req, claim_done, cc, &claim);
        caller_done(&caller);
        if (r < 0) {
                varlink_call_set_cancel_callback(c, NULL, NULL);
                varlink_call_unref(c);
                free(cc);
                return r;
        }
        /* Still under way (it waits for polkit): the client going away
         * stops it.  Otherwise cc is already gone. */
        if (claim)
                cc->claim = claim;
        return 0;
}

/* The reply of RemoveDevices, Release and RequestRelease. */
static void lease_done(Manager *m, const ManagerError *err, const Lease *l, uint64_t deadline, void *userdata) {
        VarlinkCall *c = userdata;
        const char *method = varlink_call_get_method(c);
        json_object *o;

        if (err)
                (void) reply_manager_error(c, err);
        else if (strcmp(method, IFACE ".RemoveDevices") == 0)
                (void) reply_with(c, "lease", l ? lease_to_json(l) : NULL);
        else if (strcmp(method, IFACE ".RequestRelease") == 0)
                (void) reply_with(c, "deadline", json_object_new_int64((int64_t) deadline));
        else {
                o = json_object_new_object();
                (void) varlink_call_reply(c, o);
        }
        varlink_call_unref(c);
}

static int method_lease_op(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        const char *method = varlink_call_get_method(c);
        char names[MANAGER_REBIND_DEVICES_MAX][UUID_STRING_MAX];
        const char *ptrs[MANAGER_REBIND_DEVICES_MAX];
        const char *lease, *reason = NULL;
        ManagerCaller caller;
        int64_t grace = 0;
        size_t n = 0;
        int r;

        if (get_lease_id(params, &lease) < 0)
                return varlink_call_reply_invalid_parameter(c, "lease");
        if (strcmp(method, IFACE ".RemoveDevices") == 0 &&
            get_device_names(params, MANAGER_REBIND_DEVICES_MAX, names, ptrs, &n) <= 0)
                return varlink_call_reply_invalid_parameter(c, "devices");
        if (strcmp(method, IFACE ".RequestRelease") == 0) {
                if (varlink_json_get_string(params, "reason", true, MANAGER_RELEASE_REASON_MAX, &reason) < 0)
                        return varlink_call_reply_invalid_parameter(c, "reason");
                if (varlink_json_get_int64(params, "grace", true, &grace) < 0 || grace < 0 ||
                    grace > MANAGER_RELEASE_GRACE_MAX_SEC)
                        return varlink_call_reply_invalid_parameter(c, "grace");
        }
        r = get_caller(c, &caller);
        if (r < 0)
                return r;
        varlink_call_ref(c);
        if (strcmp(method, IFACE ".RemoveDevices") == 0)
                r = manager_remove_devices(m, &caller, lease, ptrs, n, lease_done, c);
        else if (strcmp(method, IFACE ".RequestRelease") == 0)
                r = manager_request_release(m, &caller, lease, reason, (uint64_t) grace * 1000000u, lease_done, c);
        else
                r = manager_release(m, &caller, lease, lease_done, c);
        caller_done(&caller);
        if (r < 0)
                varlink_call_unref(c);
        return r;
}

/* ---- mdevs ---- */

static void mdev_done(Manager *m, const ManagerError *err, const char *uuid, void *userdata) {
        VarlinkCall *c = userdata;

        if (err)
                (void) reply_manager_error(c, err);
        else if (strcmp(varlink_call_get_method(c), IFACE ".CreateMdev") == 0)
                (void) reply_with(c, "uuid", json_object_new_string(uuid));
        else
                (void) varlink_call_reply(c, json_object_new_object());
        varlink_call_unref(c);
}

static int method_mdev(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        bool create = strcmp(varlink_call_get_method(c), IFACE ".CreateMdev") == 0;
        const char *parent = NULL, *type = NULL, *uuid = NULL;
        char canon[UUID_STRING_MAX];
        ManagerCaller caller;
        int r;

        if (create) {
                if (varlink_json_get_string(params, "parent", true, 127, &parent) < 0)
                        return varlink_call_reply_invalid_parameter(c, "parent");
                if (varlink_json_get_string(params, "type", true, 127, &type) < 0)
                        return varlink_call_reply_invalid_parameter(c, "type");
        }
        r = varlink_json_get_string(params, "uuid", !create, 64, &uuid);
        if (r < 0 || (uuid && uuid_canonicalize(uuid, canon) < 0))
                return varlink_call_reply_invalid_parameter(c, "uuid");
        r = get_caller(c, &caller);
        if (r < 0)
                return r;
        varlink_call_ref(c);
        r = create ? manager_create_mdev(m, &caller, parent, type, uuid ? canon : NULL, mdev_done, c)
                   : manager_remove_mdev(m, &caller, canon, mdev_done, c);
        caller_done(&caller);
        if (r < 0)
                varlink_call_unref(c);
        return r;
}

/* ---- SR-IOV ---- */

static void sriov_done(Manager *m, const ManagerError *err, json_object *result, void *userdata) {
        VarlinkCall *c = userdata;

        if (err)
                (void) reply_manager_error(c, err);
        else
                (void) varlink_call_reply(c, json_object_get(result));
        varlink_call_unref(c);
}

static int method_set_num_vfs(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        char pf[UUID_STRING_MAX];
        const char *s;
        int64_t n;
        ManagerCaller caller;
        int r;

        r = varlink_json_get_string(params, "device", true, 64, &s);
        if (r < 0 || pci_address_canonicalize(s, pf) < 0)
                return varlink_call_reply_invalid_parameter(c, "device");
        if (varlink_json_get_int64(params, "numVfs", true, &n) < 0 || n < 0 || n > SRIOV_VFS_MAX)
                return varlink_call_reply_invalid_parameter(c, "numVfs");
        r = get_caller(c, &caller);
        if (r < 0)
                return r;
        varlink_call_ref(c);
        r = manager_set_sriov_numvfs(m, &caller, pf, (int) n, sriov_done, c);
        caller_done(&caller);
        if (r < 0)
                varlink_call_unref(c);
        return r;
}

static int method_list_leases(VarlinkCall *c, json_object *params, void *userdata) {
        return reply_with(c, "leases", manager_list_leases(userdata));
}

/* Reads are answered while iommud stops; the rest would start work and
 * are refused with ShuttingDown then (manager-stop.c). */
static const struct {
        const char *name;
        VarlinkMethod fn;
        bool read;
} methods[] = {
        { IFACE ".ListDevices", method_list_devices, true },
        { IFACE ".GetDevice", method_get_device, true },
        { IFACE ".ListGroups", method_list_groups, true },
        { IFACE ".GetGroup", method_get_group, true },
        { IFACE ".ListMdevTypes", method_list_mdev_types, true },
        { IFACE ".Monitor", method_monitor, false },
        { IFACE ".GetStatus", method_get_status, true },
        { IFACE ".GetPolicy", method_get_policy, true },
        { IFACE ".Prepare", method_prepare, false },
        { IFACE ".Restore", method_restore, false },
        { IFACE ".Reload", method_reload, false },
        { IFACE ".Claim", method_claim, false },
        { IFACE ".AddDevices", method_claim, false },
        { IFACE ".RemoveDevices", method_lease_op, false },
        { IFACE ".Release", method_lease_op, false },
        { IFACE ".RequestRelease", method_lease_op, false },
        { IFACE ".ListLeases", method_list_leases, true },
        { IFACE ".CreateMdev", method_mdev, false },
        { IFACE ".RemoveMdev", method_mdev, false },
        { IFACE ".SetNumVfs", method_set_num_vfs, false },
};

static int method_refused_when_stopping(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        const char *name = varlink_call_get_method(c);
        ManagerError e;

        if (manager_is_stopping(m, &e))
                return reply_manager_error(c, &e);
        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (strcmp(methods[i].name, name) == 0)
                        return methods[i].fn(c, params, userdata);
        return -EPROTO;
}

int varlink_manager_register(Manager *m, VarlinkServer *s) {
        int r;

        r = varlink_server_add_interface(s, IFACE, org_iommud_manager_varlink);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                r = varlink_server_add_method(s, methods[i].name,
                                              methods[i].read ? methods[i].fn : method_refused_when_stopping, m);
                if (r < 0)
                        return r;
        }
        return 0;
}
