/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommuctl: the admin's command line for iommud.  Speaks varlink to
 * org.iommud.Manager.  See iommuctl(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "shared/macro.h"
#include "shared/pci-address.h"
#include "shared/uuid.h"
#include "shared/varlink-client.h"

#define DEFAULT_SOCKET "/run/iommud/org.iommud.Manager"
#define IFACE "org.iommud.Manager"

/* Exit codes scripts can rely on (iommuctl(1)). */
enum {
        EXIT_OK = 0,
        EXIT_FAIL = 1,
        EXIT_USAGE = 2,
        EXIT_NOT_RUNNING = 3,
        EXIT_NOT_FOUND = 4,
        EXIT_REFUSED = 5,
        EXIT_BUSY = 6,
};

static const char *arg_socket;
static bool arg_json;
static const char *arg_group;
static const char *arg_mode;
static const char *arg_memlock;
static char *arg_mdevs[16];
static const char *arg_vf_token;
static size_t arg_n_mdevs;
static const char *arg_holder_pid;
static const char *arg_reason;
static const char *arg_grace;
static int call_timeout_ms = 30000;

static int help(void) {
        printf("Usage: iommuctl [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "Ask iommud about the devices, IOMMU groups and mdevs of this host.\n"
               "\n"
               "Commands:\n"
               "  list                 Every PCI function and mdev: driver, group, whether\n"
               "                       it can be assigned and what blocks it\n"
               "  show ADDRESS|UUID    One device in detail\n"
               "  groups               Every IOMMU group and its members\n"
               "  group N              One IOMMU group\n"
               "  mdev-types           mdev parents and the types they offer\n"
               "  sriov PF [N]         A PF's SR-IOV VFs; with N, give it N VFs first\n"
               "  monitor              Print device and group changes as they happen\n"
               "  status               The daemon: version, backend, counts\n"
               "  policy               What iommud.conf allows, and every device's verdict\n"
               "  reload               Read iommud.conf again (a broken file changes nothing)\n"
               "  prepare DEVICE...|--group N\n"
               "                       Move devices (or a whole IOMMU group) to vfio-pci\n"
               "  restore DEVICE...|--group N\n"
               "                       Give prepared devices back to their drivers\n"
               "  claim DEVICE... -- COMMAND [ARGS...]\n"
               "                       Lease devices and run COMMAND (a VMM) with their fds\n"
               "  claim --holder-pid PID DEVICE...\n"
               "                       Lease devices for a running process\n"
               "  leases               Every lease: holder, mode, devices\n"
               "  release LEASE        End a lease (its devices' DMA is cut)\n"
               "  remove-devices LEASE DEVICE...\n"
               "                       Take devices out of a lease\n"
               "  request-release LEASE --reason TEXT --grace SECONDS\n"
               "                       Ask a lease's holder to give it back\n"
               "\n"
               "Options:\n"
               "  -h --help            Show this help (or a command's, after it)\n"
               "     --version         Show the version\n"
               "  -j --json            Print JSON (field names: iommuctl(1))\n"
               "     --group N         prepare/restore: every function of IOMMU group N\n"
               "     --mode MODE       claim: bound (default), parked or access\n"
               "     --parked, --access  claim: --mode parked, --mode access\n"
               "     --memlock SIZE    claim: raise the holder's RLIMIT_MEMLOCK (512M, 8G)\n"
               "     --mdev PARENT/TYPE[/UUID]\n"
               "                       claim: create an mdev for the lease (repeatable)\n"
               "     --vf-token UUID   claim: the VF token of VFs whose PF is on vfio-pci\n"
               "     --holder-pid PID  claim: the process the lease follows\n"
               "     --reason TEXT, --grace SECONDS\n"
               "                       request-release: why, and how long the holder has\n"
               "     --socket PATH     The daemon's varlink socket (default $IOMMUD_SOCKET,\n"
               "                       else " DEFAULT_SOCKET ")\n"
               "\n"
               "Exit status: 0 success, 1 failure, 2 usage error, 3 iommud is not running,\n"
               "4 no such device or group, 5 refused (policy, permission), 6 busy or in use.\n");
        return EXIT_OK;
}

static const struct {
        const char *name, *usage, *text;
} command_help[] = {
        { "list", "list", "Every PCI function and mdev, one per line: address, driver, IOMMU group,\n"
          "whether its group can be assigned now (or the member that blocks it and\n"
          "its driver), the VFIO node, the lease, and the device's name." },
        { "show", "show ADDRESS|UUID", "One device in detail. ADDRESS is a PCI address (0000:00:03.0, or the\n"
          "short form 00:03.0); UUID an mdev's." },
        { "groups", "groups", "Every IOMMU group: whether it is viable, its members, what blocks it." },
        { "group", "group N", "One IOMMU group." },
        { "mdev-types", "mdev-types", "Devices that can create mdevs and the types they offer, with the\n"
          "instances still available. The same as 'iommuctl mdev types'." },
        { "mdev", "mdev types | mdev create PARENT TYPE [UUID] | mdev remove UUID",
          "types: as mdev-types. create: a new mdev of TYPE on PARENT (as 'mdev\n"
          "types' names them), with UUID or a random one; prints its UUID. remove:\n"
          "remove an mdev, refused while it is leased or its VFIO nodes are open.\n"
          "Root, or whom polkit allows org.iommud.manage-mdev." },
        { "sriov", "sriov PF [N]", "The SR-IOV virtual functions of PF (a PCI address): how many there are\n"
          "of how many possible, each with its driver and IOMMU group. With N, give\n"
          "the PF N VFs first (0 removes them): they come up unbound, ready for\n"
          "prepare; refused while a VF that would go is leased or open. The PF must\n"
          "be on a driver that can create VFs (its own, or pci-pf-stub). Root, or\n"
          "whom polkit allows org.iommud.manage-sriov." },
        { "monitor", "monitor", "Print each change as iommud sees it (devices added, removed, bound,\n"
          "unbound; groups changing viability or claim state; leases granted,\n"
          "changed, ended, asked back, or losing a device the kernel took)\n"
          "until interrupted. With --json, one JSON object per line." },
        { "status", "status", "The daemon's version, the kernel backend (iommufd with VFIO cdevs,\n"
          "or legacy VFIO groups), counts of devices, groups and mdevs, uevents\n"
          "seen and full rescans after udev overruns." },
        { "policy", "policy", "The effective policy: the rules iommud read from iommud.conf(5), then\n"
          "every device with whether it may be assigned and why (the rule that allows\n"
          "it, or what refuses it: not listed, or needed by the host), and whether it\n"
          "is managed, reserved or prepared." },
        { "reload", "reload", "Make iommud read iommud.conf(5) again. A file that does not parse\n"
          "changes nothing: the error names the file, line and problem, and the\n"
          "policy in force stays. Root, or whom polkit allows (org.iommud.reload).\n"
          "'systemctl reload iommud' runs this." },
        { "prepare", "prepare DEVICE... | prepare --group N",
          "Move the devices (PCI addresses, all in one IOMMU group), or every function\n"
          "of group N, to vfio-pci, so that they can be assigned. Members of the\n"
          "group that would keep it from being viable move too; bridges never do.\n"
          "Every device that moves must be allowed by iommud.conf(5), and none may be\n"
          "one the host needs. iommud records each original driver; on any failure\n"
          "it puts the whole group back as it was. Root, or whom polkit allows\n"
          "(org.iommud.prepare)." },
        { "restore", "restore DEVICE... | restore --group N",
          "Give devices iommud prepared back to the drivers they had. Refused while a\n"
          "process holds a device's VFIO node open, and for devices on vfio-pci that\n"
          "iommud did not put there, and for a group a lease has. Root, or whom\n"
          "polkit allows (org.iommud.prepare)." },
        { "claim", "claim [--mode MODE] [--memlock SIZE] [--mdev PARENT/TYPE[/UUID]]... [--vf-token UUID] DEVICE... -- COMMAND [ARGS...]\n"
                   "       iommuctl claim [--mode MODE] [--memlock SIZE] [--mdev ...] --holder-pid PID DEVICE...",
          "Lease the IOMMU groups of the devices (PCI addresses or mdev UUIDs). With\n"
          "COMMAND, iommuctl becomes COMMAND (exec, same process), which holds the\n"
          "lease: it ends when COMMAND exits. COMMAND inherits the fds, and these\n"
          "words in its arguments are replaced: {iommufd} by the iommufd's number,\n"
          "{DEVICE} or {fd:DEVICE} by DEVICE's fd, {ioas} by the IOAS id (bound\n"
          "mode), {lease} by the lease id; on the legacy backend {container} and\n"
          "{group:N}. The\n"
          "environment gets IOMMUD_LEASE, IOMMUD_IOMMUFD, IOMMUD_IOAS_ID,\n"
          "IOMMUD_DEVICE_FDS (DEVICE=FD, space-separated), IOMMUD_CONTAINER and\n"
          "IOMMUD_GROUP_FDS (N=FD). Modes: bound (default) and parked on the\n"
          "iommufd backend; bound and access (no fds: the holder's uid may open\n"
          "/dev/vfio/N while the lease lasts) on the legacy one.\n"
          "--parked and --access are --mode parked and --mode access. For QEMU:\n"
          "  iommuctl claim --parked --memlock 4G 0000:01:00.0 -- \\\n"
          "    qemu-system-x86_64 -object iommufd,id=i0,fd={iommufd} \\\n"
          "    -device vfio-pci,iommufd=i0,fd={0000:01:00.0} ...\n"
          "With --holder-pid, the lease follows that running process and only its\n"
          "description is printed (the fds stay with iommud and the holder gets\n"
          "none: for management stacks that pass fds themselves, use the Claim\n"
          "method). --memlock raises the holder's RLIMIT_MEMLOCK, up to MaxMemlock=.\n"
          "--mdev has iommud create an mdev of TYPE on PARENT (as 'iommuctl mdev types'\n"
          "lists them; a random UUID unless one is given) and add it to the claim;\n"
          "it is removed again when the lease lets go of it (polkit:\n"
          "org.iommud.manage-mdev too). DEVICE... may then be left out. The K-th\n"
          "--mdev (from 0) is {mdev:K} (its fd) and {mdev-uuid:K} in COMMAND's\n"
          "arguments; IOMMUD_MDEVS lists their UUIDs.\n"
          "--vf-token UUID: the VF token the PF's user set, to open SR-IOV VFs whose\n"
          "PF is on vfio-pci with (legacy backend, where vfio-pci asks for it)." },
        { "leases", "leases", "Every lease: id, holder process, mode, devices, and a release request.\n"
          "'iommuctl claims' is the same." },
        { "claims", "claims", "The same as 'iommuctl leases'." },
        { "release", "release LEASE",
          "End the lease now: every device's DMA is cut and iommud's references are\n"
          "closed; each group is free again once no process holds its devices. The\n"
          "holder, whoever asked for the lease, or root may." },
        { "remove-devices", "remove-devices LEASE DEVICE...",
          "Take devices out of a lease (their DMA is cut); groups left without a\n"
          "device of the lease are released." },
        { "request-release", "request-release LEASE --reason TEXT --grace SECONDS",
          "Ask the lease's holder to give it back: Monitor clients see\n"
          "releaseRequested; after SECONDS iommud ends the lease. Root, or whom\n"
          "polkit allows (org.iommud.release-other)." },
};

static int command_usage(const char *cmd) {
        for (size_t i = 0; i < ELEMENTSOF(command_help); i++)
                if (strcmp(cmd, command_help[i].name) == 0) {
                        printf("Usage: iommuctl [--json] [--socket PATH] %s\n\n%s\n",
                               command_help[i].usage, command_help[i].text);
                        return EXIT_OK;
                }
        return EXIT_USAGE;
}

static int connect_daemon(VarlinkClient **ret) {
        const char *path = arg_socket ? arg_socket : getenv("IOMMUD_SOCKET");
        int r;

        if (!path || !*path)
                path = DEFAULT_SOCKET;
        r = varlink_client_connect(path, ret);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                fprintf(stderr, "iommuctl: iommud is not running (nothing listens on %s).\n"
                        "Start it with 'systemctl start iommud.socket', or point --socket at it.\n", path);
                return -EXIT_NOT_RUNNING;
        }
        if (r == -EACCES || r == -EPERM) {
                fprintf(stderr, "iommuctl: not allowed to connect to %s: %s\n", path, strerror(-r));
                return -EXIT_FAIL;
        }
        if (r < 0) {
                fprintf(stderr, "iommuctl: cannot connect to iommud at %s: %s\n", path, strerror(-r));
                return -EXIT_FAIL;
        }
        return 0;
}

/* With --json, a failed call still prints JSON: {"error", "parameters"}. */
static void print_error_json(const char *error, json_object *params) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "error", json_object_new_string(error));
        json_object_object_add(o, "parameters", json_object_get(params));
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE |
                                                       JSON_C_TO_STRING_SPACED));
        json_object_put(o);
}

/* One call, one reply.  Returns an exit code; *ret owns the parameters. */
static int call(VarlinkClient *c, const char *method, json_object *params, json_object **ret) {
        const char *error = NULL;
        json_object *reply = NULL;
        bool continues;
        int r;

        r = varlink_client_call(c, method, params, 0);
        if (r >= 0)
                r = varlink_client_read_reply(c, call_timeout_ms, &reply, &error, &continues);
        if (r < 0) {
                fprintf(stderr, "iommuctl: %s failed: %s\n", method, strerror(-r));
                return EXIT_FAIL;
        }
        if (error) {
                int code = EXIT_FAIL;
                json_object *v;

                if (strcmp(error, IFACE ".NoSuchDevice") == 0 && !json_object_object_get(reply, "message") &&
                    json_object_object_get_ex(reply, "name", &v)) {
                        fprintf(stderr, "iommuctl: no device %s. 'iommuctl list' shows the devices.\n",
                                json_object_get_string(v));
                        code = EXIT_NOT_FOUND;
                } else if (strcmp(error, IFACE ".NoSuchGroup") == 0 && json_object_object_get_ex(reply, "id", &v)) {
                        fprintf(stderr, "iommuctl: no IOMMU group %s. 'iommuctl groups' shows the groups.\n",
                                json_object_get_string(v));
                        code = EXIT_NOT_FOUND;
                } else if (strcmp(error, "org.varlink.service.InvalidParameter") == 0 &&
                           json_object_object_get_ex(reply, "parameter", &v)) {
                        fprintf(stderr, "iommuctl: iommud rejected the %s given.\n", json_object_get_string(v));
                        code = EXIT_USAGE;
                } else if (strncmp(error, IFACE ".", sizeof(IFACE)) == 0 &&
                           json_object_object_get_ex(reply, "message", &v)) {
                        /* Our own errors carry a sentence: say it, and what
                         * can be done about it. */
                        const char *name = error + sizeof(IFACE);
                        fprintf(stderr, "iommuctl: %s\n", json_object_get_string(v));
                        if (strcmp(name, "NotAllowed") == 0 || strcmp(name, "PermissionDenied") == 0 ||
                            strcmp(name, "NotPreparable") == 0 || strcmp(name, "NoIommuGroup") == 0 ||
                            strcmp(name, "NotPrepared") == 0 || strcmp(name, "ConfigInvalid") == 0 ||
                            strcmp(name, "GroupNotViable") == 0 || strcmp(name, "NotReady") == 0 ||
                            strcmp(name, "MemlockNotAllowed") == 0 || strcmp(name, "HolderGone") == 0 ||
                            strcmp(name, "ModeUnavailable") == 0 || strcmp(name, "TooManyDevices") == 0 ||
                            strcmp(name, "NoInstancesLeft") == 0 || strcmp(name, "MdevExists") == 0)
                                code = EXIT_REFUSED;
                        else if (strcmp(name, "Busy") == 0 || strcmp(name, "DeviceInUse") == 0 ||
                                 strcmp(name, "GroupBusy") == 0 || strcmp(name, "TooManyOpenFiles") == 0)
                                code = EXIT_BUSY;
                        else if (strcmp(name, "NoSuchLease") == 0 || strcmp(name, "NoSuchDevice") == 0 ||
                                 strcmp(name, "NoSuchParent") == 0 || strcmp(name, "NoSuchMdevType") == 0)
                                code = EXIT_NOT_FOUND;
                        if (strcmp(name, "ShuttingDown") == 0)
                                code = EXIT_NOT_RUNNING;
                        if (strcmp(name, "NotSriovCapable") == 0 || strcmp(name, "TooManyVfs") == 0 ||
                            strcmp(name, "SriovNotConfigurable") == 0)
                                code = EXIT_REFUSED;
                        if (strcmp(name, "NotAllowed") == 0)
                                fprintf(stderr, "'iommuctl policy' shows what iommud.conf(5) allows and why.\n");
                        if (strcmp(name, "SriovFailed") == 0)
                                ;       /* its message says what the PF has now */
                        else if (json_object_object_get_ex(reply, "rolledBack", &v))
                                fprintf(stderr, "%s\n", json_object_get_boolean(v) ?
                                        "Every device of the group was put back as it was." :
                                        "Not everything could be put back: check 'iommuctl group' and the journal.");
                        if (json_object_object_get_ex(reply, "rollbackMessage", &v) && v)
                                fprintf(stderr, "Rollback: %s\n", json_object_get_string(v));
                        if (arg_json)
                                print_error_json(error, reply);
                } else {
                        fprintf(stderr, "iommuctl: %s failed: %s\n", method, error);
                }
                json_object_put(reply);
                return code;
        }
        *ret = reply ? reply : json_object_new_object();
        return EXIT_OK;
}

static void print_json(json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE |
                                                       JSON_C_TO_STRING_SPACED));
}

static const char *sget(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !v || json_object_get_type(v) == json_type_null)
                return NULL;
        return json_object_get_string(v);
}

static bool bget(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static int terminal_width(void) {
        struct winsize w;
        const char *c = getenv("COLUMNS");
        if (c && atoi(c) > 40)
                return atoi(c);
        if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 40)
                return w.ws_col;
        return 0; /* not a terminal: never truncate */
}

/* "yes", "no IOMMU group", or "blocked by BDF (driver)" from the group. */
static void assignability(json_object *dev, json_object *groups, char *buf, size_t n) {
        json_object *gid;
        size_t len;

        if (!json_object_object_get_ex(dev, "iommuGroup", &gid) || !gid) {
                snprintf(buf, n, "no IOMMU group");
                return;
        }
        if (bget(dev, "assignable")) {
                snprintf(buf, n, "yes");
                return;
        }
        len = json_object_array_length(groups);
        for (size_t i = 0; i < len; i++) {
                json_object *g = json_object_array_get_idx(groups, i), *id, *bl;
                if (!json_object_object_get_ex(g, "id", &id) || json_object_get_int64(id) != json_object_get_int64(gid))
                        continue;
                if (json_object_object_get_ex(g, "blockers", &bl) && json_object_array_length(bl) > 0) {
                        json_object *b = json_object_array_get_idx(bl, 0);
                        size_t more = json_object_array_length(bl) - 1;
                        char extra[32] = "";
                        if (more)
                                snprintf(extra, sizeof(extra), " +%zu", more);
                        if (strcmp(sget(b, "device"), sget(dev, "name")) == 0)
                                snprintf(buf, n, "no: host driver %s%s", sget(b, "driver"), extra);
                        else
                                snprintf(buf, n, "no: %s (%s)%s", sget(b, "device"), sget(b, "driver"), extra);
                        return;
                }
        }
        snprintf(buf, n, "no");
}

static void device_label(json_object *d, char *buf, size_t n) {
        const char *v = sget(d, "vendorName"), *m = sget(d, "deviceName"), *t = sget(d, "mdevType");
        if (t)
                snprintf(buf, n, "mdev %s on %s", t, sget(d, "parent") ? sget(d, "parent") : "?");
        else if (v || m)
                snprintf(buf, n, "%s%s%s", v ? v : "", v && m ? " " : "", m ? m : "");
        else
                snprintf(buf, n, "[%s:%s] class %s", sget(d, "vendorId"), sget(d, "deviceId"), sget(d, "classCode"));
}

static int cmd_list(VarlinkClient *c) {
        json_object *reply = NULL, *greply = NULL, *devs, *groups;
        int width = terminal_width(), r;
        size_t n;

        r = call(c, IFACE ".ListDevices", NULL, &reply);
        if (r != EXIT_OK)
                return r;
        if (arg_json) {
                print_json(json_object_object_get(reply, "devices"));
                json_object_put(reply);
                return EXIT_OK;
        }
        r = call(c, IFACE ".ListGroups", NULL, &greply);
        if (r != EXIT_OK) {
                json_object_put(reply);
                return r;
        }
        devs = json_object_object_get(reply, "devices");
        groups = json_object_object_get(greply, "groups");
        n = json_object_array_length(devs);
        printf("%-12s %-12s %5s  %-30s %-22s %-5s %s\n", "ADDRESS", "DRIVER", "GROUP", "ASSIGNABLE", "VFIO", "LEASE", "NAME");
        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(devs, i), *g;
                char grp[16] = "-", assign[96], label[256], line[512];
                const char *vfio = sget(d, "vfioDevice");

                if (json_object_object_get_ex(d, "iommuGroup", &g) && g)
                        snprintf(grp, sizeof(grp), "%" PRId64, json_object_get_int64(g));
                assignability(d, groups, assign, sizeof(assign));
                if (!vfio)
                        vfio = sget(d, "vfioGroupNode");
                device_label(d, label, sizeof(label));
                snprintf(line, sizeof(line), "%-12s %-12s %5s  %-30s %-22s %-5s %s", sget(d, "name"),
                         sget(d, "driver") ? sget(d, "driver") : "-", grp, assign, vfio ? vfio : "-",
                         sget(d, "lease") ? sget(d, "lease") : "-", label);
                if (width > 0 && (int) strlen(line) > width)
                        line[width] = 0;
                puts(line);
        }
        json_object_put(reply);
        json_object_put(greply);
        return EXIT_OK;
}

static void print_field(const char *label, const char *value) {
        if (value)
                printf("%20s: %s\n", label, value);
}

static int cmd_show(VarlinkClient *c, const char *name) {
        char canon[UUID_STRING_MAX];
        json_object *reply = NULL, *p, *d;
        int r;

        if (pci_address_canonicalize(name, canon) < 0 && uuid_canonicalize(name, canon) < 0) {
                fprintf(stderr, "iommuctl: '%s' is neither a PCI address (0000:00:03.0) nor an mdev UUID.\n", name);
                return EXIT_USAGE;
        }
        p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(canon));
        r = call(c, IFACE ".GetDevice", p, &reply);
        if (r != EXIT_OK)
                return r;
        d = json_object_object_get(reply, "device");
        if (arg_json) {
                print_json(d);
        } else {
                char label[256], ids[64];
                device_label(d, label, sizeof(label));
                printf("%s: %s\n", sget(d, "name"), label);
                print_field("kind", sget(d, "kind"));
                if (sget(d, "vendorId")) {
                        snprintf(ids, sizeof(ids), "%s:%s (subsystem %s:%s), class %s", sget(d, "vendorId"),
                                 sget(d, "deviceId"), sget(d, "subsystemVendorId"), sget(d, "subsystemDeviceId"),
                                 sget(d, "classCode"));
                        print_field("ids", ids);
                }
                print_field("parent", sget(d, "parent"));
                print_field("mdev type", sget(d, "mdevType"));
                print_field("physical function", sget(d, "physfn"));
                if (sget(d, "sriovTotalVfs")) {
                        /* A VF names its PF; the PF's VFs are those that
                         * name it (kept out of the PF's own record, which
                         * would otherwise change with every VF). */
                        json_object *all = NULL, *devs;
                        char line[512];
                        size_t k = (size_t) snprintf(line, sizeof(line), "%s of %s", sget(d, "sriovNumVfs"),
                                                     sget(d, "sriovTotalVfs"));
                        if (call(c, IFACE ".ListDevices", NULL, &all) == EXIT_OK &&
                            json_object_object_get_ex(all, "devices", &devs))
                                for (size_t i = 0, n = 0; i < json_object_array_length(devs) && k < sizeof(line); i++) {
                                        json_object *v = json_object_array_get_idx(devs, i);
                                        if (!sget(v, "physfn") || strcmp(sget(v, "physfn"), sget(d, "name")) != 0)
                                                continue;
                                        k += (size_t) snprintf(line + k, sizeof(line) - k, "%s%s", n++ ? " " : ": ",
                                                               sget(v, "name"));
                                }
                        json_object_put(all);
                        print_field("SR-IOV VFs", line);
                }
                print_field("driver", sget(d, "driver") ? sget(d, "driver") : "(none)");
                print_field("driver_override", sget(d, "driverOverride"));
                print_field("IOMMU group", sget(d, "iommuGroup") ? sget(d, "iommuGroup") : "(none)");
                print_field("assignable", bget(d, "assignable") ? "yes" : "no");
                print_field("policy", sget(d, "policyReason"));
                print_field("host needs it", sget(d, "hostCritical"));
                print_field("held outside iommud", bget(d, "heldOutside") ?
                            "yes: on a VFIO driver iommud did not bind it to; iommud will not move it" : NULL);
                print_field("managed", bget(d, "managed") ? "yes" : NULL);
                print_field("reserved", bget(d, "reserved") ? "yes (vfio-pci from boot)" : NULL);
                if (bget(d, "prepared")) {
                        char from[128];
                        snprintf(from, sizeof(from), "yes, by iommud, from %s",
                                 sget(d, "originalDriver") ? sget(d, "originalDriver") : "no driver");
                        print_field("prepared", from);
                }
                if (bget(d, "blocksGroup"))
                        print_field("blocks its group", sget(d, "blockReason"));
                print_field("VFIO device", sget(d, "vfioDevice"));
                print_field("VFIO group node", sget(d, "vfioGroupNode"));
                print_field("NUMA node", sget(d, "numaNode"));
        }
        json_object_put(reply);
        return EXIT_OK;
}

static void print_group(json_object *g) {
        json_object *devs = json_object_object_get(g, "devices"), *bl = json_object_object_get(g, "blockers");
        size_t n = json_object_array_length(devs), nb = json_object_array_length(bl);

        printf("group %s: %s", sget(g, "id"), bget(g, "viable") ? "viable" : "not viable");
        if (sget(g, "vfioGroupNode"))
                printf(", %s", sget(g, "vfioGroupNode"));
        if (sget(g, "claim") && strcmp(sget(g, "claim"), "free") != 0)
                printf(", %s by lease %s", sget(g, "claim"), sget(g, "lease") ? sget(g, "lease") : "?");
        printf("\n");
        if (sget(g, "releaseHeldBy"))
                printf("  still held: %s\n", sget(g, "releaseHeldBy"));
        for (size_t i = 0; i < n; i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(devs, i));
                const char *why = NULL, *drv = NULL;
                for (size_t k = 0; k < nb; k++) {
                        json_object *b = json_object_array_get_idx(bl, k);
                        if (strcmp(sget(b, "device"), name) == 0) {
                                why = sget(b, "reason");
                                drv = sget(b, "driver");
                        }
                }
                if (why)
                        printf("  %s  blocks: %s (%s); rebind it to vfio-pci or unbind it\n", name, drv, why);
                else
                        printf("  %s\n", name);
        }
}

/* A List* call: the array @key of its reply, as JSON or one @print per
 * element, or @empty when there are none. */
static int cmd_print_list(VarlinkClient *c, const char *method, const char *key, const char *empty,
                          void (*print)(json_object *)) {
        json_object *reply = NULL, *a;
        int r = call(c, method, NULL, &reply);

        if (r != EXIT_OK)
                return r;
        a = json_object_object_get(reply, key);
        if (arg_json)
                print_json(a);
        else if (json_object_array_length(a) == 0)
                printf("%s\n", empty);
        else
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        print(json_object_array_get_idx(a, i));
        json_object_put(reply);
        return EXIT_OK;
}

static int cmd_groups(VarlinkClient *c) {
        return cmd_print_list(c, IFACE ".ListGroups", "groups",
                              "No IOMMU groups on this host: it has no IOMMU, or the IOMMU is off.", print_group);
}

static int cmd_group(VarlinkClient *c, const char *arg) {
        json_object *reply = NULL, *p;
        char *end;
        unsigned long id;
        int r;

        errno = 0;
        id = strtoul(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-' || arg[0] == '+' || id > UINT32_MAX) {
                fprintf(stderr, "iommuctl: '%s' is not an IOMMU group number.\n", arg);
                return EXIT_USAGE;
        }
        p = json_object_new_object();
        json_object_object_add(p, "id", json_object_new_int64((int64_t) id));
        r = call(c, IFACE ".GetGroup", p, &reply);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                print_json(json_object_object_get(reply, "group"));
        else
                print_group(json_object_object_get(reply, "group"));
        json_object_put(reply);
        return EXIT_OK;
}

static int cmd_mdev_types(VarlinkClient *c) {
        json_object *reply = NULL, *parents;
        int r = call(c, IFACE ".ListMdevTypes", NULL, &reply);
        if (r != EXIT_OK)
                return r;
        parents = json_object_object_get(reply, "parents");
        if (arg_json) {
                print_json(parents);
        } else if (json_object_array_length(parents) == 0) {
                printf("No mdev parents on this host.\n");
        } else {
                printf("%-16s %-16s %9s  %-10s %s\n", "PARENT", "TYPE", "AVAILABLE", "API", "NAME");
                for (size_t i = 0; i < json_object_array_length(parents); i++) {
                        json_object *p = json_object_array_get_idx(parents, i), *types = json_object_object_get(p, "types");
                        for (size_t k = 0; k < json_object_array_length(types); k++) {
                                json_object *t = json_object_array_get_idx(types, k);
                                printf("%-16s %-16s %9s  %-10s %s\n", sget(p, "parent"), sget(t, "id"),
                                       sget(t, "availableInstances"), sget(t, "deviceApi") ? sget(t, "deviceApi") : "-",
                                       sget(t, "name") ? sget(t, "name") : "-");
                        }
                }
        }
        json_object_put(reply);
        return EXIT_OK;
}

static int cmd_mdev(VarlinkClient *c, char **args, int n) {
        json_object *p, *reply = NULL;
        bool create;
        int r;

        if (n >= 1 && strcmp(args[0], "types") == 0 && n == 1)
                return cmd_mdev_types(c);
        create = n >= 1 && strcmp(args[0], "create") == 0;
        if (!(create && (n == 3 || n == 4)) && !(n == 2 && strcmp(args[0], "remove") == 0)) {
                fprintf(stderr, "iommuctl: 'mdev' takes types, create PARENT TYPE [UUID] or remove UUID. "
                        "Try 'iommuctl mdev --help'.\n");
                return EXIT_USAGE;
        }
        p = json_object_new_object();
        if (create) {
                json_object_object_add(p, "parent", json_object_new_string(args[1]));
                json_object_object_add(p, "type", json_object_new_string(args[2]));
                if (n == 4)
                        json_object_object_add(p, "uuid", json_object_new_string(args[3]));
        } else
                json_object_object_add(p, "uuid", json_object_new_string(args[1]));
        r = call(c, create ? IFACE ".CreateMdev" : IFACE ".RemoveMdev", p, &reply);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                print_json(reply);
        else if (create)
                printf("%s\n", sget(reply, "uuid"));
        else
                printf("mdev %s removed.\n", args[1]);
        json_object_put(reply);
        return EXIT_OK;
}

/* The VFs of PF @pf as ListDevices has them (those naming it their
 * physfn), into @vfs. */
static int list_vfs(VarlinkClient *c, const char *pf, json_object *vfs) {
        json_object *all = NULL, *devs;
        int r = call(c, IFACE ".ListDevices", NULL, &all);

        if (r != EXIT_OK)
                return r;
        if (json_object_object_get_ex(all, "devices", &devs))
                for (size_t i = 0; i < json_object_array_length(devs); i++) {
                        json_object *v = json_object_array_get_idx(devs, i);
                        if (sget(v, "physfn") && strcmp(sget(v, "physfn"), pf) == 0)
                                json_object_array_add(vfs, json_object_get(v));
                }
        json_object_put(all);
        return EXIT_OK;
}

/* sriov PF [N]: 1 or 2 arguments, N a count the kernel could take. */
static bool sriov_args_valid(char **args, int n, unsigned long *ret_num) {
        char *end = NULL;

        if (n != 1 && n != 2)
                return false;
        if (n == 1)
                return true;
        errno = 0;
        *ret_num = strtoul(args[1], &end, 10);
        return !errno && end != args[1] && !*end && args[1][0] != '-' && *ret_num <= 65535;
}

static int cmd_sriov(VarlinkClient *c, char **args, int n) {
        json_object *p, *reply = NULL, *d, *vfs;
        unsigned long num = 0;
        int r;

        if (!sriov_args_valid(args, n, &num)) {
                fprintf(stderr, "iommuctl: 'sriov' takes a PF's address and, to set it, a VF count (0-65535). "
                        "Try 'iommuctl sriov --help'.\n");
                return EXIT_USAGE;
        }
        p = json_object_new_object();
        if (n == 2) {
                json_object_object_add(p, "device", json_object_new_string(args[0]));
                json_object_object_add(p, "numVfs", json_object_new_int64((int64_t) num));
                r = call(c, IFACE ".SetNumVfs", p, &reply);
        } else {
                json_object_object_add(p, "name", json_object_new_string(args[0]));
                r = call(c, IFACE ".GetDevice", p, &reply);
        }
        if (r != EXIT_OK)
                return r;
        d = json_object_object_get(reply, "device");
        if (n == 1 && !sget(d, "sriovTotalVfs")) {
                fprintf(stderr, "iommuctl: %s is not an SR-IOV physical function.\n", sget(d, "name"));
                json_object_put(reply);
                return EXIT_REFUSED;
        }
        /* Both ways: the PF and its VFs as ListDevices shows them. */
        vfs = json_object_new_array();
        r = list_vfs(c, sget(d, "name"), vfs);
        if (r != EXIT_OK) {
                json_object_put(vfs);
                json_object_put(reply);
                return r;
        }
        json_object_object_add(reply, "vfs", vfs);
        if (arg_json)
                print_json(reply);
        else {
                printf("%s: %s of %s VFs, driver %s\n", sget(d, "name"), sget(d, "sriovNumVfs"),
                       sget(d, "sriovTotalVfs"), sget(d, "driver") ? sget(d, "driver") : "(none)");
                for (size_t i = 0; i < json_object_array_length(vfs); i++) {
                        json_object *v = json_object_array_get_idx(vfs, i);
                        printf("  %s  %-12s group %s\n", sget(v, "name"), sget(v, "driver") ? sget(v, "driver") : "-",
                               sget(v, "iommuGroup") ? sget(v, "iommuGroup") : "-");
                }
        }
        json_object_put(reply);
        return EXIT_OK;
}

/* What the daemon took back at its start: the leases of the process
 * before it (a restart or a crash), see iommud(8), RESTARTS. */
static void print_last_start(json_object *ls) {
        const char *file = ls ? sget(ls, "stateFile") : NULL;
        long rec, without, ended, unknown;

        if (!file)
                return;
        rec = (long) json_object_get_int64(json_object_object_get(ls, "recoveredLeases"));
        without = (long) json_object_get_int64(json_object_object_get(ls, "withoutFiles"));
        ended = (long) json_object_get_int64(json_object_object_get(ls, "endedLeases"));
        unknown = (long) json_object_get_int64(json_object_object_get(ls, "unknownGroups"));
        if (rec == 0 && unknown == 0 && strcmp(file, "ok") != 0 && strcmp(file, "damaged") != 0) {
                printf("%12s: nothing to take back (no state file of an earlier run)\n", "at start");
                return;
        }
        printf("%12s: took back %ld lease(s)", "at start", rec);
        if (without)
                printf(", %ld without their files (iommud had been stopped)", without);
        if (ended)
                printf("; %ld ended then (holder gone, or nobody held their devices)", ended);
        if (unknown)
                printf("; %ld group(s) held by processes of no known lease", unknown);
        if (strcmp(file, "damaged") == 0)
                printf("; the state file was DAMAGED (%s) and not trusted",
                       sget(ls, "problem") ? sget(ls, "problem") : "?");
        else if (strcmp(file, "other-boot") == 0)
                printf("; the state file was from another boot");
        printf("\n");
}

static int cmd_status(VarlinkClient *c) {
        json_object *reply = NULL;
        int r = call(c, IFACE ".GetStatus", NULL, &reply);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                print_json(reply);
        else {
                printf("%12s: %s\n", "version", sget(reply, "version"));
                if (sget(reply, "started")) {
                        time_t t = (time_t) (json_object_get_int64(json_object_object_get(reply, "started")) / 1000000);
                        long up = (long) (time(NULL) - t);
                        char since[64] = "?";
                        struct tm tm;

                        if (localtime_r(&t, &tm))
                                strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm);
                        if (up < 0)
                                up = 0;
                        printf("%12s: pid %s, up %ldd %02ld:%02ld:%02ld (since %s)\n", "daemon", sget(reply, "pid"),
                               up / 86400, up / 3600 % 24, up / 60 % 60, up % 60, since);
                }
                printf("%12s: %s (iommufd %s, VFIO cdev %s, legacy container %s)\n", "backend", sget(reply, "backend"),
                       bget(reply, "iommufd") ? "yes" : "no", bget(reply, "vfioCdev") ? "yes" : "no",
                       bget(reply, "legacyContainer") ? "yes" : "no");
                if (sget(reply, "leaseBackend"))
                        printf("%12s: through the %s backend\n", "leases", sget(reply, "leaseBackend"));
                printf("%12s: %s\n%12s: %s\n%12s: %s\n", "devices", sget(reply, "devices"), "groups",
                       sget(reply, "groups"), "mdevs", sget(reply, "mdevs"));
                printf("%12s: %s (%s full rescans after %s udev overruns)\n", "uevents", sget(reply, "events"),
                       sget(reply, "rescans"), sget(reply, "overruns"));
                if (bget(reply, "configFound"))
                        printf("%12s: %s, %s [Assignable] rule(s)\n", "policy", sget(reply, "config"),
                               sget(reply, "assignableRules"));
                else
                        printf("%12s: no %s: nothing is assignable (see iommud.conf(5))\n", "policy",
                               sget(reply, "config"));
                printf("%12s: %s device(s) moved to vfio-pci by iommud ('iommuctl policy' lists them)\n",
                       "prepared", sget(reply, "prepared") ? sget(reply, "prepared") : "0");
                printf("%12s: %s held, %s group(s) releasing ('iommuctl leases' lists them)\n", "leases",
                       sget(reply, "leases") ? sget(reply, "leases") : "0",
                       sget(reply, "releasingGroups") ? sget(reply, "releasingGroups") : "0");
                print_last_start(json_object_object_get(reply, "lastStart"));
        }
        json_object_put(reply);
        return EXIT_OK;
}

static int cmd_monitor(VarlinkClient *c) {
        int r;

        r = varlink_client_call(c, IFACE ".Monitor", NULL, VARLINK_CALL_MORE);
        if (r < 0) {
                fprintf(stderr, "iommuctl: Monitor failed: %s\n", strerror(-r));
                return EXIT_FAIL;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        for (;;) {
                json_object *reply = NULL, *d, *g, *l;
                const char *error = NULL, *ev;
                bool continues = false;

                r = varlink_client_read_reply(c, -1, &reply, &error, &continues);
                if (r < 0) {
                        fprintf(stderr, "iommuctl: lost iommud: %s\n", strerror(-r));
                        return EXIT_FAIL;
                }
                if (error) {
                        fprintf(stderr, "iommuctl: Monitor failed: %s\n", error);
                        json_object_put(reply);
                        return EXIT_FAIL;
                }
                ev = sget(reply, "event");
                if (arg_json) {
                        puts(json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                } else if (ev && strcmp(ev, "subscribed") == 0) {
                        printf("Monitoring iommud; Ctrl-C ends.\n");
                } else if (json_object_object_get_ex(reply, "device", &d) && d) {
                        char label[256];
                        device_label(d, label, sizeof(label));
                        printf("%-6s device %s driver=%s group=%s %s\n", ev, sget(d, "name"),
                               sget(d, "driver") ? sget(d, "driver") : "-",
                               sget(d, "iommuGroup") ? sget(d, "iommuGroup") : "-", label);
                } else if (json_object_object_get_ex(reply, "group", &g) && g) {
                        printf("%-6s group %s %s", ev, sget(g, "id"), bget(g, "viable") ? "viable" : "not viable");
                        if (sget(g, "claim") && strcmp(sget(g, "claim"), "free") != 0)
                                printf(", %s by lease %s", sget(g, "claim"), sget(g, "lease") ? sget(g, "lease") : "?");
                        printf("\n");
                } else if (json_object_object_get_ex(reply, "lease", &l) && l) {
                        json_object *h = json_object_object_get(l, "holder");
                        printf("%-6s lease %s %s mode, holder %s (pid %s, uid %s)", ev, sget(l, "id"),
                               sget(l, "mode"), sget(h, "command"), sget(h, "pid"), sget(h, "uid"));
                        if (strcmp(ev, "releaseRequested") == 0 && sget(l, "releaseReason"))
                                printf(": %s", sget(l, "releaseReason"));
                        if (strcmp(ev, "deviceRemoved") == 0) {
                                json_object *rd = json_object_object_get(l, "removedDevice");
                                printf(": %s %s", sget(rd, "name") ? sget(rd, "name") : "?",
                                       sget(rd, "reason") ? sget(rd, "reason") : "left the lease");
                        }
                        if (sget(l, "endReason"))
                                printf(": ended, %s", sget(l, "endReason"));
                        printf("\n");
                }
                json_object_put(reply);
                /* One event, one line, now: into a pipe or file too. */
                fflush(stdout);
                if (!continues)
                        return EXIT_OK;
        }
}

static int cmd_policy(VarlinkClient *c) {
        json_object *reply = NULL, *rules, *devs;
        int r;

        r = call(c, IFACE ".GetPolicy", NULL, &reply);
        if (r != EXIT_OK)
                return r;
        if (arg_json) {
                print_json(reply);
                json_object_put(reply);
                return EXIT_OK;
        }
        printf("Policy: %s%s\n", sget(reply, "config"),
               bget(reply, "configFound") ? "" : " (not found: nothing is assignable)");
        rules = json_object_object_get(reply, "rules");
        for (size_t i = 0; i < json_object_array_length(rules); i++) {
                json_object *e = json_object_array_get_idx(rules, i);
                printf("  line %-4s [%s] %s\n", sget(e, "line"), sget(e, "section"), sget(e, "rule"));
        }
        printf("\n%-14s %-7s %-8s %s\n", "DEVICE", "ALLOWED", "FLAGS", "WHY");
        devs = json_object_object_get(reply, "devices");
        for (size_t i = 0; i < json_object_array_length(devs); i++) {
                json_object *e = json_object_array_get_idx(devs, i);
                char flags[8];
                snprintf(flags, sizeof(flags), "%c%c%c", bget(e, "managed") ? 'm' : '-', bget(e, "reserved") ? 'r' : '-',
                         bget(e, "prepared") ? 'p' : '-');
                printf("%-14s %-7s %-8s %s\n", sget(e, "name"), bget(e, "allowed") ? "yes" : "no", flags,
                       sget(e, "reason"));
        }
        printf("\nFLAGS: m managed, r reserved at boot, p prepared by iommud\n");
        json_object_put(reply);
        return EXIT_OK;
}

static int cmd_reload(VarlinkClient *c) {
        json_object *reply = NULL;
        int r;

        r = call(c, IFACE ".Reload", NULL, &reply);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                print_json(reply);
        else if (bget(reply, "configFound"))
                printf("Reloaded %s: %s [Assignable] rules.\n", sget(reply, "config"), sget(reply, "assignableRules"));
        else
                printf("No %s: nothing is assignable.\n", sget(reply, "config"));
        json_object_put(reply);
        return EXIT_OK;
}

static int cmd_rebind(VarlinkClient *c, bool restore, char **names, int n) {
        json_object *p = json_object_new_object(), *reply = NULL, *devs;
        int r;

        if (arg_group) {
                char *end;
                unsigned long g;
                errno = 0;
                g = strtoul(arg_group, &end, 10);
                if (errno || *end || end == arg_group || g > UINT32_MAX || arg_group[0] == '-') {
                        fprintf(stderr, "iommuctl: '%s' is not an IOMMU group number.\n", arg_group);
                        json_object_put(p);
                        return EXIT_USAGE;
                }
                json_object_object_add(p, "group", json_object_new_int64((int64_t) g));
        } else {
                json_object *a = json_object_new_array();
                for (int i = 0; i < n; i++) {
                        char canon[PCI_ADDRESS_STRING_MAX];
                        if (pci_address_canonicalize(names[i], canon) < 0) {
                                fprintf(stderr, "iommuctl: '%s' is not a PCI address (0000:00:03.0 or 00:03.0).\n",
                                        names[i]);
                                json_object_put(a);
                                json_object_put(p);
                                return EXIT_USAGE;
                        }
                        json_object_array_add(a, json_object_new_string(canon));
                }
                json_object_object_add(p, "devices", a);
        }
        /* Each write and bind has its own deadline in iommud; a group of
         * several devices takes several. */
        call_timeout_ms = 300000;
        r = call(c, restore ? IFACE ".Restore" : IFACE ".Prepare", p, &reply);
        if (r != EXIT_OK)
                return r;
        if (arg_json) {
                print_json(reply);
                json_object_put(reply);
                return EXIT_OK;
        }
        devs = json_object_object_get(reply, "devices");
        printf("IOMMU group %s:\n", sget(reply, "group"));
        for (size_t i = 0; i < json_object_array_length(devs); i++) {
                json_object *e = json_object_array_get_idx(devs, i);
                const char *drv = sget(e, "driver") ? sget(e, "driver") : "(none)";
                if (strcmp(sget(e, "action"), "rebound") == 0 || strcmp(sget(e, "action"), "restored") == 0)
                        printf("  %s  %-9s %s -> %s\n", sget(e, "name"), sget(e, "action"),
                               sget(e, "previousDriver") ? sget(e, "previousDriver") : "(none)", drv);
                else
                        printf("  %s  %-9s %s\n", sget(e, "name"), sget(e, "action"), drv);
        }
        json_object_put(reply);
        return EXIT_OK;
}

/* ---- leases ---- */

/* A device name as iommud takes it: a PCI address or an mdev UUID. */
static int device_arg(const char *s, char buf[static UUID_STRING_MAX]) {
        if (pci_address_canonicalize(s, buf) >= 0 || uuid_canonicalize(s, buf) >= 0)
                return 0;
        fprintf(stderr, "iommuctl: '%s' is not a PCI address (0000:00:03.0 or 00:03.0) or an mdev UUID.\n", s);
        return -EXIT_USAGE;
}

static json_object *device_array(char **names, int n) {
        json_object *a = json_object_new_array();

        for (int i = 0; i < n; i++) {
                char canon[UUID_STRING_MAX];
                if (device_arg(names[i], canon) < 0) {
                        json_object_put(a);
                        return NULL;
                }
                json_object_array_add(a, json_object_new_string(canon));
        }
        return a;
}

/* 512, 512K, 64M, 8G, 1T: binary multiples. */
static int parse_size_arg(const char *s, uint64_t *ret) {
        static const char suffixes[] = "KMGT";
        unsigned long long v;
        char *end;
        const char *p;
        unsigned shift = 0;

        errno = 0;
        if (!s || *s == '-' || !*s)
                return -EINVAL;
        v = strtoull(s, &end, 10);
        if (errno || end == s)
                return -EINVAL;
        if (*end) {
                p = strchr(suffixes, *end);
                if (!p || !*p || (end[1] && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0))
                        return -EINVAL;
                shift = 10 * (unsigned) (p - suffixes + 1);
        }
        if (shift && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = (uint64_t) v << shift;
        return 0;
}

static void print_lease(json_object *l) {
        json_object *h = json_object_object_get(l, "holder"), *devs = json_object_object_get(l, "devices");

        json_object *created = json_object_object_get(l, "created");
        char since[64] = "?";

        if (created) {
                time_t t = (time_t) (json_object_get_int64(created) / 1000000);
                struct tm tm;
                if (localtime_r(&t, &tm))
                        strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm);
        }
        printf("lease %s: %s, %s %s mode, held by %s (pid %s, uid %s) since %s", sget(l, "id"),
               sget(l, "releaseReason") ? "release requested" : "held", sget(l, "backend") ? sget(l, "backend") : "",
               sget(l, "mode"), sget(h, "command"), sget(h, "pid"), sget(h, "uid"), since);
        if (sget(l, "memlock"))
                printf(", memlock %s bytes", sget(l, "memlock"));
        printf("\n");
        for (size_t i = 0; i < json_object_array_length(devs); i++) {
                json_object *d = json_object_array_get_idx(devs, i);
                printf("  %s  group %s", sget(d, "name"), sget(d, "iommuGroup"));
                if (sget(d, "vfioDevice"))
                        printf("  %s", sget(d, "vfioDevice"));
                if (sget(d, "devid"))
                        printf("  devid %s", sget(d, "devid"));
                printf("\n");
        }
        {
                json_object *cm = json_object_object_get(l, "createdMdevs");
                for (size_t i = 0; cm && i < json_object_array_length(cm); i++)
                        printf("%s%s", i ? " " : "  mdevs created for the lease (removed after it): ",
                               json_object_get_string(json_object_array_get_idx(cm, i)));
                if (cm && json_object_array_length(cm) > 0)
                        printf("\n");
        }
        if (sget(l, "releaseReason"))
                printf("  release requested: %s\n", sget(l, "releaseReason"));
}

static int cmd_leases(VarlinkClient *c) {
        return cmd_print_list(c, IFACE ".ListLeases", "leases", "No leases.", print_lease);
}

static int cmd_release(VarlinkClient *c, const char *lease) {
        json_object *p = json_object_new_object(), *reply = NULL;
        int r;

        json_object_object_add(p, "lease", json_object_new_string(lease));
        r = call(c, IFACE ".Release", p, &reply);
        if (r == EXIT_OK && !arg_json)
                printf("Lease %s released.\n", lease);
        else if (r == EXIT_OK)
                print_json(reply);
        json_object_put(reply);
        return r;
}

static int cmd_remove_devices(VarlinkClient *c, const char *lease, char **names, int n) {
        json_object *p = json_object_new_object(), *reply = NULL, *a = device_array(names, n);
        int r;

        if (!a) {
                json_object_put(p);
                return EXIT_USAGE;
        }
        json_object_object_add(p, "lease", json_object_new_string(lease));
        json_object_object_add(p, "devices", a);
        r = call(c, IFACE ".RemoveDevices", p, &reply);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                print_json(reply);
        else
                print_lease(json_object_object_get(reply, "lease"));
        json_object_put(reply);
        return EXIT_OK;
}

static int cmd_request_release(VarlinkClient *c, const char *lease) {
        json_object *p, *reply = NULL;
        unsigned long g;
        char *end;
        int r;

        if (!arg_reason || !arg_grace) {
                fprintf(stderr, "iommuctl: request-release needs --reason TEXT and --grace SECONDS.\n");
                return EXIT_USAGE;
        }
        errno = 0;
        g = strtoul(arg_grace, &end, 10);
        if (errno || *end || end == arg_grace || arg_grace[0] == '-' || g > 86400) {
                fprintf(stderr, "iommuctl: --grace takes seconds, 0 to 86400.\n");
                return EXIT_USAGE;
        }
        p = json_object_new_object();
        json_object_object_add(p, "lease", json_object_new_string(lease));
        json_object_object_add(p, "reason", json_object_new_string(arg_reason));
        json_object_object_add(p, "grace", json_object_new_int64((int64_t) g));
        r = call(c, IFACE ".RequestRelease", p, &reply);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                print_json(reply);
        else
                printf("Asked the holder of lease %s to release it; iommud ends it in %lu s.\n", lease, g);
        json_object_put(reply);
        return EXIT_OK;
}

/* The fd at the index @key of @o names, kept open across exec. */
static int take_reply_fd(VarlinkClient *c, json_object *o, const char *key) {
        int fd = varlink_client_take_fd(c, (unsigned) json_object_get_int(json_object_object_get(o, key)));

        if (fd < 0 || fcntl(fd, F_SETFD, 0) < 0) {
                fprintf(stderr, "iommuctl: the reply carried no %s fd.\n", key);
                return -1;
        }
        return fd;
}

/* Replace {iommufd}, {container}, {ioas}, {lease}, {fd:DEVICE} and
 * {group:N} in @arg. */
static char *substitute(const char *arg, int iommufd, int container, const char *ioas, const char *lease,
                        json_object *devs, json_object *groups, json_object *mdevs) {
        size_t size = strlen(arg) * 2 + 64;
        char *out = malloc(size), *o = out;
        const char *p = arg;

        if (!out)
                return NULL;
        while (*p) {
                char val[64] = "";
                const char *close;
                size_t k;

                if (*p != '{' || !(close = strchr(p, '}'))) {
                        *o++ = *p++;
                        continue;
                }
                k = (size_t) (close - p - 1);
                if (k == 7 && strncmp(p + 1, "iommufd", 7) == 0 && iommufd >= 0)
                        snprintf(val, sizeof(val), "%d", iommufd);
                else if (k == 9 && strncmp(p + 1, "container", 9) == 0 && container >= 0)
                        snprintf(val, sizeof(val), "%d", container);
                else if (k > 6 && strncmp(p + 1, "group:", 6) == 0) {
                        for (size_t i = 0; groups && i < json_object_array_length(groups); i++) {
                                json_object *g = json_object_array_get_idx(groups, i);
                                if (strlen(sget(g, "id")) == k - 6 && strncmp(sget(g, "id"), p + 7, k - 6) == 0)
                                        snprintf(val, sizeof(val), "%s", sget(g, "localFd"));
                        }
                        if (!val[0]) {
                                fprintf(stderr, "iommuctl: {%.*s} names no group of the lease.\n", (int) k, p + 1);
                                free(out);
                                return NULL;
                        }
                }
                else if (k == 4 && strncmp(p + 1, "ioas", 4) == 0 && ioas)
                        snprintf(val, sizeof(val), "%s", ioas);
                else if (k == 5 && strncmp(p + 1, "lease", 5) == 0)
                        snprintf(val, sizeof(val), "%s", lease);
                else if ((k > 5 && strncmp(p + 1, "mdev:", 5) == 0) || (k > 10 && strncmp(p + 1, "mdev-uuid:", 10) == 0)) {
                        /* {mdev:K}, {mdev-uuid:K}: the K-th --mdev. */
                        bool fd = p[5] == ':';
                        const char *num = p + (fd ? 6 : 11);
                        size_t len = k - (fd ? 5 : 10), idx = 0;
                        bool ok = len > 0 && len < 3;
                        json_object *u;

                        for (size_t i = 0; ok && i < len; i++) {
                                ok = num[i] >= '0' && num[i] <= '9';
                                idx = idx * 10 + (size_t) (num[i] - '0');
                        }
                        u = ok && mdevs && idx < json_object_array_length(mdevs) ? json_object_array_get_idx(mdevs, idx)
                                                                                  : NULL;
                        if (u && !fd)
                                snprintf(val, sizeof(val), "%s", json_object_get_string(u));
                        for (size_t i = 0; u && fd && i < json_object_array_length(devs); i++) {
                                json_object *d = json_object_array_get_idx(devs, i);
                                if (strcmp(sget(d, "name"), json_object_get_string(u)) == 0 && sget(d, "localFd"))
                                        snprintf(val, sizeof(val), "%s", sget(d, "localFd"));
                        }
                        if (!val[0]) {
                                fprintf(stderr, "iommuctl: {%.*s} names no mdev created for the claim%s.\n", (int) k,
                                        p + 1, fd ? " with an fd" : "");
                                free(out);
                                return NULL;
                        }
                }
                else if (k > 3 && strncmp(p + 1, "fd:", 3) == 0) {
                        char want[UUID_STRING_MAX], name[80];
                        snprintf(name, sizeof(name), "%.*s", (int) (k - 3), p + 4);
                        if (device_arg(name, want) < 0) {
                                free(out);
                                return NULL;
                        }
                        for (size_t i = 0; i < json_object_array_length(devs); i++) {
                                json_object *d = json_object_array_get_idx(devs, i);
                                if (strcmp(sget(d, "name"), want) == 0)
                                        snprintf(val, sizeof(val), "%s", sget(d, "localFd"));
                        }
                        if (!val[0]) {
                                fprintf(stderr, "iommuctl: {fd:%s} names a device that is not claimed.\n", name);
                                free(out);
                                return NULL;
                        }
                } else {
                        /* {DEVICE}: the device's fd, as {fd:DEVICE}. */
                        char want[UUID_STRING_MAX], name[80];
                        snprintf(name, sizeof(name), "%.*s", (int) k, p + 1);
                        if (k < sizeof(name) && (pci_address_canonicalize(name, want) >= 0 ||
                                                 uuid_canonicalize(name, want) >= 0))
                                for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
                                        json_object *d = json_object_array_get_idx(devs, i);
                                        if (strcmp(sget(d, "name"), want) == 0 && sget(d, "localFd"))
                                                snprintf(val, sizeof(val), "%s", sget(d, "localFd"));
                                }
                        if (!val[0]) {
                                *o++ = *p++;
                                continue;
                        }
                }
                memcpy(o, val, strlen(val));
                o += strlen(val);
                p = close + 1;
        }
        *o = 0;
        return out;
}

static int cmd_claim(VarlinkClient *c, char **names, int n, char **command) {
        json_object *p = json_object_new_object(), *reply = NULL, *a, *devs, *lease;
        uint64_t memlock = 0;
        char fdlist[2048] = "", grouplist[1024] = "", buf[64];
        const char *ioas = NULL;
        json_object *groups;
        int iommufd = -1, container = -1, r;

        if (!command && !arg_holder_pid) {
                fprintf(stderr, "iommuctl: a lease ends when its holder exits: give a COMMAND to run with the\n"
                        "devices (claim DEVICE... -- COMMAND), or --holder-pid PID.\n");
                json_object_put(p);
                return EXIT_USAGE;
        }
        a = device_array(names, n);
        if (!a) {
                json_object_put(p);
                return EXIT_USAGE;
        }
        json_object_object_add(p, "devices", a);
        if (arg_n_mdevs > 0) {
                json_object *ms = json_object_new_array();

                json_object_object_add(p, "mdevs", ms);
                for (size_t i = 0; i < arg_n_mdevs; i++) {
                        /* PARENT/TYPE[/UUID]: neither a device name nor a
                         * sysfs type name holds a slash. */
                        char *parent = arg_mdevs[i], *type = strchr(parent, '/'), *uuid;
                        char canon[UUID_STRING_MAX];
                        json_object *o;

                        if (!type || type == parent || !type[1]) {
                                fprintf(stderr, "iommuctl: --mdev takes PARENT/TYPE or PARENT/TYPE/UUID, not '%s'.\n",
                                        arg_mdevs[i]);
                                json_object_put(p);
                                return EXIT_USAGE;
                        }
                        *type++ = 0;
                        uuid = strchr(type, '/');
                        if (uuid)
                                *uuid++ = 0;
                        if (uuid && uuid_canonicalize(uuid, canon) < 0) {
                                fprintf(stderr, "iommuctl: '%s' is not a UUID.\n", uuid);
                                json_object_put(p);
                                return EXIT_USAGE;
                        }
                        o = json_object_new_object();
                        json_object_object_add(o, "parent", json_object_new_string(parent));
                        json_object_object_add(o, "type", json_object_new_string(type));
                        if (uuid)
                                json_object_object_add(o, "uuid", json_object_new_string(canon));
                        json_object_array_add(ms, o);
                }
        }
        if (arg_vf_token) {
                char canon[UUID_STRING_MAX];
                if (uuid_canonicalize(arg_vf_token, canon) < 0) {
                        fprintf(stderr, "iommuctl: --vf-token takes a UUID, not '%s'.\n", arg_vf_token);
                        json_object_put(p);
                        return EXIT_USAGE;
                }
                json_object_object_add(p, "vfToken", json_object_new_string(canon));
        }
        if (arg_mode) {
                if (strcmp(arg_mode, "bound") != 0 && strcmp(arg_mode, "parked") != 0 &&
                    strcmp(arg_mode, "access") != 0) {
                        fprintf(stderr, "iommuctl: --mode is bound, parked (iommufd) or access (legacy).\n");
                        json_object_put(p);
                        return EXIT_USAGE;
                }
                json_object_object_add(p, "mode", json_object_new_string(arg_mode));
        }
        if (arg_memlock) {
                if (parse_size_arg(arg_memlock, &memlock) < 0 || memlock > INT64_MAX) {
                        fprintf(stderr, "iommuctl: --memlock takes a size such as 512M or 8G.\n");
                        json_object_put(p);
                        return EXIT_USAGE;
                }
                json_object_object_add(p, "memlock", json_object_new_int64((int64_t) memlock));
        }
        if (arg_holder_pid) {
                char *end;
                long pid;
                int pidfd, idx;

                errno = 0;
                pid = strtol(arg_holder_pid, &end, 10);
                if (errno || *end || pid <= 0 || pid > INT32_MAX) {
                        fprintf(stderr, "iommuctl: --holder-pid takes a process id.\n");
                        json_object_put(p);
                        return EXIT_USAGE;
                }
                pidfd = (int) syscall(SYS_pidfd_open, (pid_t) pid, 0);
                if (pidfd < 0) {
                        fprintf(stderr, "iommuctl: no process %ld: %s\n", pid, strerror(errno));
                        json_object_put(p);
                        return EXIT_NOT_FOUND;
                }
                idx = varlink_client_push_fd(c, pidfd);
                if (idx < 0) {
                        json_object_put(p);
                        return EXIT_FAIL;
                }
                json_object_object_add(p, "holder", json_object_new_int64(idx));
        }
        /* Preparing managed devices takes a rebind per device. */
        call_timeout_ms = 300000;
        r = call(c, IFACE ".Claim", p, &reply);
        if (r != EXIT_OK)
                return r;
        lease = json_object_object_get(reply, "lease");
        devs = json_object_object_get(reply, "devices");
        if (!command) {
                /* The fds stay unused here; the holder was named. */
                if (arg_json)
                        print_json(lease);
                else
                        print_lease(lease);
                json_object_put(reply);
                return EXIT_OK;
        }

        /* Take the fds out of the reply, keep them across exec. */
        if (json_object_object_get(reply, "iommufd")) {
                iommufd = take_reply_fd(c, reply, "iommufd");
                if (iommufd < 0) {
                        json_object_put(reply);
                        return EXIT_FAIL;
                }
                snprintf(buf, sizeof(buf), "%d", iommufd);
                setenv("IOMMUD_IOMMUFD", buf, 1);
        }
        if (json_object_object_get(reply, "container")) {
                container = take_reply_fd(c, reply, "container");
                if (container < 0) {
                        json_object_put(reply);
                        return EXIT_FAIL;
                }
                snprintf(buf, sizeof(buf), "%d", container);
                setenv("IOMMUD_CONTAINER", buf, 1);
        }
        groups = json_object_object_get(reply, "groups");
        for (size_t i = 0; groups && i < json_object_array_length(groups); i++) {
                json_object *g = json_object_array_get_idx(groups, i);
                int fd = take_reply_fd(c, g, "fd");
                size_t len = strlen(grouplist);

                if (fd < 0) {
                        json_object_put(reply);
                        return EXIT_FAIL;
                }
                json_object_object_add(g, "localFd", json_object_new_int(fd));
                snprintf(grouplist + len, sizeof(grouplist) - len, "%s%s=%d", len ? " " : "", sget(g, "id"), fd);
        }
        if (grouplist[0])
                setenv("IOMMUD_GROUP_FDS", grouplist, 1);
        for (size_t i = 0; i < json_object_array_length(devs); i++) {
                json_object *d = json_object_array_get_idx(devs, i);
                int fd;
                size_t len = strlen(fdlist);

                if (!json_object_object_get(d, "fd"))
                        continue;       /* access mode: no fds */
                fd = varlink_client_take_fd(c, (unsigned) json_object_get_int(json_object_object_get(d, "fd")));
                if (fd < 0 || fcntl(fd, F_SETFD, 0) < 0) {
                        fprintf(stderr, "iommuctl: the reply carried no fd for %s.\n", sget(d, "name"));
                        json_object_put(reply);
                        return EXIT_FAIL;
                }
                json_object_object_add(d, "localFd", json_object_new_int(fd));
                snprintf(fdlist + len, sizeof(fdlist) - len, "%s%s=%d", len ? " " : "", sget(d, "name"), fd);
        }
        ioas = sget(lease, "ioasId");
        setenv("IOMMUD_LEASE", sget(lease, "id"), 1);
        if (ioas)
                setenv("IOMMUD_IOAS_ID", ioas, 1);
        if (fdlist[0])
                setenv("IOMMUD_DEVICE_FDS", fdlist, 1);
        {
                json_object *cm = json_object_object_get(lease, "createdMdevs");
                char list[16 * UUID_STRING_MAX] = "";

                for (size_t i = 0; cm && i < json_object_array_length(cm); i++) {
                        size_t len = strlen(list);
                        snprintf(list + len, sizeof(list) - len, "%s%s", i ? " " : "",
                                 json_object_get_string(json_object_array_get_idx(cm, i)));
                }
                if (list[0])
                        setenv("IOMMUD_MDEVS", list, 1);
        }
        for (char **arg = command; *arg; arg++) {
                char *v = substitute(*arg, iommufd, container, ioas, sget(lease, "id"), devs, groups,
                                     json_object_object_get(lease, "createdMdevs"));
                if (!v) {
                        json_object_put(reply);
                        return EXIT_USAGE;
                }
                *arg = v;
        }
        if (!arg_json)
                fprintf(stderr, "iommuctl: lease %s granted; running %s\n", sget(lease, "id"), command[0]);
        else
                print_json(reply);
        fflush(stdout);
        /* The connection closes on exec (CLOEXEC); the lease stays, and
         * follows this process, which is about to become COMMAND. */
        execvp(command[0], command);
        fprintf(stderr, "iommuctl: cannot run %s: %s; the lease ends as iommuctl exits\n", command[0], strerror(errno));
        return EXIT_FAIL;
}

int main(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_SOCKET, ARG_GROUP, ARG_MODE, ARG_MEMLOCK, ARG_HOLDER_PID, ARG_REASON,
               ARG_GRACE, ARG_PARKED, ARG_ACCESS, ARG_MDEV, ARG_VF_TOKEN };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, 'j' },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "group", required_argument, NULL, ARG_GROUP },
                { "mode", required_argument, NULL, ARG_MODE },
                { "parked", no_argument, NULL, ARG_PARKED },
                { "access", no_argument, NULL, ARG_ACCESS },
                { "memlock", required_argument, NULL, ARG_MEMLOCK },
                { "mdev", required_argument, NULL, ARG_MDEV },
                { "vf-token", required_argument, NULL, ARG_VF_TOKEN },
                { "holder-pid", required_argument, NULL, ARG_HOLDER_PID },
                { "reason", required_argument, NULL, ARG_REASON },
                { "grace", required_argument, NULL, ARG_GRACE },
                { NULL, 0, NULL, 0 }
        };
        _cleanup_(varlink_client_freep) VarlinkClient *c = NULL;
        bool want_help = false;
        char **command = NULL;
        const char *cmd;
        int opt, r;

        /* "--" ends iommuctl's arguments: the rest is claim's COMMAND,
         * kept out of getopt's reach. */
        for (int k = 1; k < argc; k++)
                if (strcmp(argv[k], "--") == 0) {
                        command = argv + k + 1;
                        argv[k] = NULL;
                        argc = k;
                        break;
                }
        /* Options may come before or after the command. */
        while ((opt = getopt_long(argc, argv, "hj", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        want_help = true;
                        break;
                case ARG_VERSION:
                        printf("iommuctl %s\n", PACKAGE_VERSION);
                        return EXIT_OK;
                case 'j':
                        arg_json = true;
                        break;
                case ARG_SOCKET:
                        arg_socket = optarg;
                        break;
                case ARG_GROUP:
                        arg_group = optarg;
                        break;
                case ARG_MODE:
                case ARG_PARKED:
                case ARG_ACCESS: {
                        const char *m = opt == ARG_MODE ? optarg : opt == ARG_PARKED ? "parked" : "access";
                        if (arg_mode && strcmp(arg_mode, m) != 0) {
                                fprintf(stderr, "iommuctl: give one mode (--mode, --parked or --access).\n");
                                return EXIT_USAGE;
                        }
                        arg_mode = m;
                        break;
                }
                case ARG_MEMLOCK:
                        arg_memlock = optarg;
                        break;
                case ARG_VF_TOKEN:
                        arg_vf_token = optarg;
                        break;
                case ARG_MDEV:
                        if (arg_n_mdevs == ELEMENTSOF(arg_mdevs)) {
                                fprintf(stderr, "iommuctl: at most %zu --mdev.\n", ELEMENTSOF(arg_mdevs));
                                return EXIT_USAGE;
                        }
                        arg_mdevs[arg_n_mdevs++] = optarg;
                        break;
                case ARG_HOLDER_PID:
                        arg_holder_pid = optarg;
                        break;
                case ARG_REASON:
                        arg_reason = optarg;
                        break;
                case ARG_GRACE:
                        arg_grace = optarg;
                        break;
                default:
                        fprintf(stderr, "Try 'iommuctl --help'.\n");
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                if (want_help)
                        return help();
                fprintf(stderr, "iommuctl: no command given. Try 'iommuctl --help'.\n");
                return EXIT_USAGE;
        }
        cmd = argv[optind];
        if (want_help) {
                if (command_usage(cmd) == EXIT_OK)
                        return EXIT_OK;
                fprintf(stderr, "iommuctl: unknown command '%s'. Try 'iommuctl --help'.\n", cmd);
                return EXIT_USAGE;
        }

        static const struct {
                const char *name;
                int nargs;
        } cmds[] = {
                { "list", 0 }, { "show", 1 }, { "groups", 0 }, { "group", 1 },
                { "mdev-types", 0 }, { "monitor", 0 }, { "status", 0 }, { "policy", 0 }, { "reload", 0 },
                { "prepare", -1 }, { "restore", -1 }, { "claim", -2 }, { "leases", 0 }, { "claims", 0 }, { "release", 1 },
                { "remove-devices", -3 }, { "request-release", 1 }, { "mdev", -4 },
                { "sriov", -4 },
        };
        size_t i;
        for (i = 0; i < ELEMENTSOF(cmds); i++)
                if (strcmp(cmd, cmds[i].name) == 0)
                        break;
        if (i == ELEMENTSOF(cmds)) {
                fprintf(stderr, "iommuctl: unknown command '%s'. Try 'iommuctl --help'.\n", cmd);
                return EXIT_USAGE;
        }
        if (command && strcmp(cmd, "claim") != 0) {
                fprintf(stderr, "iommuctl: only claim takes '-- COMMAND'.\n");
                return EXIT_USAGE;
        }
        if ((arg_mode || arg_memlock || arg_holder_pid || arg_n_mdevs || arg_vf_token) && strcmp(cmd, "claim") != 0) {
                fprintf(stderr, "iommuctl: --mode, --memlock, --mdev, --vf-token and --holder-pid are for claim.\n");
                return EXIT_USAGE;
        }
        if ((arg_reason || arg_grace) && strcmp(cmd, "request-release") != 0) {
                fprintf(stderr, "iommuctl: --reason and --grace are for request-release.\n");
                return EXIT_USAGE;
        }
        if (cmds[i].nargs == -2 || cmds[i].nargs == -3) {
                /* claim DEVICE...; remove-devices LEASE DEVICE... */
                int n = argc - optind - 1, min = cmds[i].nargs == -2 ? (arg_n_mdevs ? 0 : 1) : 2;
                if (n < min || n > 64 || arg_group) {
                        fprintf(stderr, "iommuctl: '%s' takes %s. Try 'iommuctl %s --help'.\n", cmd,
                                min == 1 ? "one or more devices" : "a lease and one or more devices", cmd);
                        return EXIT_USAGE;
                }
                if (command && !command[0]) {
                        fprintf(stderr, "iommuctl: nothing after '--'. Try 'iommuctl claim --help'.\n");
                        return EXIT_USAGE;
                }
        } else if (cmds[i].nargs == -4) {
                /* mdev SUBCOMMAND ARGS...: cmd_mdev() checks them. */
                if (arg_group) {
                        fprintf(stderr, "iommuctl: --group is for prepare and restore.\n");
                        return EXIT_USAGE;
                }
        } else if (cmds[i].nargs < 0) {
                /* DEVICE... or --group N, not both, not neither. */
                int n = argc - optind - 1;
                if ((n > 0) == (arg_group != NULL) || n > 64) {
                        fprintf(stderr, "iommuctl: '%s' takes PCI addresses or --group N. Try 'iommuctl %s --help'.\n",
                                cmd, cmd);
                        return EXIT_USAGE;
                }
        } else if (arg_group) {
                fprintf(stderr, "iommuctl: --group is for prepare and restore.\n");
                return EXIT_USAGE;
        } else if (argc - optind - 1 != cmds[i].nargs) {
                fprintf(stderr, "iommuctl: '%s' takes %s. Try 'iommuctl %s --help'.\n", cmd,
                        cmds[i].nargs ? "one argument" : "no arguments", cmd);
                return EXIT_USAGE;
        }

        if (strcmp(cmd, "sriov") == 0) {
                unsigned long num;
                if (!sriov_args_valid(argv + optind + 1, argc - optind - 1, &num))
                        return cmd_sriov(NULL, argv + optind + 1, argc - optind - 1);      /* says why */
        }
        r = connect_daemon(&c);
        if (r < 0)
                return -r;
        if (strcmp(cmd, "list") == 0)
                return cmd_list(c);
        if (strcmp(cmd, "show") == 0)
                return cmd_show(c, argv[optind + 1]);
        if (strcmp(cmd, "groups") == 0)
                return cmd_groups(c);
        if (strcmp(cmd, "group") == 0)
                return cmd_group(c, argv[optind + 1]);
        if (strcmp(cmd, "mdev") == 0)
                return cmd_mdev(c, argv + optind + 1, argc - optind - 1);
        if (strcmp(cmd, "mdev-types") == 0)
                return cmd_mdev_types(c);
        if (strcmp(cmd, "sriov") == 0)
                return cmd_sriov(c, argv + optind + 1, argc - optind - 1);
        if (strcmp(cmd, "monitor") == 0)
                return cmd_monitor(c);
        if (strcmp(cmd, "policy") == 0)
                return cmd_policy(c);
        if (strcmp(cmd, "reload") == 0)
                return cmd_reload(c);
        if (strcmp(cmd, "prepare") == 0 || strcmp(cmd, "restore") == 0)
                return cmd_rebind(c, cmd[0] == 'r', argv + optind + 1, argc - optind - 1);
        if (strcmp(cmd, "claim") == 0)
                return cmd_claim(c, argv + optind + 1, argc - optind - 1, command);
        if (strcmp(cmd, "leases") == 0 || strcmp(cmd, "claims") == 0)
                return cmd_leases(c);
        if (strcmp(cmd, "release") == 0)
                return cmd_release(c, argv[optind + 1]);
        if (strcmp(cmd, "remove-devices") == 0)
                return cmd_remove_devices(c, argv[optind + 1], argv + optind + 2, argc - optind - 2);
        if (strcmp(cmd, "request-release") == 0)
                return cmd_request_release(c, argv[optind + 1]);
        return cmd_status(c);
}
