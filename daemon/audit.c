/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
/* Every record would say audit.c:audit_log(): CODE_FILE and friends
 * tell nothing here. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "audit.h"
#include "shared/log.h"
#include "shared/macro.h"

/* Made once with uuid4() and fixed for good: admins' queries and
 * catalogs name them (iommud(8), AUDIT RECORDS). */
static const struct {
        const char *id;
        const char *name;
} types[_AUDIT_TYPE_MAX] = {
        [AUDIT_CLAIM_GRANTED]     = { "ff95a8dcbd8249c09e83f2388f6e8eee", "claim-granted" },
        [AUDIT_CLAIM_DENIED]      = { "44f86f5818cd49f3884ef4648b616922", "claim-denied" },
        [AUDIT_LEASE_ENDED]       = { "ee0c279c5431437484a320d333c387e3", "lease-ended" },
        [AUDIT_RELEASE_REQUESTED] = { "0babce7710aa45b7a45af64dd9468f74", "release-requested" },
        [AUDIT_DEVICE_PREPARED]   = { "4acd8c0ca8c0499db2f00736afb2aea6", "device-prepared" },
        [AUDIT_DEVICE_RESTORED]   = { "79d7299e2a9147b58c13e88a7d7795d8", "device-restored" },
        [AUDIT_MDEV_CREATED]      = { "1cbdeb14a94b4949a0e9a4a855862acb", "mdev-created" },
        [AUDIT_MDEV_REMOVED]      = { "acdb294f008149558c67b535efc8aa50", "mdev-removed" },
        [AUDIT_VFS_CHANGED]       = { "7b4fa6e24da34964b5619bf5d3878f03", "vfs-changed" },
};

const char *audit_message_id(AuditType t) {
        return t >= 0 && t < _AUDIT_TYPE_MAX ? types[t].id : NULL;
}

const char *audit_type_to_string(AuditType t) {
        return t >= 0 && t < _AUDIT_TYPE_MAX ? types[t].name : NULL;
}

char **audit_fields_free(char **fields) {
        for (char **f = fields; f && *f; f++)
                free(*f);
        free(fields);
        return NULL;
}

typedef struct Fields {
        char **v;
        size_t n, size;
        bool oom;
} Fields;

_printf_(2, 3) static void add(Fields *f, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        if (f->oom)
                return;
        if (f->n + 2 > f->size) {
                size_t size = f->size ? f->size * 2 : 32;
                char **v = realloc(f->v, size * sizeof(*v));
                if (!v) {
                        f->oom = true;
                        return;
                }
                f->v = v;
                f->size = size;
        }
        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                f->oom = true;
                return;
        }
        f->v[f->n++] = s;
        f->v[f->n] = NULL;
}

static void add_str(Fields *f, const char *key, const char *value) {
        if (value && value[0])
                add(f, "%s=%s", key, value);
}

/* The sentence, safe to print as a log line of its own: a newline in a
 * process name would otherwise start a line of the caller's making. */
static char *escape_message(const char *s) {
        char *out = malloc(strlen(s) * 4 + 1), *p = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c < 0x20 || c == 0x7f)
                        p += sprintf(p, "\\x%02x", c);
                else
                        *p++ = (char) c;
        }
        *p = 0;
        return out;
}

int audit_fields(const AuditEvent *e, char ***ret, size_t *ret_n) {
        _cleanup_free_ char *msg = NULL;
        Fields f = { 0 };

        if (!e || !audit_message_id(e->type) || !e->message)
                return -EINVAL;
        msg = escape_message(e->message);
        if (!msg)
                return -ENOMEM;
        add(&f, "MESSAGE=%s", msg);
        add(&f, "MESSAGE_ID=%s", types[e->type].id);
        add(&f, "PRIORITY=%d", e->priority > 0 ? e->priority : LOG_INFO);
        add(&f, "IOMMUD_EVENT=%s", types[e->type].name);
        for (size_t i = 0; i < e->n_devices; i++)
                add_str(&f, "IOMMUD_DEVICE", e->devices[i]);
        for (size_t i = 0; i < e->n_groups; i++)
                add(&f, "IOMMUD_GROUP=%u", e->groups[i]);
        add_str(&f, "IOMMUD_LEASE", e->lease);
        if (e->process) {
                add(&f, "IOMMUD_UID=%u", (unsigned) e->process->uid);
                if (e->process->pid > 0)
                        add(&f, "IOMMUD_PID=%d", (int) e->process->pid);
                add_str(&f, "IOMMUD_COMMAND", e->process->comm);
        }
        if (e->requester) {
                add(&f, "IOMMUD_REQUESTER_UID=%u", (unsigned) e->requester->uid);
                if (e->requester->pid > 0)
                        add(&f, "IOMMUD_REQUESTER_PID=%d", (int) e->requester->pid);
        }
        add_str(&f, "IOMMUD_MODE", e->mode);
        add_str(&f, "IOMMUD_ERROR", e->error);
        add_str(&f, "IOMMUD_REASON", e->reason);
        add_str(&f, "IOMMUD_DRIVER", e->driver);
        add_str(&f, "IOMMUD_PREVIOUS_DRIVER", e->previous_driver);
        add_str(&f, "IOMMUD_MDEV_PARENT", e->mdev_parent);
        add_str(&f, "IOMMUD_MDEV_TYPE", e->mdev_type);
        if (e->type == AUDIT_VFS_CHANGED) {
                add(&f, "IOMMUD_NUM_VFS=%d", e->num_vfs);
                add(&f, "IOMMUD_PREVIOUS_NUM_VFS=%d", e->previous_num_vfs);
        }
        if (f.oom) {
                audit_fields_free(f.v);
                return -ENOMEM;
        }
        *ret = f.v;
        *ret_n = f.n;
        return 0;
}

void audit_log(const AuditEvent *e) {
        char **fields = NULL;
        size_t n = 0;
        int priority = e->priority > 0 ? e->priority : LOG_INFO;

        if (audit_fields(e, &fields, &n) < 0) {
                log_internal(priority, 0, "%s", e->message ? e->message : "(audit record without a message)");
                return;
        }
        if (log_to_journal()) {
                /* Each field one iovec: sd_journal_sendv() sends a value
                 * holding a newline in the native protocol's binary form
                 * (length-prefixed), so it stays that one field. */
                _cleanup_free_ struct iovec *iov = calloc(n, sizeof(*iov));

                if (iov) {
                        for (size_t i = 0; i < n; i++)
                                iov[i] = (struct iovec) { .iov_base = fields[i], .iov_len = strlen(fields[i]) };
                        if (sd_journal_sendv(iov, (int) n) >= 0) {
                                audit_fields_free(fields);
                                return;
                        }
                }
        }
        /* No journal (a test, a terminal), or it refused: the line at
         * least, with the sentence as the record has it (fields[0]). */
        log_internal(priority, 0, "%s", fields[0] + strlen("MESSAGE="));
        audit_fields_free(fields);
}

void audit_lease(const Lease *l, const size_t *idx, size_t n_idx, const AuditEvent *e) {
        size_t n = idx ? n_idx : l->n_devices;
        _cleanup_free_ const char **names = calloc(n + 1, sizeof(*names));
        _cleanup_free_ uint32_t *groups = calloc(n + 1, sizeof(*groups));
        AuditEvent a = *e;

        a.lease = l->id_string;
        a.mode = lease_mode_to_string(l->mode);
        a.process = &l->holder;
        if (names && groups) {
                for (size_t i = 0; i < n; i++) {
                        size_t k = idx ? idx[i] : i;
                        bool seen = false;

                        if (k >= l->n_devices)
                                continue;
                        names[a.n_devices++] = l->devices[k].name;
                        for (size_t j = 0; j < a.n_groups; j++)
                                seen = seen || groups[j] == l->devices[k].group;
                        if (!seen)
                                groups[a.n_groups++] = l->devices[k].group;
                }
                a.devices = names;
                a.groups = groups;
        }
        audit_log(&a);
}
