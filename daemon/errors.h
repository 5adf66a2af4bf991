/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * errors.h - every named error iommud answers with, in one table.  The
 * varlink face names them org.iommud.Manager.NAME (declared in
 * data/org.iommud.Manager.varlink, whose comments say what each means),
 * the D-Bus face org.iommud1.Error.NAME, with the same meaning; the unit
 * test test-errors holds the IDL to this table.  (The manager's internal
 * "Cancelled", for a caller that went away, is never answered.)
 */
#pragma once

#include <stdbool.h>

#define IOMMUD_ERRORS(X)                                                                                   \
        X(NoSuchDevice) X(NoSuchGroup) X(NoSuchLease) X(PermissionDenied) X(NotAllowed) X(NotPreparable)  \
        X(NoIommuGroup) X(Busy) X(DeviceInUse) X(NotPrepared) X(RebindFailed) X(ConfigInvalid) X(GroupBusy) \
        X(GroupNotViable) X(NotReady) X(BindFailed) X(HolderGone) X(ModeUnavailable) X(TooManyDevices)    \
        X(MemlockNotAllowed) X(TooManyOpenFiles) X(NoSuchParent) X(NoSuchMdevType) X(NoInstancesLeft)          \
        X(MdevExists) X(MdevFailed)                                                                        \
        X(NotSriovCapable) X(TooManyVfs) X(SriovNotConfigurable) X(SriovFailed)                            \
        X(ShuttingDown)

#define IOMMUD_DBUS_ERROR_PREFIX "org.iommud1.Error."

/** iommud_error_known() - whether @name is in the table. */
bool iommud_error_known(const char *name);

/** iommud_error_names() - the table, NULL-terminated. */
const char *const *iommud_error_names(void);
