/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "bus-manager.h"
#include "bus-path.h"
#include "errors.h"
#include "process.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/uuid.h"

#define IFACE_MANAGER "org.iommud1.Manager"
#define IFACE_DEVICE "org.iommud1.Device"
#define IFACE_GROUP "org.iommud1.Group"
#define IFACE_LEASE "org.iommud1.Lease"

#define RECONNECT_FIRST_USEC (1000 * 1000ULL)
#define RECONNECT_MAX_USEC (30 * 1000 * 1000ULL)

struct BusFace {
        Manager *manager;
        sd_bus *bus;
        char *address;
        ManagerWatch *watch;
        sd_event_source *reconnect;
        uint64_t reconnect_interval;
        bool lost;              /* the connection dropped: reopen from the timer */
        /* The JSON the last property read was served from: a GetAll or
         * GetManagedObjects reads one object's properties in a row.  It
         * serves only the message it was made for (some figures, such as
         * the manager's event count, change without any notice), and any
         * change drops it. */
        char cache_path[BUS_PATH_MAX];
        json_object *cache;
        sd_bus_message *cache_msg;
};

/* ---- properties: read from the faces' common JSON ---- */

typedef struct Property {
        const char *name;       /* the D-Bus name: the JSON key, capitalized */
        const char *signature;
} Property;

/* Null in JSON: "" for strings, -1 for signed numbers, 0 for unsigned. */
#define DEVICE_PROPERTIES(X)                                                                                  \
        X(Kind, "s") X(Name, "s") X(VendorId, "s") X(DeviceId, "s") X(SubsystemVendorId, "s")                 \
        X(SubsystemDeviceId, "s") X(ClassCode, "s") X(VendorName, "s") X(DeviceName, "s") X(Physfn, "s")      \
        X(SriovTotalVfs, "i") X(SriovNumVfs, "i") X(NumaNode, "i") X(Parent, "s") X(MdevType, "s")            \
        X(Driver, "s") X(DriverOverride, "s") X(IommuGroup, "x") X(VfioDevice, "s") X(VfioGroupNode, "s")     \
        X(BlocksGroup, "b") X(BlockReason, "s") X(Assignable, "b") X(PolicyAllows, "b") X(PolicyReason, "s") \
        X(Managed, "b") X(Reserved, "b") X(Prepared, "b") X(OriginalDriver, "s") X(HostCritical, "s")         \
        X(HeldOutside, "b") X(Claim, "s") X(Lease, "s")
#define GROUP_PROPERTIES(X)                                                                                   \
        X(Id, "u") X(Devices, "as") X(Viable, "b") X(Blockers, "a(sss)") X(VfioGroupNode, "s") X(Claim, "s") \
        X(Lease, "s") X(ReleaseHeldBy, "s")
#define LEASE_PROPERTIES(X)                                                                                  \
        X(Id, "s") X(Mode, "s") X(Backend, "s") X(Holder, "(uus)") X(Owner, "(uus)") X(Created, "t")         \
        X(IoasId, "x") X(Devices, "a(susxx)") X(Groups, "au") X(Memlock, "t") X(ReleaseReason, "s")          \
        X(ReleaseDeadline, "t") X(CreatedMdevs, "as")
#define MANAGER_PROPERTIES(X)                                                                                \
        X(Version, "s") X(Backend, "s") X(Iommufd, "b") X(VfioCdev, "b") X(LegacyContainer, "b")             \
        X(Devices, "u") X(Groups, "u") X(Mdevs, "u") X(Events, "t") X(Rescans, "t") X(Overruns, "t")         \
        X(Config, "s") X(ConfigFound, "b") X(AssignableRules, "u") X(Prepared, "u") X(LeaseBackend, "s")     \
        X(Leases, "u") X(ReleasingGroups, "u") X(Pid, "u") X(Started, "t") X(LastStart, "(sstuuuuu)")

#define ENTRY(n, s) { #n, s },
static const Property device_properties[] = { DEVICE_PROPERTIES(ENTRY) { NULL, NULL } };
static const Property group_properties[] = { GROUP_PROPERTIES(ENTRY) { NULL, NULL } };
static const Property lease_properties[] = { LEASE_PROPERTIES(ENTRY) { NULL, NULL } };
static const Property manager_properties[] = { MANAGER_PROPERTIES(ENTRY) { NULL, NULL } };
#undef ENTRY

static const char *signature_of(const Property *table, const char *name) {
        for (; table->name; table++)
                if (strcmp(table->name, name) == 0)
                        return table->signature;
        return NULL;
}

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *str(json_object *v) {
        return v && !json_object_is_type(v, json_type_null) ? json_object_get_string(v) : "";
}

static int64_t num(json_object *v, int64_t null) {
        return v && !json_object_is_type(v, json_type_null) ? json_object_get_int64(v) : null;
}

/* Append JSON value @v as D-Bus type @sig: the few shapes iommud has. */
static int append_json(sd_bus_message *reply, const char *sig, json_object *v) {
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
        int r;

        switch (sig[0]) {
        case 's':
                return sd_bus_message_append(reply, "s", str(v));
        case 'b':
                return sd_bus_message_append(reply, "b", (int) (v && json_object_get_boolean(v)));
        case 'i':
                return sd_bus_message_append(reply, "i", (int32_t) num(v, -1));
        case 'x':
                return sd_bus_message_append(reply, "x", num(v, -1));
        case 'u':
                return sd_bus_message_append(reply, "u", (uint32_t) num(v, 0));
        case 't':
                return sd_bus_message_append(reply, "t", (uint64_t) num(v, 0));
        case '(':
                if (strcmp(sig, "(sstuuuuu)") == 0)
                        /* GetStatus's lastStart: what the start took back */
                        return sd_bus_message_append(reply, sig, str(get(v, "stateFile")), str(get(v, "problem")),
                                                     (uint64_t) num(get(v, "at"), 0),
                                                     (uint32_t) num(get(v, "recoveredLeases"), 0),
                                                     (uint32_t) num(get(v, "withoutFiles"), 0),
                                                     (uint32_t) num(get(v, "endedLeases"), 0),
                                                     (uint32_t) num(get(v, "unknownGroups"), 0),
                                                     (uint32_t) num(get(v, "droppedFiles"), 0));
                /* (uus): a process */
                return sd_bus_message_append(reply, "(uus)", (uint32_t) num(get(v, "uid"), 0),
                                             (uint32_t) num(get(v, "pid"), 0), str(get(v, "command")));
        case 'a':
                r = sd_bus_message_open_container(reply, 'a', sig + 1);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n && r >= 0; i++) {
                        json_object *e = json_object_array_get_idx(v, i);
                        if (strcmp(sig, "as") == 0)
                                r = sd_bus_message_append(reply, "s", str(e));
                        else if (strcmp(sig, "au") == 0)
                                r = sd_bus_message_append(reply, "u", (uint32_t) num(e, 0));
                        else if (strcmp(sig, "a(sss)") == 0)
                                r = sd_bus_message_append(reply, "(sss)", str(get(e, "device")),
                                                          str(get(e, "driver")), str(get(e, "reason")));
                        else if (strcmp(sig, "a(susxx)") == 0)
                                r = sd_bus_message_append(reply, "(susxx)", str(get(e, "name")),
                                                          (uint32_t) num(get(e, "iommuGroup"), 0),
                                                          str(get(e, "vfioDevice")), num(get(e, "devid"), -1),
                                                          num(get(e, "hwptId"), -1));
                        else
                                r = -EINVAL;
                }
                if (r < 0)
                        return r;
                return sd_bus_message_close_container(reply);
        default:
                return -EINVAL;
        }
}

static void cache_drop(BusFace *b) {
        json_object_put(b->cache);
        b->cache = NULL;
        b->cache_msg = sd_bus_message_unref(b->cache_msg);
        b->cache_path[0] = 0;
}

/* The JSON of the object at @path, NULL when there is none. */
static json_object *object_json(BusFace *b, const char *path) {
        Manager *m = b->manager;
        Registry *reg = manager_get_registry(m);
        char name[UUID_STRING_MAX];
        json_object *o = NULL;
        uint32_t id;

        sd_bus_message *current = b->bus ? sd_bus_get_current_message(b->bus) : NULL;

        if (b->cache && current && b->cache_msg == current && strcmp(b->cache_path, path) == 0)
                return b->cache;
        if (strcmp(path, BUS_PATH_MANAGER) == 0)
                o = manager_status(m);
        else if (bus_device_from_path(path, name, sizeof(name)) >= 0) {
                const Device *d = registry_get_device(reg, name);
                o = d ? registry_device_to_json(reg, d) : NULL;
        } else if (bus_group_from_path(path, &id) >= 0) {
                const Group *g = registry_get_group(reg, id);
                o = g ? manager_group_to_json(m, g) : NULL;
        } else if (bus_lease_from_path(path, name, sizeof(name)) >= 0) {
                uint64_t v;
                const Lease *l = lease_id_from_string(name, &v) >= 0 ? manager_get_lease(m, v) : NULL;
                o = l ? lease_to_json(l) : NULL;
        }
        if (!o)
                return NULL;
        cache_drop(b);
        b->cache = o;
        /* Referenced, so that no later message can reuse its address. */
        b->cache_msg = sd_bus_message_ref(current);
        snprintf(b->cache_path, sizeof(b->cache_path), "%s", path);
        return o;
}

static int property_get(const Property *table, sd_bus_message *reply, const char *path, const char *property,
                        BusFace *b, sd_bus_error *error) {
        const char *sig = signature_of(table, property);
        char key[64];
        json_object *o;

        if (!sig || strlen(property) >= sizeof(key))
                return -EINVAL;
        o = object_json(b, path);
        if (!o)
                return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "%s is gone", path);
        /* The JSON key: the property's name with a lower-case first letter. */
        strcpy(key, property);
        key[0] = (char) (key[0] - 'A' + 'a');
        return append_json(reply, sig, get(o, key));
}

#define GETTER(kind, table)                                                                                     \
        static int kind##_property(sd_bus *bus, const char *path, const char *interface, const char *property,  \
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {                \
                return property_get(table, reply, path, property, userdata, error);                             \
        }
GETTER(device, device_properties)
GETTER(group, group_properties)
GETTER(lease, lease_properties)
GETTER(manager, manager_properties)
#undef GETTER

/* ---- finding and listing objects ---- */

static int device_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                       sd_bus_error *error) {
        BusFace *b = userdata;
        char name[UUID_STRING_MAX];

        if (bus_device_from_path(path, name, sizeof(name)) < 0 ||
            !registry_get_device(manager_get_registry(b->manager), name))
                return 0;
        *found = b;
        return 1;
}

static int group_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                      sd_bus_error *error) {
        BusFace *b = userdata;
        uint32_t id;

        if (bus_group_from_path(path, &id) < 0 || !registry_get_group(manager_get_registry(b->manager), id))
                return 0;
        *found = b;
        return 1;
}

static int lease_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                      sd_bus_error *error) {
        BusFace *b = userdata;
        char id[LEASE_ID_STRING_MAX];
        uint64_t v;

        if (bus_lease_from_path(path, id, sizeof(id)) < 0 || lease_id_from_string(id, &v) < 0 ||
            !manager_get_lease(b->manager, v))
                return 0;
        *found = b;
        return 1;
}

static int strv_push(char ***v, size_t *n, const char *s) {
        char **p = realloc(*v, (*n + 2) * sizeof(char *));

        if (!p)
                return -ENOMEM;
        *v = p;
        p[*n] = strdup(s);
        if (!p[*n])
                return -ENOMEM;
        p[++*n] = NULL;
        return 0;
}

static void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static int device_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret, sd_bus_error *error) {
        BusFace *b = userdata;
        _cleanup_free_ const Device **list = NULL;
        char **v = NULL, path[BUS_PATH_MAX];
        size_t n, k = 0;
        int r;

        r = registry_list_devices(manager_get_registry(b->manager), &list, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (bus_device_path(list[i]->name, path) >= 0 && (r = strv_push(&v, &k, path)) < 0) {
                        strv_free(v);
                        return r;
                }
        *ret = v;
        return 0;
}

static int group_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret, sd_bus_error *error) {
        BusFace *b = userdata;
        _cleanup_free_ const Group **list = NULL;
        char **v = NULL, path[BUS_PATH_MAX];
        size_t n, k = 0;
        int r;

        r = registry_list_groups(manager_get_registry(b->manager), &list, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                bus_group_path(list[i]->id, path);
                if ((r = strv_push(&v, &k, path)) < 0) {
                        strv_free(v);
                        return r;
                }
        }
        *ret = v;
        return 0;
}

static int lease_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret, sd_bus_error *error) {
        BusFace *b = userdata;
        json_object *all = manager_list_leases(b->manager);
        char **v = NULL, path[BUS_PATH_MAX];
        size_t k = 0;
        int r = 0;

        if (!all)
                return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(all) && r >= 0; i++)
                if (bus_lease_path(str(get(json_object_array_get_idx(all, i), "id")), path) >= 0)
                        r = strv_push(&v, &k, path);
        json_object_put(all);
        if (r < 0) {
                strv_free(v);
                return r;
        }
        *ret = v;
        return 0;
}

/* ---- methods ---- */

/* A refusal, under its name in org.iommud1.Error. */
static int reply_error(sd_bus_message *msg, const ManagerError *e) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char name[128];

        if (e->challenge && !sd_bus_message_get_allow_interactive_authorization(msg))
                snprintf(name, sizeof(name), "%s", SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED);
        else if (iommud_error_known(e->name))
                snprintf(name, sizeof(name), IOMMUD_DBUS_ERROR_PREFIX "%s", e->name);
        else
                snprintf(name, sizeof(name), SD_BUS_ERROR_FAILED);
        (void) sd_bus_error_set(&error, name, e->message);
        return sd_bus_reply_method_error(msg, &error);
}

static int method_get_device(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusFace *b = userdata;
        char name[UUID_STRING_MAX], path[BUS_PATH_MAX];
        const char *s;
        int r;

        r = sd_bus_message_read(msg, "s", &s);
        if (r < 0)
                return r;
        if (device_name_canonicalize(s, name) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "'%s' is neither a PCI address nor an mdev UUID", s);
        if (!registry_get_device(manager_get_registry(b->manager), name))
                return sd_bus_error_setf(error, IOMMUD_DBUS_ERROR_PREFIX "NoSuchDevice", "there is no device %s",
                                         name);
        if (bus_device_path(name, path) < 0)
                return -EINVAL;
        return sd_bus_reply_method_return(msg, "o", path);
}

static int method_get_group(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusFace *b = userdata;
        char path[BUS_PATH_MAX];
        uint32_t id;
        int r;

        r = sd_bus_message_read(msg, "u", &id);
        if (r < 0)
                return r;
        if (!registry_get_group(manager_get_registry(b->manager), id))
                return sd_bus_error_setf(error, IOMMUD_DBUS_ERROR_PREFIX "NoSuchGroup", "there is no IOMMU group %u",
                                         id);
        bus_group_path(id, path);
        return sd_bus_reply_method_return(msg, "o", path);
}

static int method_get_lease(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusFace *b = userdata;
        char path[BUS_PATH_MAX];
        const char *id;
        uint64_t v;
        int r;

        r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        if (lease_id_from_string(id, &v) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%s' is not a lease id (16 hex digits)",
                                         id);
        if (!manager_get_lease(b->manager, v) || bus_lease_path(id, path) < 0)
                return sd_bus_error_setf(error, IOMMUD_DBUS_ERROR_PREFIX "NoSuchLease", "there is no lease %s", id);
        return sd_bus_reply_method_return(msg, "o", path);
}

/* The caller, as the bus daemon knows it: uid and pid from its
 * credentials, the unique name for polkit (which resolves it itself). */
static int get_caller(sd_bus_message *msg, ManagerCaller *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        pid_t pid = 0;
        int r;

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        (void) sd_bus_creds_get_pid(creds, &pid);
        *ret = (ManagerCaller) {
                .uid = uid,
                .pid = pid,
                .pidfd = -EBADF,
                .bus_name = sd_bus_message_get_sender(msg),
                .interactive = sd_bus_message_get_allow_interactive_authorization(msg) > 0,
        };
        return 0;
}

static void rebind_done(Manager *m, const ManagerError *err, json_object *result, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata, *reply = NULL;
        json_object *devs = get(result, "devices");
        int r;

        if (err) {
                (void) reply_error(msg, err);
                return;
        }
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssss)");
        for (size_t i = 0; r >= 0 && devs && i < json_object_array_length(devs); i++) {
                json_object *d = json_object_array_get_idx(devs, i);
                r = sd_bus_message_append(reply, "(ssss)", str(get(d, "name")), str(get(d, "action")),
                                          str(get(d, "driver")), str(get(d, "previousDriver")));
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                log_debug("D-Bus: cannot reply to %s: %s", sd_bus_message_get_member(msg), strerror(-r));
}

static int read_devices(sd_bus_message *msg, size_t max, char names[][UUID_STRING_MAX], const char **ptrs,
                        size_t *ret_n, sd_bus_error *error) {
        const char *s;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(msg, "s", &s)) > 0) {
                if (n == max)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "more than %zu devices", max);
                if (device_name_canonicalize(s, names[n]) < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "'%s' is neither a PCI address nor an mdev UUID", s);
                for (size_t i = 0; i < n; i++)
                        if (strcmp(names[i], names[n]) == 0)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s is named twice",
                                                         names[n]);
                ptrs[n] = names[n];
                n++;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(msg);
        if (r < 0)
                return r;
        *ret_n = n;
        return 0;
}

static int read_devices_nonempty(sd_bus_message *msg, size_t max, char names[][UUID_STRING_MAX],
                                 const char **ptrs, size_t *ret_n, sd_bus_error *error) {
        int r = read_devices(msg, max, names, ptrs, ret_n, error);

        if (r >= 0 && !sd_bus_error_is_set(error) && *ret_n == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "no devices named");
        return r;
}

/* Claim's option "mdevs" (@variant) or AddMdevs' argument, a(sss):
 * parent, type, UUID ("": a random one).  The strings point into @msg. */
static int read_mdev_specs(sd_bus_message *msg, bool variant, size_t max, ManagerMdevSpec *specs,
                           char uuids[][UUID_STRING_MAX], size_t *ret_n, sd_bus_error *error) {
        const char *parent, *type, *uuid;
        size_t n = 0;
        int r;

        if (variant) {
                r = sd_bus_message_enter_container(msg, 'v', "a(sss)");
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_enter_container(msg, 'a', "(sss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(msg, "(sss)", &parent, &type, &uuid)) > 0) {
                if (n == max)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "more than %zu mdevs", max);
                if (strlen(parent) > 127 || strlen(type) > 127)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "an mdev parent or type is too long");
                if (uuid[0] && uuid_canonicalize(uuid, uuids[n]) < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%s' is not a UUID", uuid);
                specs[n] = (ManagerMdevSpec) { .parent = parent, .type = type, .uuid = uuid[0] ? uuids[n] : NULL };
                n++;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(msg);
        if (r >= 0 && variant)
                r = sd_bus_message_exit_container(msg);
        if (r < 0)
                return r;
        *ret_n = n;
        return 0;
}

static int rebind(sd_bus_message *msg, BusFace *b, bool restore, bool group, sd_bus_error *error) {
        char names[MANAGER_REBIND_DEVICES_MAX][UUID_STRING_MAX];
        const char *ptrs[MANAGER_REBIND_DEVICES_MAX];
        ManagerCaller caller;
        int64_t gid = -1;
        size_t n = 0;
        int r;

        if (group) {
                uint32_t id;
                r = sd_bus_message_read(msg, "u", &id);
                if (r < 0)
                        return r;
                gid = id;
        } else {
                r = read_devices_nonempty(msg, MANAGER_REBIND_DEVICES_MAX, names, ptrs, &n, error);
                if (r < 0 || sd_bus_error_is_set(error))
                        return r;
        }
        r = get_caller(msg, &caller);
        if (r < 0)
                return r;
        r = manager_caller_rebind(b->manager, &caller, restore, ptrs, n, gid, rebind_done,
                                  sd_bus_message_ref(msg));
        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        return 1;
}

static int method_prepare(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return rebind(msg, userdata, false, false, error);
}

static int method_restore(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return rebind(msg, userdata, true, false, error);
}

static int method_prepare_group(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return rebind(msg, userdata, false, true, error);
}

static int method_restore_group(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return rebind(msg, userdata, true, true, error);
}

static void reload_done(Manager *m, const ManagerError *err, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata;

        if (err)
                (void) reply_error(msg, err);
        else
                (void) sd_bus_reply_method_return(msg, NULL);
}

static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusFace *b = userdata;
        ManagerCaller caller;
        int r;

        r = get_caller(msg, &caller);
        if (r < 0)
                return r;
        r = manager_caller_reload(b->manager, &caller, reload_done, sd_bus_message_ref(msg));
        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        return 1;
}

/* ---- leases ---- */

/* A Claim or AddDevices under way: its message, and the claim while
 * polkit decides, stopped when the caller leaves the bus. */
typedef struct BusClaim {
        sd_bus_message *msg;
        ManagerClaim *claim;
        sd_bus_track *track;
} BusClaim;

static void bus_claim_free(BusClaim *bc) {
        sd_bus_track_unref(bc->track);
        sd_bus_message_unref(bc->msg);
        free(bc);
}

static int on_caller_gone(sd_bus_track *t, void *userdata) {
        BusClaim *bc = userdata;

        if (bc->claim)
                manager_claim_cancel(bc->claim);
        return 0;
}

static void close_claim_fds(ManagerClaimFds *fds) {
        safe_close(fds->iommufd);
        safe_close(fds->container);
        for (size_t i = 0; i < fds->n_groups; i++)
                safe_close(fds->group_fds[i]);
        for (size_t i = 0; i < LEASE_REPLY_FDS_MAX; i++)
                safe_close(fds->device_fds[i]);
}

/* The fds of a grant, named as iommuctl claim's placeholders are:
 * "iommufd", "container", "group:N", and each device's name. */
static int append_fds(sd_bus_message *reply, const Lease *l, const size_t *added, size_t n_added,
                      const ManagerClaimFds *fds) {
        char key[32];
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sh}");
        if (r >= 0 && fds->iommufd >= 0)
                r = sd_bus_message_append(reply, "{sh}", "iommufd", fds->iommufd);
        if (r >= 0 && fds->container >= 0)
                r = sd_bus_message_append(reply, "{sh}", "container", fds->container);
        for (size_t i = 0; r >= 0 && i < fds->n_groups; i++) {
                snprintf(key, sizeof(key), "group:%u", fds->group_ids[i]);
                r = sd_bus_message_append(reply, "{sh}", key, fds->group_fds[i]);
        }
        for (size_t i = 0; r >= 0 && i < n_added && i < LEASE_REPLY_FDS_MAX; i++)
                if (fds->device_fds[i] >= 0)
                        r = sd_bus_message_append(reply, "{sh}", l->devices[added[i]].name, fds->device_fds[i]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static void claim_done(Manager *m, const ManagerError *err, const Lease *l, const size_t *added, size_t n_added,
                       ManagerClaimFds *fds, void *userdata) {
        BusClaim *bc = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        bool add = strcmp(sd_bus_message_get_member(bc->msg), "Claim") != 0;   /* AddDevices, AddMdevs */
        char path[BUS_PATH_MAX];
        int r;

        if (err) {
                (void) reply_error(bc->msg, err);
                goto out;
        }
        r = sd_bus_message_new_method_return(bc->msg, &reply);
        if (r >= 0 && !add) {
                r = bus_lease_path(l->id_string, path);
                if (r >= 0)
                        r = sd_bus_message_append(reply, "o", path);
        }
        if (r >= 0)
                r = append_fds(reply, l, added, n_added, fds);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                /* The caller may be gone: the lease stays, for its holder
                 * (and Release ends it). */
                log_info("Lease %s granted, but the D-Bus reply could not be sent: %s", l->id_string, strerror(-r));
out:
        if (fds)
                close_claim_fds(fds);   /* sd-bus sent copies */
        bus_claim_free(bc);
}


/* The caller's own process, as a pidfd: its pid from the bus daemon,
 * opened, then the bus daemon asked again whether its connection still
 * belongs to that pid (so a pid reused meanwhile is not taken for it). */
static int caller_pidfd(sd_bus_message *msg, pid_t pid) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_close_ int fd = -EBADF;
        pid_t again = 0;
        int r;

        if (pid <= 0)
                return -ESRCH;
        fd = pidfd_open_pid(pid);
        if (fd < 0)
                return fd;
        r = sd_bus_get_name_creds(sd_bus_message_get_bus(msg), sd_bus_message_get_sender(msg), SD_BUS_CREDS_PID,
                                  &creds);
        if (r < 0)
                return r == -ENXIO ? -ESRCH : r;
        r = sd_bus_creds_get_pid(creds, &again);
        if (r < 0)
                return r;
        if (again != pid)
                return -ESRCH;
        return TAKE_FD(fd);
}

static int claim(sd_bus_message *msg, BusFace *b, const char *lease, sd_bus_error *error) {
        char names[MANAGER_CLAIM_DEVICES_MAX][UUID_STRING_MAX];
        const char *ptrs[MANAGER_CLAIM_DEVICES_MAX];
        ManagerClaimRequest req = { .holder_pidfd = -EBADF, .lease = lease };
        _cleanup_close_ int holder = -EBADF;
        ManagerError e = { .group = -1 };
        ManagerCaller caller;
        ManagerClaim *c = NULL;
        ManagerMdevSpec specs[MANAGER_CLAIM_DEVICES_MAX];
        char uuids[MANAGER_CLAIM_DEVICES_MAX][UUID_STRING_MAX], vf_token[UUID_STRING_MAX];
        BusClaim *bc;
        size_t n = 0, n_mdevs = 0;
        int r;

        if (lease && strcmp(sd_bus_message_get_member(msg), "AddMdevs") == 0) {
                r = read_mdev_specs(msg, false, MANAGER_CLAIM_DEVICES_MAX, specs, uuids, &n_mdevs, error);
                if (r >= 0 && !sd_bus_error_is_set(error) && n_mdevs == 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "no mdevs named");
        } else
                r = (lease ? read_devices_nonempty : read_devices)(msg, MANAGER_CLAIM_DEVICES_MAX, names, ptrs, &n,
                                                                   error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if (!lease) {
                /* Options: mode s, holder h, memlock t, mdevs a(sss). */
                r = sd_bus_message_enter_container(msg, 'a', "{sv}");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                        const char *key, *mode;
                        int fd;

                        r = sd_bus_message_read(msg, "s", &key);
                        if (r < 0)
                                return r;
                        if (strcmp(key, "mode") == 0) {
                                r = sd_bus_message_read(msg, "v", "s", &mode);
                                if (r < 0)
                                        return r;
                                if (lease_mode_from_string(mode, &req.mode) < 0)
                                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                                 "mode '%s': \"bound\", \"parked\" or \"access\"", mode);
                        } else if (strcmp(key, "holder") == 0) {
                                r = sd_bus_message_read(msg, "v", "h", &fd);
                                if (r < 0)
                                        return r;
                                holder = safe_close(holder);
                                holder = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                                if (holder < 0)
                                        return -errno;
                        } else if (strcmp(key, "memlock") == 0) {
                                r = sd_bus_message_read(msg, "v", "t", &req.memlock);
                                if (r < 0)
                                        return r;
                        } else if (strcmp(key, "vfToken") == 0) {
                                const char *token;
                                r = sd_bus_message_read(msg, "v", "s", &token);
                                if (r < 0)
                                        return r;
                                if (uuid_canonicalize(token, vf_token) < 0)
                                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                                 "vfToken '%s' is not a UUID", token);
                                req.vf_token = vf_token;
                        } else if (strcmp(key, "mdevs") == 0) {
                                r = read_mdev_specs(msg, true, MANAGER_CLAIM_DEVICES_MAX, specs, uuids, &n_mdevs,
                                                    error);
                                if (r < 0 || sd_bus_error_is_set(error))
                                        return r;
                        } else
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "unknown option '%s' (mode, holder, memlock, mdevs, "
                                                         "vfToken)", key);
                        r = sd_bus_message_exit_container(msg);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (n == 0 && n_mdevs == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "no devices named, and no mdevs");
        r = get_caller(msg, &caller);
        if (r < 0)
                return r;
        if (!lease) {
                bool given = holder >= 0;

                if (!given) {
                        holder = caller_pidfd(msg, caller.pid);
                        if (holder == -EMFILE || holder == -ENFILE)
                                return sd_bus_error_setf(error, IOMMUD_DBUS_ERROR_PREFIX "TooManyOpenFiles",
                                                         "iommud has no file descriptors left for the caller's "
                                                         "pidfd: end other leases, or raise iommud's LimitNOFILE=");
                        if (holder < 0)
                                return sd_bus_error_setf(error, IOMMUD_DBUS_ERROR_PREFIX "HolderGone",
                                                         "the caller's process (pid %d) is gone", (int) caller.pid);
                }
                r = manager_check_holder(holder, &e);
                if (r < 0 && e.name)
                        return reply_error(msg, &e);
                if (r < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "holder: not a pidfd");
        }
        req.names = ptrs;
        req.n = n;
        req.mdevs = specs;
        req.n_mdevs = n_mdevs;
        req.holder_pidfd = TAKE_FD(holder);
        bc = calloc(1, sizeof(*bc));
        if (!bc) {
                safe_close(req.holder_pidfd);
                return -ENOMEM;
        }
        bc->msg = sd_bus_message_ref(msg);
        /* The caller leaving the bus stops a claim that waits for polkit
         * (nothing is granted to nobody). */
        r = sd_bus_track_new(sd_bus_message_get_bus(msg), &bc->track, on_caller_gone, bc);
        if (r >= 0)
                r = sd_bus_track_add_sender(bc->track, msg);
        if (r < 0) {
                safe_close(req.holder_pidfd);
                bus_claim_free(bc);
                return r;
        }
        r = manager_claim(b->manager, &caller, &req, claim_done, bc, &c);
        if (r < 0) {
                bus_claim_free(bc);
                return r;
        }
        /* Still under way (polkit): keep it to cancel.  Otherwise bc is
         * gone already. */
        if (c)
                bc->claim = c;
        return 1;
}

static int method_claim(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return claim(msg, userdata, NULL, error);
}

/* The lease of a Lease object's method. */
static int lease_of(sd_bus_message *msg, char id[static LEASE_ID_STRING_MAX]) {
        return bus_lease_from_path(sd_bus_message_get_path(msg), id, LEASE_ID_STRING_MAX);
}

static int method_add_devices(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        char id[LEASE_ID_STRING_MAX];

        if (lease_of(msg, id) < 0)
                return -EINVAL;
        return claim(msg, userdata, id, error);
}

static void lease_done(Manager *m, const ManagerError *err, const Lease *l, uint64_t deadline, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata;

        if (err)
                (void) reply_error(msg, err);
        else if (strcmp(sd_bus_message_get_member(msg), "RequestRelease") == 0)
                (void) sd_bus_reply_method_return(msg, "t", deadline);
        else
                (void) sd_bus_reply_method_return(msg, NULL);
}

static int method_lease_op(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusFace *b = userdata;
        const char *member = sd_bus_message_get_member(msg);
        char names[MANAGER_REBIND_DEVICES_MAX][UUID_STRING_MAX], id[LEASE_ID_STRING_MAX];
        const char *ptrs[MANAGER_REBIND_DEVICES_MAX], *reason = NULL;
        ManagerCaller caller;
        uint64_t grace = 0;
        size_t n = 0;
        int r;

        if (lease_of(msg, id) < 0)
                return -EINVAL;
        if (strcmp(member, "RemoveDevices") == 0) {
                r = read_devices_nonempty(msg, MANAGER_REBIND_DEVICES_MAX, names, ptrs, &n, error);
                if (r < 0 || sd_bus_error_is_set(error))
                        return r;
        } else if (strcmp(member, "RequestRelease") == 0) {
                r = sd_bus_message_read(msg, "st", &reason, &grace);
                if (r < 0)
                        return r;
                if (strlen(reason) > MANAGER_RELEASE_REASON_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "reason: more than %d bytes",
                                                 MANAGER_RELEASE_REASON_MAX);
                if (grace > MANAGER_RELEASE_GRACE_MAX_SEC)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "grace: at most %d seconds", MANAGER_RELEASE_GRACE_MAX_SEC);
        }
        r = get_caller(msg, &caller);
        if (r < 0)
                return r;
        sd_bus_message_ref(msg);
        if (strcmp(member, "RemoveDevices") == 0)
                r = manager_remove_devices(b->manager, &caller, id, ptrs, n, lease_done, msg);
        else if (strcmp(member, "RequestRelease") == 0)
                r = manager_request_release(b->manager, &caller, id, reason, grace * 1000000u, lease_done, msg);
        else
                r = manager_release(b->manager, &caller, id, lease_done, msg);
        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        return 1;
}

/* ---- mdevs ---- */

static void mdev_done(Manager *m, const ManagerError *err, const char *uuid, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata;

        if (err)
                (void) reply_error(msg, err);
        else if (strcmp(sd_bus_message_get_member(msg), "CreateMdev") == 0)
                (void) sd_bus_reply_method_return(msg, "s", uuid);
        else
                (void) sd_bus_reply_method_return(msg, NULL);
}

static int method_mdev(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusFace *b = userdata;
        bool create = strcmp(sd_bus_message_get_member(msg), "CreateMdev") == 0;
        const char *parent = NULL, *type = NULL, *uuid;
        char canon[UUID_STRING_MAX];
        ManagerCaller caller;
        int r;

        r = create ? sd_bus_message_read(msg, "sss", &parent, &type, &uuid) : sd_bus_message_read(msg, "s", &uuid);
        if (r < 0)
                return r;
        /* CreateMdev: "" for a random UUID. */
        if ((!create || uuid[0]) && uuid_canonicalize(uuid, canon) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%s' is not a UUID", uuid);
        r = get_caller(msg, &caller);
        if (r < 0)
                return r;
        sd_bus_message_ref(msg);
        r = create ? manager_create_mdev(b->manager, &caller, parent, type, uuid[0] ? canon : NULL, mdev_done, msg)
                   : manager_remove_mdev(b->manager, &caller, canon, mdev_done, msg);
        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        return 1;
}

/* ---- SR-IOV ---- */

static void sriov_done(Manager *m, const ManagerError *err, json_object *result, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata, *reply = NULL;
        json_object *vfs = result ? get(result, "vfs") : NULL;
        int r;

        if (err) {
                (void) reply_error(msg, err);
                return;
        }
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "s");
        for (size_t i = 0; r >= 0 && vfs && i < json_object_array_length(vfs); i++)
                r = sd_bus_message_append(reply, "s", json_object_get_string(json_object_array_get_idx(vfs, i)));
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                log_debug("D-Bus: cannot reply to SetNumVfs: %s", strerror(-r));
}

static int method_set_num_vfs(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusFace *b = userdata;
        char pf[PCI_ADDRESS_STRING_MAX];
        const char *s;
        uint32_t n;
        ManagerCaller caller;
        int r;

        r = sd_bus_message_read(msg, "su", &s, &n);
        if (r < 0)
                return r;
        if (pci_address_canonicalize(s, pf) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%s' is not a PCI address", s);
        if (n > 65535)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%u VFs: at most 65535", (unsigned) n);
        r = get_caller(msg, &caller);
        if (r < 0)
                return r;
        sd_bus_message_ref(msg);
        r = manager_set_sriov_numvfs(b->manager, &caller, pf, (int) n, sriov_done, msg);
        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        return 1;
}

/* ---- vtables ---- */

/* The manager's properties are read when asked (GetStatus's figures);
 * every other object announces each change. */
#define CHANGING SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
#define P(n, s) SD_BUS_PROPERTY(#n, s, manager_property, 0, 0),
        MANAGER_PROPERTIES(P)
#undef P
        SD_BUS_METHOD_WITH_ARGS("GetDevice", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", device), method_get_device,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetGroup", SD_BUS_ARGS("u", id), SD_BUS_RESULT("o", group), method_get_group,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetLease", SD_BUS_ARGS("s", id), SD_BUS_RESULT("o", lease), method_get_lease,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Prepare", SD_BUS_ARGS("as", devices), SD_BUS_RESULT("a(ssss)", devices),
                                method_prepare, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Restore", SD_BUS_ARGS("as", devices), SD_BUS_RESULT("a(ssss)", devices),
                                method_restore, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PrepareGroup", SD_BUS_ARGS("u", id), SD_BUS_RESULT("a(ssss)", devices),
                                method_prepare_group, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RestoreGroup", SD_BUS_ARGS("u", id), SD_BUS_RESULT("a(ssss)", devices),
                                method_restore_group, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reload", NULL, NULL, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetNumVfs", SD_BUS_ARGS("s", device, "u", num_vfs), SD_BUS_RESULT("as", vfs),
                                method_set_num_vfs, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateMdev", SD_BUS_ARGS("s", parent, "s", type, "s", uuid),
                                SD_BUS_RESULT("s", uuid), method_mdev, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveMdev", SD_BUS_ARGS("s", uuid), SD_BUS_NO_RESULT, method_mdev,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Claim", SD_BUS_ARGS("as", devices, "a{sv}", options),
                                SD_BUS_RESULT("o", lease, "a{sh}", fds), method_claim, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("LeaseEnded", SD_BUS_ARGS("o", lease, "s", id, "s", reason), 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable device_vtable[] = {
        SD_BUS_VTABLE_START(0),
#define P(n, s) SD_BUS_PROPERTY(#n, s, device_property, 0, CHANGING),
        DEVICE_PROPERTIES(P)
#undef P
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable group_vtable[] = {
        SD_BUS_VTABLE_START(0),
#define P(n, s) SD_BUS_PROPERTY(#n, s, group_property, 0, CHANGING),
        GROUP_PROPERTIES(P)
#undef P
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable lease_vtable[] = {
        SD_BUS_VTABLE_START(0),
#define P(n, s) SD_BUS_PROPERTY(#n, s, lease_property, 0, CHANGING),
        LEASE_PROPERTIES(P)
#undef P
        SD_BUS_METHOD_WITH_ARGS("AddDevices", SD_BUS_ARGS("as", devices), SD_BUS_RESULT("a{sh}", fds),
                                method_add_devices, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddMdevs", SD_BUS_ARGS("a(sss)", mdevs), SD_BUS_RESULT("a{sh}", fds),
                                method_add_devices, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveDevices", SD_BUS_ARGS("as", devices), SD_BUS_NO_RESULT, method_lease_op,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Release", NULL, NULL, method_lease_op, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RequestRelease", SD_BUS_ARGS("s", reason, "t", grace),
                                SD_BUS_RESULT("t", deadline), method_lease_op, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ReleaseRequested", SD_BUS_ARGS("s", reason, "t", deadline), 0),
        SD_BUS_SIGNAL_WITH_ARGS("DeviceRemoved", SD_BUS_ARGS("s", device, "s", reason), 0),
        SD_BUS_VTABLE_END,
};

/* While iommud stops, calls that would start work are refused here,
 * before any handler, with ShuttingDown; reads (Get*, properties,
 * introspection, GetManagedObjects) are still answered. */
static int on_filter(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusFace *b = userdata;
        const char *iface = sd_bus_message_get_interface(msg), *member = sd_bus_message_get_member(msg);
        ManagerError e;

        if (!sd_bus_message_is_method_call(msg, NULL, NULL) || !member ||
            strncmp(member, "Get", 3) == 0 ||
            (iface && strcmp(iface, IFACE_MANAGER) != 0 && strcmp(iface, IFACE_LEASE) != 0) ||
            !manager_is_stopping(b->manager, &e))
                return 0;
        log_debug("D-Bus: refused %s while stopping", member);
        (void) reply_error(msg, &e);
        return 1;
}

/* ---- changes ---- */

static void emit(BusFace *b, const char *event, const char *path, const char *iface) {
        int r;

        if (strcmp(event, "add") == 0)
                r = sd_bus_emit_interfaces_added(b->bus, path, iface, NULL);
        else if (strcmp(event, "remove") == 0)
                r = sd_bus_emit_interfaces_removed(b->bus, path, iface, NULL);
        else
                r = sd_bus_emit_properties_changed_strv(b->bus, path, iface, NULL);
        if (r < 0)
                log_debug("D-Bus: cannot announce %s of %s: %s", event, path, strerror(-r));
}

static void on_change(Manager *m, const char *event, json_object *device, json_object *group, json_object *lease,
                      void *userdata) {
        BusFace *b = userdata;
        char path[BUS_PATH_MAX];

        cache_drop(b);
        if (!b->bus || b->lost)
                return;
        if (device && bus_device_path(str(get(device, "name")), path) >= 0)
                emit(b, event, path, IFACE_DEVICE);
        else if (group) {
                bus_group_path((uint32_t) num(get(group, "id"), 0), path);
                emit(b, event, path, IFACE_GROUP);
        } else if (lease && bus_lease_path(str(get(lease, "id")), path) >= 0) {
                int r = 0;

                if (strcmp(event, "releaseRequested") == 0)
                        r = sd_bus_emit_signal(b->bus, path, IFACE_LEASE, "ReleaseRequested", "st",
                                               str(get(lease, "releaseReason")),
                                               (uint64_t) num(get(lease, "releaseDeadline"), 0));
                else if (strcmp(event, "deviceRemoved") == 0) {
                        json_object *rd = get(lease, "removedDevice");
                        r = sd_bus_emit_signal(b->bus, path, IFACE_LEASE, "DeviceRemoved", "ss",
                                               str(get(rd, "name")), str(get(rd, "reason")));
                        emit(b, "change", path, IFACE_LEASE);
                } else {
                        if (strcmp(event, "remove") == 0)
                                r = sd_bus_emit_signal(b->bus, BUS_PATH_MANAGER, IFACE_MANAGER, "LeaseEnded", "oss",
                                                       path, str(get(lease, "id")), str(get(lease, "endReason")));
                        emit(b, event, path, IFACE_LEASE);
                }
                if (r < 0)
                        log_debug("D-Bus: cannot send the %s signal of %s: %s", event, path, strerror(-r));
        }
}

/* ---- the connection ---- */

static int bus_connect(BusFace *b);

static void bus_drop(BusFace *b) {
        b->bus = sd_bus_flush_close_unref(b->bus);
        cache_drop(b);
}

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata) {
        BusFace *b = userdata;
        int r;

        bus_drop(b);
        r = bus_connect(b);

        if (r >= 0) {
                log_info("D-Bus: connected to the system bus again, serving " BUS_NAME);
                b->reconnect_interval = RECONNECT_FIRST_USEC;
                return 0;
        }
        log_debug("D-Bus: reconnecting failed: %s; next try in %llu s", strerror(-r),
                  (unsigned long long) (b->reconnect_interval / 1000000u));
        (void) sd_event_source_set_time_relative(s, b->reconnect_interval);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        b->reconnect_interval = MIN(b->reconnect_interval * 2, RECONNECT_MAX_USEC);
        return 0;
}

static int on_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusFace *b = userdata;

        log_warning("D-Bus: lost the system bus (dbus restarted?); varlink clients and leases are unaffected, "
                    "reconnecting");
        /* Not freed here, inside its own dispatch: the timer does it. */
        b->lost = true;
        (void) sd_event_source_set_time_relative(b->reconnect, b->reconnect_interval);
        (void) sd_event_source_set_enabled(b->reconnect, SD_EVENT_ONESHOT);
        return 0;
}

static int bus_connect(BusFace *b) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        sd_event *event = manager_get_event(b->manager);
        int r;

        if (b->address) {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, b->address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_start(bus);
        } else
                r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        /* A dropped connection is ours to handle: no exit. */
        r = sd_bus_set_exit_on_disconnect(bus, false);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, b);
        if (r < 0)
                return r;
        r = sd_bus_add_filter(bus, NULL, on_filter, b);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, NULL, BUS_PATH_MANAGER, IFACE_MANAGER, manager_vtable, b);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, BUS_PATH_DEVICES, IFACE_DEVICE, device_vtable, device_find,
                                               b);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, BUS_PATH_DEVICES, device_enumerate, b);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, BUS_PATH_GROUPS, IFACE_GROUP, group_vtable, group_find, b);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, BUS_PATH_GROUPS, group_enumerate, b);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, BUS_PATH_LEASES, IFACE_LEASE, lease_vtable, lease_find, b);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, BUS_PATH_LEASES, lease_enumerate, b);
        if (r >= 0)
                r = sd_bus_add_object_manager(bus, NULL, BUS_PATH_MANAGER);
        if (r < 0)
                return r;
        /* Objects first, then the name: a client that sees the name can
         * call at once. */
        r = sd_bus_request_name(bus, BUS_NAME, 0);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        b->bus = TAKE_PTR(bus);
        b->lost = false;
        return 0;
}

int bus_face_new(Manager *m, const char *address, BusFace **ret) {
        _cleanup_(bus_face_freep) BusFace *b = calloc(1, sizeof(*b));
        int r;

        if (!b)
                return -ENOMEM;
        b->manager = m;
        b->reconnect_interval = RECONNECT_FIRST_USEC;
        if (address && !(b->address = strdup(address)))
                return -ENOMEM;
        r = sd_event_add_time_relative(manager_get_event(m), &b->reconnect, CLOCK_MONOTONIC, RECONNECT_FIRST_USEC, 0,
                                       on_reconnect, b);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(b->reconnect, SD_EVENT_OFF);
        if (r < 0)
                return r;
        r = bus_connect(b);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* Not up yet at boot, or a host without D-Bus: varlink
                 * alone meanwhile, and try again now and then. */
                log_info("D-Bus: cannot serve " BUS_NAME " on the system bus (%s); serving varlink alone, "
                         "retrying in the background", strerror(-r));
                b->lost = true;
                (void) sd_event_source_set_enabled(b->reconnect, SD_EVENT_ONESHOT);
        }
        r = manager_watch(m, on_change, b, &b->watch);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

BusFace *bus_face_free(BusFace *b) {
        if (!b)
                return NULL;
        if (b->watch)
                manager_unwatch(b->manager, b->watch);
        sd_event_source_disable_unref(b->reconnect);
        bus_drop(b);
        free(b->address);
        free(b);
        return NULL;
}

void bus_face_freep(BusFace **b) {
        bus_face_free(*b);
}
