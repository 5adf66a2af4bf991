/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * prepared.h - the devices iommud moved to a VFIO driver, with the driver
 * and driver_override each had before, so Restore can put them back.
 *
 * Kept on disk, one file per device (named by its canonical PCI address)
 * in a directory under /run/iommud: it survives a daemon restart, and not
 * a reboot, after which the devices have their boot-time drivers again.
 * A record is written before iommud touches the device and removed only
 * when the device is back where it was, so a crash in between leaves the
 * record for the next start.
 *
 * Files are parsed strictly (a JSON object with exactly the known keys,
 * driver names that are valid sysfs names); a damaged or foreign file is
 * reported in the load errors and ignored, never trusted.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/pci-address.h"

typedef struct PreparedRecord {
        char name[PCI_ADDRESS_STRING_MAX];
        char *driver;           /* the original driver; NULL: it was unbound */
        char *driver_override;  /* the original driver_override; NULL: unset */
} PreparedRecord;

typedef struct PreparedStore PreparedStore;

/** prepared_store_open() - load every record in @dir; a missing @dir is
 * an empty store, created (0700) with the first record.  Files that do not parse are counted in *@ret_damaged
 * (may be NULL) and skipped. */
int prepared_store_open(const char *dir, PreparedStore **ret, unsigned *ret_damaged);
PreparedStore *prepared_store_free(PreparedStore *s);
void prepared_store_freep(PreparedStore **s);

/** prepared_store_put() - record @name's original state, durably (write a
 * temporary file, fsync, rename).  An existing record is kept as it is:
 * the first original wins.  -EINVAL for bad names, -errno. */
int prepared_store_put(PreparedStore *s, const char *name, const char *driver, const char *driver_override);
/** prepared_store_remove() - forget @name (its file too); -ENOENT. */
int prepared_store_remove(PreparedStore *s, const char *name);
const PreparedRecord *prepared_store_get(const PreparedStore *s, const char *name);
size_t prepared_store_size(const PreparedStore *s);
/** prepared_store_iterate() - *@i starts at 0; false at the end.  The
 * store must not change during an iteration. */
bool prepared_store_iterate(const PreparedStore *s, size_t *i, const PreparedRecord **ret);

/** prepared_record_parse() - one record file's text; -EINVAL. */
int prepared_record_parse(const char *name, const char *text, size_t size, PreparedRecord **ret);
PreparedRecord *prepared_record_free(PreparedRecord *r);
