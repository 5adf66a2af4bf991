/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/macro.h"
#include "sysfs.h"
#include "vfio-variant.h"

#define ALIAS_FILE_MAX (64u * 1024u * 1024u)
#define VARIANTS_MAX 4096

typedef struct Variant {
        char *pattern;  /* after "vfio_pci:" */
        char *module;
} Variant;

struct VfioVariants {
        Variant *v;
        size_t n;
};

VfioVariants *vfio_variants_free(VfioVariants *v) {
        if (!v)
                return NULL;
        for (size_t i = 0; i < v->n; i++) {
                free(v->v[i].pattern);
                free(v->v[i].module);
        }
        free(v->v);
        free(v);
        return NULL;
}

void vfio_variants_freep(VfioVariants **v) {
        vfio_variants_free(*v);
}

size_t vfio_variants_count(const VfioVariants *v) {
        return v ? v->n : 0;
}

/* A module name as a driver name: what sysfs would accept, no '/' etc. */
static bool module_ok(const char *s, size_t n) {
        if (n == 0 || n >= 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_' || s[i] == '-'))
                        return false;
        return true;
}

int vfio_variants_parse(const char *text, size_t size, VfioVariants **ret) {
        static const char prefix[] = "alias vfio_pci:";
        _cleanup_(vfio_variants_freep) VfioVariants *v = calloc(1, sizeof(*v));
        const char *p = text, *end = text + size;

        if (!v)
                return -ENOMEM;
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                const char *line = p, *sp;
                size_t len;

                if (!eol)
                        eol = end;
                p = eol + 1;
                len = (size_t) (eol - line);
                if (len <= sizeof(prefix) - 1 || memcmp(line, prefix, sizeof(prefix) - 1) != 0)
                        continue;
                line += sizeof(prefix) - 1;
                len -= sizeof(prefix) - 1;
                sp = memchr(line, ' ', len);
                if (!sp || sp == line || !module_ok(sp + 1, (size_t) (eol - sp - 1)) || v->n >= VARIANTS_MAX)
                        continue;
                /* vfio-pci itself carries "vfio_pci:v*d*sv*sd*bc*sc*i*
                 * vfio_pci" (its driver_override alias); it is the
                 * fallback, not a variant, and its module name is not its
                 * driver's name (vfio-pci).  Seen on Debian's 6.1 kernel,
                 * where taking it made every bind wait for "vfio_pci". */
                if ((size_t) (eol - sp - 1) == strlen("vfio_pci") && memcmp(sp + 1, "vfio_pci", 8) == 0)
                        continue;
                {
                        Variant *nv = realloc(v->v, (v->n + 1) * sizeof(*nv));
                        if (!nv)
                                return -ENOMEM;
                        v->v = nv;
                        v->v[v->n].pattern = strndup(line, (size_t) (sp - line));
                        v->v[v->n].module = strndup(sp + 1, (size_t) (eol - sp - 1));
                        if (!v->v[v->n].pattern || !v->v[v->n].module) {
                                free(v->v[v->n].pattern);
                                free(v->v[v->n].module);
                                return -ENOMEM;
                        }
                        v->n++;
                }
        }
        *ret = TAKE_PTR(v);
        return 0;
}

int vfio_variants_load(const char *path, VfioVariants **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t off = 0;

        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                return vfio_variants_parse("", 0, ret);
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size > ALIAS_FILE_MAX)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (off < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + off, (size_t) st.st_size - off);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                off += (size_t) n;
        }
        return vfio_variants_parse(buf, off, ret);
}

const char *vfio_variants_lookup(const VfioVariants *v, const char *modalias) {
        if (!v || !modalias || strncmp(modalias, "pci:", 4) != 0)
                return NULL;
        for (size_t i = 0; i < v->n; i++)
                if (fnmatch(v->v[i].pattern, modalias + 4, 0) == 0)
                        return v->v[i].module;
        return NULL;
}
