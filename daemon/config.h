/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.h - /etc/iommud/iommud.conf: which devices may be assigned, which
 * are managed, which are reserved at boot, limits, and the mdevs and VF
 * counts iommud makes at every start ([Persistent]).  See iommud.conf(5).
 *
 * Parsed strictly: an unknown section or key, a malformed value, a stray
 * character is an error naming the file and line, and a daemon with a
 * broken configuration refuses to start rather than guess.  No file means
 * the defaults: nothing is assignable.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

typedef enum ConfigMatchKind {
        CONFIG_MATCH_ADDRESS,   /* Address=0000:01:00.0 */
        CONFIG_MATCH_ID,        /* Id=8086:10ca, Id=8086:* */
        CONFIG_MATCH_CLASS,     /* Class=02, 0200 or 020000 */
        CONFIG_MATCH_PARENT,    /* Parent=0000:02:00.0 (its VFs) or mtty (its mdevs) */
} ConfigMatchKind;

typedef struct ConfigMatch {
        ConfigMatchKind kind;
        unsigned line;
        PciAddress address;
        uint16_t vendor, device;
        bool any_device;
        uint32_t class_prefix;
        unsigned class_digits;  /* 2, 4 or 6 */
        char *parent;
} ConfigMatch;

typedef struct ConfigMatchSet {
        ConfigMatch *matches;
        size_t n;
} ConfigMatchSet;

/* [Leases] Backend=: which kernel interface leases use. */
typedef enum ConfigBackend {
        CONFIG_BACKEND_AUTO,            /* iommufd and VFIO cdevs when the kernel has them, else legacy */
        CONFIG_BACKEND_IOMMUFD,
        CONFIG_BACKEND_LEGACY,
} ConfigBackend;

/* [Persistent] Mdev=PARENT/TYPE/UUID: an mdev iommud creates when it is
 * missing.  Every name is checked here, before it can reach a path. */
typedef struct ConfigMdev {
        unsigned line;
        char *parent;                   /* canonical PCI address, or a device name (mtty) */
        char *type;                     /* as in mdev_supported_types: "mtty-2" */
        char uuid[UUID_STRING_MAX];     /* canonical */
} ConfigMdev;

/* [Persistent] SriovNumVfs=PF/N: the VF count a PF should have. */
typedef struct ConfigSriov {
        unsigned line;
        PciAddress pf;
        unsigned numvfs;                /* 0..CONFIG_SRIOV_NUMVFS_MAX */
} ConfigSriov;

typedef struct Config {
        char *path;
        bool found;             /* false: no file, the defaults */
        ConfigMatchSet assignable;
        ConfigMatchSet managed;
        ConfigMatchSet reserve;
        uint64_t max_memlock;   /* bytes; 0: none granted */
        ConfigBackend backend;
        ConfigMdev *mdevs;
        size_t n_mdevs;
        ConfigSriov *sriov;
        size_t n_sriov;
        bool import_mdevctl;    /* [Persistent] ImportMdevctl=yes: /etc/mdevctl.d too */
} Config;

#define CONFIG_LINE_MAX 1024
#define CONFIG_MATCHES_MAX 4096
/* [Persistent] definitions, Mdev= and SriovNumVfs= together. */
#define CONFIG_PERSISTENT_MAX 4096
/* sriov_totalvfs is a u16 in the kernel. */
#define CONFIG_SRIOV_NUMVFS_MAX 65535
/* The longest mdev type or parent name taken: the kernel's are far shorter
 * ("mtty-2", "nvidia-63", "i915-GVTg_V5_4"). */
#define CONFIG_MDEV_NAME_MAX 64

/** config_parse() - parse @text (@size bytes) read from @path.  On a
 * parse error returns -EINVAL with "PATH:LINE: what is wrong" in
 * *@ret_error (caller frees). */
int config_parse(const char *text, size_t size, const char *path, Config **ret, char **ret_error);

/** config_load() - read and parse @path; a missing file gives the
 * defaults (nothing assignable).  Errors as config_parse(), or -errno
 * with the reason in *@ret_error. */
int config_load(const char *path, Config **ret, char **ret_error);

Config *config_new_default(const char *path);
Config *config_free(Config *c);
void config_freep(Config **c);

/** config_match() - whether @d matches any rule of @set; the first
 * matching rule's line in *@ret_line. */
bool config_match(const ConfigMatchSet *set, const Device *d, unsigned *ret_line);

/** config_mdev_type_is_valid() - an mdev type name as sysfs could list it:
 * 1..CONFIG_MDEV_NAME_MAX of [A-Za-z0-9_.:+-], not starting with '.'. */
bool config_mdev_type_is_valid(const char *s);

/** config_mdev_parent_canonicalize() - an mdev parent's name: a PCI
 * address (any spelling pci_address_parse() takes, written canonical) or
 * a device name of [A-Za-z0-9_.:-], 1..CONFIG_MDEV_NAME_MAX, not starting
 * with '.' (mtty).  -EINVAL for anything else; @buf holds
 * CONFIG_MDEV_NAME_MAX + 1 bytes. */
int config_mdev_parent_canonicalize(const char *s, char *buf);

/** config_match_to_string() - the rule as it would be written ("Id=8086:10d3"). */
const char *config_match_to_string(const ConfigMatch *m, char *buf, size_t size);
