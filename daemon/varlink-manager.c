/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "manager.h"
#include "mdev.h"
#include "shared/macro.h"
#include "shared/uuid.h"
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

/* A device name from a client: a PCI address in any accepted spelling,
 * or an mdev UUID; written canonical into @buf. */
static int canonical_device_name(const char *s, char buf[static UUID_STRING_MAX]) {
        if (pci_address_canonicalize(s, buf) >= 0)
                return 0;
        return uuid_canonicalize(s, buf);
}

static int method_get_device(VarlinkCall *c, json_object *params, void *userdata) {
        Manager *m = userdata;
        Registry *reg = manager_get_registry(m);
        char name[UUID_STRING_MAX];
        const Device *d;
        const char *s;
        int r;

        r = varlink_json_get_string(params, "name", true, 64, &s);
        if (r < 0 || canonical_device_name(s, name) < 0)
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
                json_object_array_add(a, group_to_json(list[i]));
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
        return reply_with(c, "group", group_to_json(g));
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

static void monitor_event(Manager *m, const char *event, json_object *device, json_object *group, void *userdata) {
        MonitorSub *sub = userdata;
        json_object *o = json_object_new_object();

        if (!o)
                return;
        json_object_object_add(o, "event", json_object_new_string(event));
        if (device)
                json_object_object_add(o, "device", json_object_get(device));
        if (group)
                json_object_object_add(o, "group", json_object_get(group));
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

int varlink_manager_register(Manager *m, VarlinkServer *s) {
        static const struct {
                const char *name;
                VarlinkMethod fn;
        } methods[] = {
                { IFACE ".ListDevices", method_list_devices },
                { IFACE ".GetDevice", method_get_device },
                { IFACE ".ListGroups", method_list_groups },
                { IFACE ".GetGroup", method_get_group },
                { IFACE ".ListMdevTypes", method_list_mdev_types },
                { IFACE ".Monitor", method_monitor },
                { IFACE ".GetStatus", method_get_status },
        };
        int r;

        r = varlink_server_add_interface(s, IFACE, org_iommud_manager_varlink);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                r = varlink_server_add_method(s, methods[i].name, methods[i].fn, m);
                if (r < 0)
                        return r;
        }
        return 0;
}
