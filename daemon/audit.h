/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * audit.h - the audit trail: one journal record for each decision iommud
 * takes about a device (a claim granted or denied, a lease ended, a
 * release requested, a device moved to a VFIO driver or back, an mdev
 * created or removed, a VF count changed), with a fixed MESSAGE_ID per
 * kind of event and IOMMUD_* fields, so that `journalctl MESSAGE_ID=...`
 * finds them.  The IDs and field names are an interface (iommud(8),
 * AUDIT RECORDS): never change one, add new ones.
 *
 * The record replaces the log line at its spot: its MESSAGE is that
 * line's sentence.  Building the fields is pure (audit_fields()); only
 * audit_log() writes, through the journal's native protocol when stderr
 * is the journal, else as the plain log line.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "lease.h"
#include "process.h"

typedef enum AuditType {
        AUDIT_CLAIM_GRANTED,            /* a new lease, or devices added to one */
        AUDIT_CLAIM_DENIED,             /* any refusal or failure of Claim or AddDevices */
        AUDIT_LEASE_ENDED,              /* with IOMMUD_REASON */
        AUDIT_RELEASE_REQUESTED,        /* RequestRelease of someone else's lease */
        AUDIT_DEVICE_PREPARED,          /* one device moved to a VFIO driver */
        AUDIT_DEVICE_RESTORED,          /* one device moved back to its own driver */
        AUDIT_MDEV_CREATED,
        AUDIT_MDEV_REMOVED,
        AUDIT_VFS_CHANGED,              /* a PF's SR-IOV VF count */
        _AUDIT_TYPE_MAX,
} AuditType;

/* What happened.  Every pointer may be NULL (the field is left out); the
 * strings are borrowed for the call. */
typedef struct AuditEvent {
        AuditType type;
        const char *message;            /* MESSAGE: the sentence the log line says */
        int priority;                   /* PRIORITY; 0: LOG_INFO */
        const char *const *devices;     /* IOMMUD_DEVICE, one field each */
        size_t n_devices;
        const uint32_t *groups;         /* IOMMUD_GROUP, one field each */
        size_t n_groups;
        const char *lease;              /* IOMMUD_LEASE: the lease's id */
        /* IOMMUD_UID, IOMMUD_PID, IOMMUD_COMMAND: the process the event is
         * about (a lease's holder; whoever asked for a claim, a rebind or
         * a change); a pid of 0 and an empty command are left out. */
        const ProcessInfo *process;
        /* IOMMUD_REQUESTER_UID, IOMMUD_REQUESTER_PID: who asked, when not
         * @process (a claim for another process, a release request). */
        const ProcessInfo *requester;
        const char *mode;               /* IOMMUD_MODE: bound, parked, access */
        const char *error;              /* IOMMUD_ERROR: the named error (GroupBusy, ...) */
        const char *reason;             /* IOMMUD_REASON */
        const char *driver;             /* IOMMUD_DRIVER: the device's driver after the event */
        const char *previous_driver;    /* IOMMUD_PREVIOUS_DRIVER: ... and before it */
        const char *mdev_parent;        /* IOMMUD_MDEV_PARENT */
        const char *mdev_type;          /* IOMMUD_MDEV_TYPE */
        int num_vfs;                    /* AUDIT_VFS_CHANGED: IOMMUD_NUM_VFS */
        int previous_num_vfs;           /* ... and IOMMUD_PREVIOUS_NUM_VFS */
} AuditEvent;

/** audit_message_id() - @t's MESSAGE_ID, 32 lower-case hex digits; NULL
 * for no type. */
const char *audit_message_id(AuditType t);
/** audit_type_to_string() - IOMMUD_EVENT's value ("claim-granted"). */
const char *audit_type_to_string(AuditType t);

/** audit_fields() - @e as journal fields, each "KEY=value" (a value may
 * hold any byte but NUL, newlines included: the journal's native
 * protocol carries it in its binary form, so no value can make a field
 * of its own); MESSAGE has its control characters escaped ("\n" as
 * "\x0a"), as it is also printed as a log line.  *@ret is
 * NULL-terminated, *@ret_n its length; free it with audit_fields_free().
 * -EINVAL for no type or no message, -ENOMEM. */
int audit_fields(const AuditEvent *e, char ***ret, size_t *ret_n);
char **audit_fields_free(char **fields);

/** audit_log() - write @e's record: to the journal when stderr is the
 * journal (whatever the log level); else, or when the journal refuses
 * it, the plain log line, at its priority.  Never fails. */
void audit_log(const AuditEvent *e);

/** audit_lease() - audit_log() of @e about lease @l, with @l's id, mode
 * and holder (IOMMUD_UID, _PID, _COMMAND) filled in, and its devices
 * (those at the indexes @idx in @l->devices, or, with @idx NULL, all of
 * them) and their groups. */
void audit_lease(const Lease *l, const size_t *idx, size_t n_idx, const AuditEvent *e);
