/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "shared/hex.h"
#include "shared/macro.h"
#include "sysfs.h"

/* The largest file we read: far beyond any real policy. */
#define CONFIG_FILE_MAX (1024 * 1024)

Config *config_new_default(const char *path) {
        Config *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->path = strdup(path ? path : "(defaults)");
        if (!c->path) {
                free(c);
                return NULL;
        }
        return c;
}

static void set_done(ConfigMatchSet *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->matches[i].parent);
        free(s->matches);
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_mdevs; i++) {
                free(c->mdevs[i].parent);
                free(c->mdevs[i].type);
        }
        free(c->mdevs);
        free(c->sriov);
        set_done(&c->assignable);
        set_done(&c->managed);
        set_done(&c->reserve);
        free(c->path);
        free(c);
        return NULL;
}

void config_freep(Config **c) {
        config_free(*c);
}

static int error(char **ret_error, const char *path, unsigned line, const char *fmt, ...) _printf_(4, 5);
static int error(char **ret_error, const char *path, unsigned line, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (ret_error) {
                char *e = NULL;
                int k = line > 0 ? asprintf(&e, "%s:%u: %s", path, line, msg) : asprintf(&e, "%s: %s", path, msg);
                *ret_error = k < 0 ? NULL : e;
        }
        return -EINVAL;
}

/* Exactly @n hex digits, the whole of @s. */
static int parse_hex_exact(const char *s, size_t n, uint32_t *ret) {
        return strlen(s) == n ? hex_parse_fixed(s, n, ret) : -EINVAL;
}

static int parse_match(ConfigMatchKind kind, const char *value, ConfigMatch *m) {
        uint32_t v;

        m->kind = kind;
        switch (kind) {
        case CONFIG_MATCH_ADDRESS:
                return pci_address_parse(value, &m->address);
        case CONFIG_MATCH_ID: {
                char vendor[8], device[8];
                const char *colon = strchr(value, ':');
                if (!colon || colon - value != 4 || strlen(colon + 1) > 4)
                        return -EINVAL;
                memcpy(vendor, value, 4);
                vendor[4] = 0;
                snprintf(device, sizeof(device), "%s", colon + 1);
                if (parse_hex_exact(vendor, 4, &v) < 0)
                        return -EINVAL;
                m->vendor = (uint16_t) v;
                if (strcmp(device, "*") == 0) {
                        m->any_device = true;
                        return 0;
                }
                if (parse_hex_exact(device, 4, &v) < 0)
                        return -EINVAL;
                m->device = (uint16_t) v;
                return 0;
        }
        case CONFIG_MATCH_CLASS: {
                size_t n = strlen(value);
                if ((n != 2 && n != 4 && n != 6) || parse_hex_exact(value, n, &v) < 0)
                        return -EINVAL;
                m->class_prefix = v;
                m->class_digits = (unsigned) n;
                return 0;
        }
        case CONFIG_MATCH_PARENT: {
                char canon[PCI_ADDRESS_STRING_MAX];
                /* A PF's address (canonicalised), or an mdev parent's
                 * device name as sysfs spells it. */
                if (pci_address_canonicalize(value, canon) >= 0)
                        m->parent = strdup(canon);
                else if (sysfs_name_is_valid(value))
                        m->parent = strdup(value);
                else
                        return -EINVAL;
                return m->parent ? 0 : -ENOMEM;
        }
        }
        return -EINVAL;
}

static int set_add(ConfigMatchSet *s, const ConfigMatch *m) {
        ConfigMatch *v = realloc(s->matches, (s->n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        s->matches = v;
        s->matches[s->n++] = *m;
        return 0;
}

/* 64K, 16M, 2G, 1T (powers of 1024) or plain bytes. */
static int parse_size(const char *s, uint64_t *ret) {
        uint64_t v = 0, mult = 1;
        size_t n = strlen(s);
        const char *p;

        if (n == 0 || n > 20)
                return -EINVAL;
        switch (s[n - 1]) {
        case 'K': mult = UINT64_C(1) << 10; n--; break;
        case 'M': mult = UINT64_C(1) << 20; n--; break;
        case 'G': mult = UINT64_C(1) << 30; n--; break;
        case 'T': mult = UINT64_C(1) << 40; n--; break;
        default: break;
        }
        if (n == 0)
                return -EINVAL;
        for (p = s; p < s + n; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

static char *strip(char *s) {
        char *e;
        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                *--e = 0;
        return s;
}

static bool name_chars_ok(const char *s, const char *extra) {
        size_t n = strnlen(s, CONFIG_MDEV_NAME_MAX + 1);

        if (n == 0 || n > CONFIG_MDEV_NAME_MAX || s[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                      ch == '_' || ch == '.' || ch == '-' || ch == ':' || (ch && strchr(extra, ch))))
                        return false;
        }
        return true;
}

bool config_mdev_type_is_valid(const char *s) {
        return s && name_chars_ok(s, "+");
}

int config_mdev_parent_canonicalize(const char *s, char *buf) {
        char canon[PCI_ADDRESS_STRING_MAX];

        if (!s)
                return -EINVAL;
        if (pci_address_canonicalize(s, canon) >= 0) {
                snprintf(buf, CONFIG_MDEV_NAME_MAX + 1, "%s", canon);
                return 0;
        }
        if (!name_chars_ok(s, ""))
                return -EINVAL;
        snprintf(buf, CONFIG_MDEV_NAME_MAX + 1, "%s", s);
        return 0;
}

/* Mdev=PARENT/TYPE/UUID: exactly three parts, each checked. */
static int parse_mdev(const char *value, ConfigMdev *ret, const char **ret_why) {
        char parent[CONFIG_MDEV_NAME_MAX + 1], buf[CONFIG_LINE_MAX + 1], *type, *uuid;

        snprintf(buf, sizeof(buf), "%s", value);
        type = strchr(buf, '/');
        uuid = type ? strchr(type + 1, '/') : NULL;
        if (!type || !uuid || strchr(uuid + 1, '/')) {
                *ret_why = "expected PARENT/TYPE/UUID, such as mtty/mtty-2/6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0b";
                return -EINVAL;
        }
        *type++ = 0;
        *uuid++ = 0;
        if (config_mdev_parent_canonicalize(buf, parent) < 0) {
                *ret_why = "the parent is neither a PCI address nor a device name of letters, digits, '_', '.', "
                           "':' and '-' (at most 64)";
                return -EINVAL;
        }
        if (!config_mdev_type_is_valid(type)) {
                *ret_why = "the type is not an mdev type name of letters, digits, '_', '.', ':', '+' and '-' "
                           "(at most 64)";
                return -EINVAL;
        }
        if (uuid_canonicalize(uuid, ret->uuid) < 0) {
                *ret_why = "the UUID is not 8-4-4-4-12 hex digits";
                return -EINVAL;
        }
        ret->parent = strdup(parent);
        ret->type = strdup(type);
        if (!ret->parent || !ret->type) {
                free(ret->parent);
                free(ret->type);
                return -ENOMEM;
        }
        return 0;
}

/* SriovNumVfs=PF/N: a PF's address and a decimal count, no sign, no
 * leading zero, at most CONFIG_SRIOV_NUMVFS_MAX. */
static int parse_sriov(const char *value, ConfigSriov *ret, const char **ret_why) {
        char buf[CONFIG_LINE_MAX + 1], *n;
        unsigned v = 0;

        snprintf(buf, sizeof(buf), "%s", value);
        n = strchr(buf, '/');
        if (!n || strchr(n + 1, '/')) {
                *ret_why = "expected PF/N, such as 0000:02:00.0/4";
                return -EINVAL;
        }
        *n++ = 0;
        if (pci_address_parse(buf, &ret->pf) < 0) {
                *ret_why = "the PF is not a PCI address such as 0000:02:00.0";
                return -EINVAL;
        }
        if (*n == 0 || strlen(n) > 5 || (n[0] == '0' && n[1] != 0)) {
                *ret_why = "the count is not a number from 0 to 65535";
                return -EINVAL;
        }
        for (const char *p = n; *p; p++) {
                if (*p < '0' || *p > '9') {
                        *ret_why = "the count is not a number from 0 to 65535";
                        return -EINVAL;
                }
                v = v * 10 + (unsigned) (*p - '0');
        }
        if (v > CONFIG_SRIOV_NUMVFS_MAX) {
                *ret_why = "the count is not a number from 0 to 65535 (sriov_totalvfs is 16 bits)";
                return -EINVAL;
        }
        ret->numvfs = v;
        return 0;
}

static int parse_persistent(Config *c, const char *path, unsigned line, const char *key, const char *value,
                            bool *seen_import, char **ret_error) {
        const char *why = NULL;
        int r;

        if (strcmp(key, "ImportMdevctl") == 0) {
                if (*seen_import)
                        return error(ret_error, path, line, "ImportMdevctl= given twice");
                if (strcmp(value, "yes") == 0)
                        c->import_mdevctl = true;
                else if (strcmp(value, "no") == 0)
                        c->import_mdevctl = false;
                else
                        return error(ret_error, path, line, "invalid ImportMdevctl=%s: expected yes or no", value);
                *seen_import = true;
                return 0;
        }
        if (strcmp(key, "Mdev") != 0 && strcmp(key, "SriovNumVfs") != 0)
                return error(ret_error, path, line,
                             "unknown key %s= in [Persistent]: expected Mdev=, SriovNumVfs= or ImportMdevctl=", key);
        if (c->n_mdevs + c->n_sriov >= CONFIG_PERSISTENT_MAX)
                return error(ret_error, path, line, "more than %d [Persistent] definitions", CONFIG_PERSISTENT_MAX);
        if (strcmp(key, "Mdev") == 0) {
                ConfigMdev m = { .line = line }, *v;

                r = parse_mdev(value, &m, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return error(ret_error, path, line, "invalid Mdev=%s: %s", value, why);
                for (size_t i = 0; i < c->n_mdevs; i++)
                        if (strcmp(c->mdevs[i].uuid, m.uuid) == 0) {
                                free(m.parent);
                                free(m.type);
                                return error(ret_error, path, line,
                                             "Mdev= with UUID %s given twice (first on line %u): a UUID names "
                                             "one mdev",
                                             c->mdevs[i].uuid, c->mdevs[i].line);
                        }
                v = realloc(c->mdevs, (c->n_mdevs + 1) * sizeof(*v));
                if (!v) {
                        free(m.parent);
                        free(m.type);
                        return -ENOMEM;
                }
                c->mdevs = v;
                c->mdevs[c->n_mdevs++] = m;
        } else {
                ConfigSriov sv = { .line = line }, *v;
                char a[PCI_ADDRESS_STRING_MAX];

                if (parse_sriov(value, &sv, &why) < 0)
                        return error(ret_error, path, line, "invalid SriovNumVfs=%s: %s", value, why);
                for (size_t i = 0; i < c->n_sriov; i++)
                        if (pci_address_equal(&c->sriov[i].pf, &sv.pf))
                                return error(ret_error, path, line,
                                             "SriovNumVfs= for PF %s given twice (first on line %u)",
                                             pci_address_format(&sv.pf, a), c->sriov[i].line);
                v = realloc(c->sriov, (c->n_sriov + 1) * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                c->sriov = v;
                c->sriov[c->n_sriov++] = sv;
        }
        return 0;
}

int config_parse(const char *text, size_t size, const char *path, Config **ret, char **ret_error) {
        static const struct {
                const char *name;
                size_t offset;
        } match_sections[] = {
                { "Assignable", offsetof(Config, assignable) },
                { "Managed", offsetof(Config, managed) },
                { "Reserve", offsetof(Config, reserve) },
        };
        static const struct {
                const char *key;
                ConfigMatchKind kind;
        } match_keys[] = {
                { "Address", CONFIG_MATCH_ADDRESS },
                { "Id", CONFIG_MATCH_ID },
                { "Class", CONFIG_MATCH_CLASS },
                { "Parent", CONFIG_MATCH_PARENT },
        };
        _cleanup_(config_freep) Config *c = NULL;
        const char *section = NULL, *p = text, *end = text + size;
        ConfigMatchSet *set = NULL;
        size_t total = 0;
        unsigned line = 0;
        bool seen_memlock = false, seen_backend = false, seen_import = false;
        int r;

        if (ret_error)
                *ret_error = NULL;
        c = config_new_default(path);
        if (!c)
                return -ENOMEM;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                char buf[CONFIG_LINE_MAX + 1], *l, *eq, *key, *value;

                line++;
                if (len > CONFIG_LINE_MAX)
                        return error(ret_error, path, line, "line longer than %d bytes", CONFIG_LINE_MAX);
                memcpy(buf, p, len);
                buf[len] = 0;
                p += len + (nl ? 1 : 0);
                for (size_t i = 0; i < len; i++)
                        if (buf[i] == 0 || ((unsigned char) buf[i] < ' ' && buf[i] != '\t') || buf[i] == 0x7f)
                                return error(ret_error, path, line, "control character (byte 0x%02x) in line",
                                             (unsigned char) buf[i]);
                l = strip(buf);
                if (*l == 0 || *l == '#' || *l == ';')
                        continue;
                if (*l == '[') {
                        size_t n = strlen(l);
                        section = NULL;
                        set = NULL;
                        if (l[n - 1] != ']')
                                return error(ret_error, path, line, "section header must end with ']'");
                        l[n - 1] = 0;
                        for (size_t i = 0; i < ELEMENTSOF(match_sections); i++)
                                if (strcmp(l + 1, match_sections[i].name) == 0) {
                                        section = match_sections[i].name;
                                        set = (ConfigMatchSet *) ((char *) c + match_sections[i].offset);
                                }
                        if (strcmp(l + 1, "Limits") == 0)
                                section = "Limits";
                        if (strcmp(l + 1, "Leases") == 0)
                                section = "Leases";
                        if (strcmp(l + 1, "Persistent") == 0)
                                section = "Persistent";
                        if (!section)
                                return error(ret_error, path, line,
                                             "unknown section [%s]: expected [Assignable], [Managed], [Reserve], "
                                             "[Limits], [Leases] or [Persistent]",
                                             l + 1);
                        continue;
                }
                eq = strchr(l, '=');
                if (!eq)
                        return error(ret_error, path, line, "expected KEY=VALUE or [Section]");
                *eq = 0;
                key = strip(l);
                value = strip(eq + 1);
                if (!section)
                        return error(ret_error, path, line, "%s= outside any section", key);
                if (*value == 0)
                        return error(ret_error, path, line, "%s= needs a value", key);
                if (strpbrk(value, " \t"))
                        return error(ret_error, path, line, "white space inside the value of %s=", key);
                if (set) {
                        ConfigMatch m = { .line = line };
                        size_t i;

                        for (i = 0; i < ELEMENTSOF(match_keys); i++)
                                if (strcmp(key, match_keys[i].key) == 0)
                                        break;
                        if (i == ELEMENTSOF(match_keys))
                                return error(ret_error, path, line,
                                             "unknown key %s= in [%s]: expected Address=, Id=, Class= or Parent=",
                                             key, section);
                        r = parse_match(match_keys[i].kind, value, &m);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                static const char *const want[] = {
                                        "a PCI address such as 0000:01:00.0",
                                        "VENDOR:DEVICE in hex, such as 8086:10ca or 8086:*",
                                        "2, 4 or 6 hex digits of the PCI class, such as 0200",
                                        "a PF's PCI address or an mdev parent's device name",
                                };
                                return error(ret_error, path, line, "invalid %s=%s: expected %s", key, value,
                                             want[match_keys[i].kind]);
                        }
                        if (++total > CONFIG_MATCHES_MAX) {
                                free(m.parent);
                                return error(ret_error, path, line, "more than %d rules", CONFIG_MATCHES_MAX);
                        }
                        r = set_add(set, &m);
                        if (r < 0) {
                                free(m.parent);
                                return r;
                        }
                } else if (strcmp(section, "Persistent") == 0) {
                        r = parse_persistent(c, path, line, key, value, &seen_import, ret_error);
                        if (r < 0)
                                return r;
                } else if (strcmp(section, "Leases") == 0) {
                        static const char *const backends[] = {
                                [CONFIG_BACKEND_AUTO] = "auto",
                                [CONFIG_BACKEND_IOMMUFD] = "iommufd",
                                [CONFIG_BACKEND_LEGACY] = "legacy",
                        };
                        size_t i;

                        if (strcmp(key, "Backend") != 0)
                                return error(ret_error, path, line, "unknown key %s= in [Leases]: expected Backend=", key);
                        if (seen_backend)
                                return error(ret_error, path, line, "Backend= given twice");
                        for (i = 0; i < ELEMENTSOF(backends); i++)
                                if (strcmp(value, backends[i]) == 0)
                                        break;
                        if (i == ELEMENTSOF(backends))
                                return error(ret_error, path, line,
                                             "invalid Backend=%s: expected auto, iommufd or legacy", value);
                        c->backend = (ConfigBackend) i;
                        seen_backend = true;
                } else {
                        if (strcmp(key, "MaxMemlock") != 0)
                                return error(ret_error, path, line, "unknown key %s= in [Limits]: expected MaxMemlock=", key);
                        if (seen_memlock)
                                return error(ret_error, path, line, "MaxMemlock= given twice");
                        r = parse_size(value, &c->max_memlock);
                        if (r < 0)
                                return error(ret_error, path, line,
                                             "invalid MaxMemlock=%s: expected a size such as 512M, 64G or bytes%s",
                                             value, r == -ERANGE ? " (this one is too large)" : "");
                        seen_memlock = true;
                }
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, Config **ret, char **ret_error) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        size_t len = 0;
        ssize_t n;
        int r;

        if (ret_error)
                *ret_error = NULL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT) {
                *ret = config_new_default(path);
                return *ret ? 0 : -ENOMEM;
        }
        if (fd < 0 || fstat(fd, &st) < 0) {
                r = -errno;
                error(ret_error, path, 0, "cannot read: %s", strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode))
                return error(ret_error, path, 0, "not a regular file");
        buf = malloc(CONFIG_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        while ((n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len)) > 0) {
                len += (size_t) n;
                if (len > CONFIG_FILE_MAX)
                        return error(ret_error, path, 0, "larger than %d bytes", CONFIG_FILE_MAX);
        }
        if (n < 0) {
                r = -errno;
                error(ret_error, path, 0, "cannot read: %s", strerror(-r));
                return r;
        }
        r = config_parse(buf, len, path, ret, ret_error);
        if (r >= 0)
                (*ret)->found = true;
        return r;
}

static bool match_one(const ConfigMatch *m, const Device *d) {
        switch (m->kind) {
        case CONFIG_MATCH_ADDRESS:
                return d->kind == DEVICE_PCI && pci_address_equal(&m->address, &d->address);
        case CONFIG_MATCH_ID:
                return d->kind == DEVICE_PCI && d->vendor_id == m->vendor && (m->any_device || d->device_id == m->device);
        case CONFIG_MATCH_CLASS:
                return d->kind == DEVICE_PCI && (d->class_code >> (24 - 4 * m->class_digits)) == m->class_prefix;
        case CONFIG_MATCH_PARENT:
                if (d->kind == DEVICE_PCI)
                        return d->physfn && strcmp(d->physfn, m->parent) == 0;
                return d->parent && strcmp(d->parent, m->parent) == 0;
        }
        return false;
}

bool config_match(const ConfigMatchSet *set, const Device *d, unsigned *ret_line) {
        for (size_t i = 0; i < set->n; i++)
                if (match_one(&set->matches[i], d)) {
                        if (ret_line)
                                *ret_line = set->matches[i].line;
                        return true;
                }
        return false;
}

const char *config_match_to_string(const ConfigMatch *m, char *buf, size_t size) {
        char a[PCI_ADDRESS_STRING_MAX];

        switch (m->kind) {
        case CONFIG_MATCH_ADDRESS:
                snprintf(buf, size, "Address=%s", pci_address_format(&m->address, a));
                break;
        case CONFIG_MATCH_ID:
                if (m->any_device)
                        snprintf(buf, size, "Id=%04x:*", m->vendor);
                else
                        snprintf(buf, size, "Id=%04x:%04x", m->vendor, m->device);
                break;
        case CONFIG_MATCH_CLASS:
                snprintf(buf, size, "Class=%0*x", (int) m->class_digits, m->class_prefix);
                break;
        case CONFIG_MATCH_PARENT:
                snprintf(buf, size, "Parent=%s", m->parent);
                break;
        }
        return buf;
}
