/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommud: the device-assignment broker.  main(): arguments, logging, then
 * the manager's start-up and loop.  See iommud(8).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "manager.h"
#include "shared/log.h"

#define DEFAULT_SOCKET "/run/iommud/org.iommud.Manager"
#define DEFAULT_CONFIG "/etc/iommud/iommud.conf"
#define DEFAULT_STATE_DIR "/run/iommud"

static void help(void) {
        printf("Usage: iommud [OPTIONS]\n"
               "\n"
               "The iommud device-assignment broker: watches PCI devices, mdevs and IOMMU\n"
               "groups and serves them over varlink (org.iommud.Manager).\n"
               "\n"
               "Options:\n"
               "  -h --help                 Show this help and exit\n"
               "     --version              Show the version and exit\n"
               "  -l --log-level LEVEL      err, warning, notice, info (default) or debug\n"
               "     --varlink-socket PATH  Listen on PATH when not socket-activated\n"
               "                            (default: " DEFAULT_SOCKET ")\n"
               "     --config PATH          The policy (default: " DEFAULT_CONFIG ";\n"
               "                            none means nothing is assignable)\n"
               "     --state-dir DIR        Where records that must survive a restart go\n"
               "                            (default: " DEFAULT_STATE_DIR ")\n"
               "     --no-dbus              Serve varlink alone: no org.iommud1 on the\n"
               "                            system bus\n"
               "     --stop-timeout SECONDS On SIGTERM, wait at most this long for work\n"
               "                            under way (default: 20); leases stay as they are\n"
               "\n"
               "See iommud(8).\n");
}

int main(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_VARLINK_SOCKET, ARG_CONFIG, ARG_STATE_DIR, ARG_NO_DBUS, ARG_STOP_TIMEOUT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "log-level", required_argument, NULL, 'l' },
                { "varlink-socket", required_argument, NULL, ARG_VARLINK_SOCKET },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "no-dbus", no_argument, NULL, ARG_NO_DBUS },
                { "stop-timeout", required_argument, NULL, ARG_STOP_TIMEOUT },
                { NULL, 0, NULL, 0 }
        };
        ManagerOptions o = { .varlink_socket = DEFAULT_SOCKET, .sysfs_root = "/sys", .config_path = DEFAULT_CONFIG,
                           .state_dir = DEFAULT_STATE_DIR };
        Manager *m = NULL;
        int c, r;

        log_setup("iommud");
        while ((c = getopt_long(argc, argv, "hl:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("iommud %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                case 'l':
                        if (log_set_max_level_from_string(optarg) < 0)
                                return EXIT_FAILURE;
                        break;
                case ARG_VARLINK_SOCKET:
                        if (optarg[0] != '/' || strlen(optarg) >= 108) {
                                log_error("--varlink-socket needs an absolute path shorter than 108 bytes");
                                return EXIT_FAILURE;
                        }
                        o.varlink_socket = optarg;
                        break;
                case ARG_CONFIG:
                        o.config_path = optarg;
                        break;
                case ARG_STATE_DIR:
                        if (optarg[0] != '/') {
                                log_error("--state-dir needs an absolute path");
                                return EXIT_FAILURE;
                        }
                        o.state_dir = optarg;
                        break;
                case ARG_NO_DBUS:
                        o.no_dbus = true;
                        break;
                case ARG_STOP_TIMEOUT: {
                        char *end;
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end || optarg[0] == '-' || v == 0 || v > 3600) {
                                log_error("--stop-timeout needs a number of seconds from 1 to 3600");
                                return EXIT_FAILURE;
                        }
                        o.stop_timeout_usec = (uint64_t) v * 1000000ULL;
                        break;
                }
                default:
                        fprintf(stderr, "Try 'iommud --help'.\n");
                        return EXIT_FAILURE;
                }
        if (optind < argc) {
                log_error("Unexpected argument '%s'. Try 'iommud --help'.", argv[optind]);
                return EXIT_FAILURE;
        }

        r = manager_new(&o, &m);
        if (r >= 0)
                r = manager_startup(m);
        if (r >= 0)
                r = manager_run(m);
        manager_free(m);
        if (r < 0) {
                log_error_errno(r, "Exiting: %m");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
