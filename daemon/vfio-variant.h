/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio-variant.h - which VFIO driver a PCI function should be given:
 * vfio-pci, or a vendor's variant driver (mlx5_vfio_pci, ...) when
 * modules.alias has a "vfio_pci:" alias matching the function's modalias,
 * as the kernel's vfio documentation and libvirt do.
 */
#pragma once

#include <stddef.h>

typedef struct VfioVariants VfioVariants;

/** vfio_variants_parse() - the "alias vfio_pci:PATTERN MODULE" lines of a
 * modules.alias text; other lines and malformed ones are ignored, and so
 * is vfio-pci's own catch-all alias (module vfio_pci). */
int vfio_variants_parse(const char *text, size_t size, VfioVariants **ret);
/** vfio_variants_load() - the same from @path; a missing file is none. */
int vfio_variants_load(const char *path, VfioVariants **ret);
VfioVariants *vfio_variants_free(VfioVariants *v);
void vfio_variants_freep(VfioVariants **v);
size_t vfio_variants_count(const VfioVariants *v);

/** vfio_variants_lookup() - the variant driver for @modalias (the
 * device's sysfs modalias, "pci:v...d...sv...sd...bc..sc..i.."), or NULL:
 * then vfio-pci.  The first matching alias wins, as in modprobe. */
const char *vfio_variants_lookup(const VfioVariants *v, const char *modalias);
