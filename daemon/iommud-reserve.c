/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommud-reserve: keeps the PCI functions that [Reserve] of iommud.conf
 * lists away from host drivers, before iommud runs.  Two modes:
 *
 *   iommud-reserve [--hot-add] ADDRESS   udev's PROGRAM for one "add"
 *       event (data/udev/40-iommud-reserve.rules): decides, prints the
 *       word for the rule's RESULT (reserve.h), writes nothing; udev
 *       writes driver_override, unbind and drivers_probe itself, to the
 *       event device's own attributes.
 *   iommud-reserve --all                 early at boot, before udev's
 *       coldplug can load a driver that two devices share (a reserved one
 *       and one it does not list): writes driver_override=vfio-pci to
 *       every listed function that is still unbound.
 *
 * A missing or broken policy reserves nothing (exit 0, with the reason in
 * the log): a boot must not fail for it.  Every outcome for a listed
 * device is logged, to the kernel log with --log-kmsg.  See
 * iommud.conf(5), RESERVING DEVICES.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "config.h"
#include "device-sysfs.h"
#include "host-guard.h"
#include "reserve.h"
#include "shared/log.h"
#include "shared/macro.h"

#define DEFAULT_CONFIG "/etc/iommud/iommud.conf"
#define VFIO_PCI "vfio-pci"

/* Exit codes: 0 decided (whatever the verdict), 1 nothing could be decided
 * for this device, 2 usage. */
#define EXIT_UNDECIDED 1
#define EXIT_USAGE 2

static void help(void) {
        printf("Usage: iommud-reserve [OPTIONS] [--hot-add] ADDRESS\n"
               "       iommud-reserve [OPTIONS] --all\n"
               "\n"
               "Keep the PCI functions that [Reserve] of iommud.conf lists away from host\n"
               "drivers. With ADDRESS (a canonical PCI address, as udev's $kernel gives it),\n"
               "print what udev must do for that function's \"add\" event: reserve,\n"
               "reserve-unbind, reserve-keep, or nothing. With --all, write\n"
               "driver_override=" VFIO_PCI " to every listed function that is unbound.\n"
               "\n"
               "Options:\n"
               "  -h --help           Show this help and exit\n"
               "     --version        Show the version and exit\n"
               "     --config PATH    The policy (default: " DEFAULT_CONFIG ")\n"
               "     --hot-add        The event is the kernel's own \"add\" (no SYNTH_UUID):\n"
               "                      a function a driver took at once may be unbound\n"
               "     --all            Every PCI function, before udev's coldplug\n"
               "     --log-kmsg       Also log what happens to listed functions, and\n"
               "                      policy errors, to the kernel log\n"
               "  -l --log-level L    err, warning, notice, info (default) or debug\n"
               "\n"
               "See iommud.conf(5).\n");
}

/* @s as a log can show it, whatever it holds: printable ASCII, the rest
 * as \xNN, cut at 64 bytes. */
static const char *escape(const char *s, char buf[static 300]) {
        size_t k = 0;

        for (size_t i = 0; s[i] && k < 290; i++) {
                unsigned char c = (unsigned char) s[i];
                if (i >= 64) {
                        memcpy(buf + k, "...", 3);
                        k += 3;
                        break;
                }
                if (c >= 0x20 && c < 0x7f && c != '\\')
                        buf[k++] = (char) c;
                else
                        k += (size_t) snprintf(buf + k, 5, "\\x%02x", c);
        }
        buf[k] = 0;
        return buf;
}

/* The policy, or NULL when there is none or it cannot be used: then
 * nothing is reserved, and the log says why. */
static Config *load_policy(const char *path) {
        _cleanup_free_ char *error = NULL;
        Config *c = NULL;
        int r;

        r = config_load(path, &c, &error);
        if (r < 0) {
                if (error)
                        log_warning("Not reserving any device: %s", error);
                else
                        log_warning_errno(r, "Not reserving any device: cannot load %s: %m", path);
                return NULL;
        }
        if (!c->found) {
                log_info("No %s: no device is reserved", path);
                return config_free(c);
        }
        return c;
}

/* Why the host cannot lose @name, or NULL.  Mounts and routes as they
 * are now: in the initramfs that is none yet. */
static const char *critical_reason(Sysfs *s, HostGuard **guard, const char *name) {
        if (!*guard && host_guard_scan_host(s, guard) < 0)
                return NULL;
        return host_guard_reason(*guard, name);
}

static void log_verdict(const Config *c, const Device *d, const ReserveVerdict *v, bool hot_add) {
        const char *drv = d->driver ? d->driver : "(none)";

        switch (v->action) {
        case RESERVE_NOT_LISTED:
                log_debug("%s: not listed in [Reserve] of %s", d->name, c ? c->path : "(no policy)");
                break;
        case RESERVE_REFUSED:
                log_warning("%s: listed in [Reserve] at %s:%u, but not reserved: it %s", d->name, c->path, v->line,
                            v->reason);
                break;
        case RESERVE_DONE:
                log_info("%s: reserved by %s:%u, already on %s", d->name, c->path, v->line, drv);
                break;
        case RESERVE_PROBE:
                log_notice("%s: reserved by %s:%u: driver_override=" VFIO_PCI ", unbound, probing", d->name,
                           c->path, v->line);
                break;
        case RESERVE_UNBIND:
                log_notice("%s: reserved by %s:%u: driver_override=" VFIO_PCI "; %s took it as it was added, "
                           "unbinding it and probing",
                           d->name, c->path, v->line, drv);
                break;
        case RESERVE_KEEP:
                log_warning("%s: reserved by %s:%u, but %s has had it since before this %s event (a driver "
                            "built into the kernel, or loaded in the initramfs): left there, with "
                            "driver_override=" VFIO_PCI " for its next probe",
                            d->name, c->path, v->line, drv, hot_add ? "add" : "coldplug");
                break;
        }
}

static int one(Sysfs *s, const char *config_path, const char *name, bool hot_add) {
        _cleanup_(host_guard_freep) HostGuard *guard = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(device_freep) Device *d = NULL;
        char canon[PCI_ADDRESS_STRING_MAX], esc[300];
        const char *result;
        ReserveVerdict v;
        int r;

        /* Only the kernel's own spelling: nothing else may become a path. */
        if (pci_address_canonicalize(name, canon) < 0 || strcmp(canon, name) != 0) {
                log_error("Refusing '%s': not a canonical PCI address", escape(name, esc));
                return EXIT_UNDECIDED;
        }
        c = load_policy(config_path);
        if (!c || c->reserve.n == 0)
                return EXIT_SUCCESS;
        r = device_read_sysfs(s, SYSFS_BUS_PCI, canon, &d);
        if (r < 0) {
                __extension__ log_internal(r == -ENOENT ? LOG_INFO : LOG_ERR, r, "%s: cannot read it from sysfs: %m", canon);
                return EXIT_UNDECIDED;
        }
        v = reserve_decide(c, d, hot_add, NULL);
        if (v.action != RESERVE_NOT_LISTED)
                /* Only for listed devices: reading mounts and routes for
                 * every PCI function at boot would be waste. */
                v = reserve_decide(c, d, hot_add, critical_reason(s, &guard, canon));
        log_verdict(c, d, &v, hot_add);
        result = reserve_action_to_result(v.action);
        if (result)
                printf("%s\n", result);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_UNDECIDED;
}

static void strvp(char ***v) {
        sysfs_strv_free(*v);
}

static int all(Sysfs *s, const char *config_path) {
        _cleanup_(host_guard_freep) HostGuard *guard = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(strvp) char **names = NULL;
        unsigned n_set = 0, n_failed = 0;
        int r;

        c = load_policy(config_path);
        if (!c || c->reserve.n == 0)
                return EXIT_SUCCESS;
        r = sysfs_list_dir(s, "bus/pci/devices", &names);
        if (r < 0) {
                log_error_errno(r, "Cannot list the PCI functions: %m");
                return EXIT_FAILURE;
        }
        for (char **n = names; *n; n++) {
                _cleanup_(device_freep) Device *d = NULL;
                ReserveVerdict v;

                /* device_read_sysfs() refuses names that are not canonical. */
                if (device_read_sysfs(s, SYSFS_BUS_PCI, *n, &d) < 0)
                        continue;
                v = reserve_decide(c, d, false, NULL);
                if (v.action == RESERVE_NOT_LISTED)
                        continue;
                v = reserve_decide(c, d, false, critical_reason(s, &guard, d->name));
                /* Bound ones are udev's coldplug event's to report. */
                if (v.action == RESERVE_KEEP || v.action == RESERVE_DONE)
                        continue;
                if (v.action != RESERVE_PROBE) {
                        log_verdict(c, d, &v, false);
                        continue;
                }
                r = device_set_driver_override(s, d->name, VFIO_PCI);
                if (r < 0) {
                        log_error_errno(r, "%s: reserved by %s:%u, but writing driver_override failed: %m",
                                        d->name, c->path, v.line);
                        n_failed++;
                        continue;
                }
                log_notice("%s: reserved by %s:%u: driver_override=" VFIO_PCI " before coldplug", d->name, c->path,
                           v.line);
                n_set++;
        }
        log_info("%u PCI function(s) reserved before coldplug, %u failed", n_set, n_failed);
        return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_CONFIG, ARG_HOT_ADD, ARG_ALL, ARG_LOG_KMSG };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "hot-add", no_argument, NULL, ARG_HOT_ADD },
                { "all", no_argument, NULL, ARG_ALL },
                { "log-kmsg", no_argument, NULL, ARG_LOG_KMSG },
                { "log-level", required_argument, NULL, 'l' },
                { NULL, 0, NULL, 0 }
        };
        _cleanup_(sysfs_freep) Sysfs *s = NULL;
        const char *config_path = DEFAULT_CONFIG;
        bool hot_add = false, do_all = false, kmsg = false;
        int c, r;

        log_setup("iommud-reserve");
        while ((c = getopt_long(argc, argv, "hl:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("iommud-reserve %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                case ARG_CONFIG:
                        config_path = optarg;
                        break;
                case ARG_HOT_ADD:
                        hot_add = true;
                        break;
                case ARG_ALL:
                        do_all = true;
                        break;
                case ARG_LOG_KMSG:
                        kmsg = true;
                        break;
                case 'l':
                        if (log_set_max_level_from_string(optarg) < 0)
                                return EXIT_USAGE;
                        break;
                default:
                        fprintf(stderr, "Try 'iommud-reserve --help'.\n");
                        return EXIT_USAGE;
                }
        if (do_all ? optind != argc || hot_add : optind != argc - 1) {
                log_error("Give one PCI address, or --all alone. Try 'iommud-reserve --help'.");
                return EXIT_USAGE;
        }
        /* Outcomes for listed devices and policy errors: notice and up. */
        if (kmsg && (r = log_open_kmsg(LOG_NOTICE)) < 0)
                log_warning_errno(r, "Cannot open /dev/kmsg, logging to stderr only: %m");

        r = sysfs_new("/sys", &s);
        if (r < 0) {
                log_error_errno(r, "Cannot open /sys: %m");
                return EXIT_FAILURE;
        }
        return do_all ? all(s, config_path) : one(s, config_path, argv[optind], hot_add);
}
