/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * polkit-env.h - Debian's real polkitd on a private dbus-daemon, for the
 * tests that need polkit itself to decide.
 *
 * polkitd reads actions only from /usr/share/polkit-1/actions and rules
 * only from /etc/polkit-1/rules.d and /usr/share/polkit-1/rules.d, so the
 * test moves into a mount namespace of its own and mounts tmpfs over the
 * three; what it writes there is seen by it and its children only, and
 * the machine's own directories are never touched.  The private bus has no
 * service activation: when a test stops polkitd, nothing starts it again
 * behind its back.  Uses cmocka's assertions.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define POLKITD "/usr/lib/polkit-1/polkitd"
#define POLKIT_ACTIONS_DIR "/usr/share/polkit-1/actions"
#define POLKIT_RULES_DIR "/etc/polkit-1/rules.d"
#define POLKIT_VENDOR_RULES_DIR "/usr/share/polkit-1/rules.d"

typedef struct PolkitEnv {
        char dir[64];           /* the test's own: bus.conf, the socket, the logs */
        char bus_address[128];
        pid_t dbus_pid, polkitd_pid;
} PolkitEnv;

/* Checks what the environment needs (root, polkitd, dbus-daemon, the user
 * polkitd, polkit's directories) and enters a mount namespace of the
 * process's own.  NULL when done; otherwise why not, for a TAP
 * "1..0 # SKIP" (under meson's TAP protocol exit 77 would be an error). */
const char *polkit_env_enter(void);

/* A directory /tmp/@name-XXXXXX, tmpfs over polkit's three directories,
 * and a bus configuration (a system bus without activation, listening in
 * the directory) whose body after <listen> and <auth> is @policy: the
 * <policy> and <include> elements. */
void polkit_env_init(PolkitEnv *e, const char *name, const char *policy);

/* Started, and waited for until it answers (dbus-daemon) or owns
 * org.freedesktop.PolicyKit1 (polkitd); their output goes to
 * dbus-daemon.log and polkitd.log in the directory. */
void polkit_env_start_bus(PolkitEnv *e);
void polkit_env_start_polkitd(PolkitEnv *e);

/* Stopped by @sig (continued first, in case it was stopped) and reaped;
 * *@pid becomes -1.  Nothing when *@pid is not a pid. */
void polkit_env_stop(pid_t *pid, int sig);

/* polkitd and dbus-daemon stopped, the directory removed (kept when
 * $TEST_POLKIT_KEEP is set). */
void polkit_env_done(PolkitEnv *e);

/* 1 if @name has an owner on the private bus, 0 if not, -errno when the
 * bus does not answer. */
int polkit_env_name_has_owner(PolkitEnv *e, const char *name);

/* Each line of the directory's file @name, as TAP comments. */
void polkit_env_dump_log(PolkitEnv *e, const char *name);

/* polkitd's log says it compiled and ran @n rules, with no error
 * (polkitd logs a rule's errors and goes on without it); the lines that
 * mention an error are printed as TAP comments. */
void polkit_env_assert_rules_loaded(PolkitEnv *e, unsigned n);

void polkit_env_write_file(const char *path, const char *text);
void polkit_env_copy_file(const char *from, const char *to);

/* Whatever name polkit gives @uid in rules (subject.user): its user name,
 * or the number when it has none. */
void polkit_env_user_name(uid_t uid, char *buf, size_t size);
