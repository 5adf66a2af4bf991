/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "varlink-client.h"

/* ---- names ---- */

static bool is_lower(char c) {
        return c >= 'a' && c <= 'z';
}

static bool is_upper(char c) {
        return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_alnum(char c) {
        return is_lower(c) || is_upper(c) || is_digit(c);
}

/* Interface names in [start, end). */
static bool interface_name_is_valid_n(const char *name, size_t n) {
        size_t labels = 0;
        const char *p = name, *end = name + n;

        if (n == 0 || n > VARLINK_NAME_MAX)
                return false;
        if (!is_lower(*p) && !is_upper(*p))
                return false;
        while (p < end) {
                const char *label = p;

                while (p < end && *p != '.') {
                        if (!is_alnum(*p) && *p != '-')
                                return false;
                        p++;
                }
                /* non-empty, not starting or ending with '-' */
                if (p == label || *label == '-' || p[-1] == '-')
                        return false;
                labels++;
                if (p < end) {
                        p++;
                        if (p == end)
                                return false;   /* trailing dot */
                }
        }
        return labels >= 2;
}

bool varlink_interface_name_is_valid(const char *name) {
        return name && interface_name_is_valid_n(name, strlen(name));
}

bool varlink_member_name_is_valid(const char *name) {
        size_t n;

        if (!name || !is_upper(name[0]))
                return false;
        n = strlen(name);
        if (n > VARLINK_NAME_MAX)
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_alnum(name[i]))
                        return false;
        return true;
}

bool varlink_qualified_name_is_valid(const char *name) {
        const char *dot;

        if (!name || strlen(name) > VARLINK_NAME_MAX)
                return false;
        dot = strrchr(name, '.');
        if (!dot)
                return false;
        return interface_name_is_valid_n(name, (size_t) (dot - name)) &&
               varlink_member_name_is_valid(dot + 1);
}

/* ---- parameter getters ---- */

/* The value under @key: 1 present, 0 absent and optional, -ENOENT. */
static int get_value(json_object *params, const char *key, bool required, json_object **ret) {
        json_object *v = NULL;

        if (params && json_object_is_type(params, json_type_object))
                (void) json_object_object_get_ex(params, key, &v);
        if (!v)         /* missing, or JSON null */
                return required ? -ENOENT : 0;
        *ret = v;
        return 1;
}

int varlink_json_get_string(json_object *params, const char *key, bool required, size_t max_len,
                            const char **ret) {
        json_object *v;
        const char *s;
        int r, len;

        r = get_value(params, key, required, &v);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, json_type_string))
                return -EINVAL;
        s = json_object_get_string(v);
        len = json_object_get_string_len(v);
        if (!s || len < 0 || (size_t) len != strlen(s))
                return -EINVAL;
        if ((size_t) len > max_len)
                return -EINVAL;
        *ret = s;
        return 1;
}

/* A JSON integer as int64; -ERANGE if it only fits in uint64. */
static int get_int(json_object *v, int64_t *ret) {
        int64_t i;

        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        i = json_object_get_int64(v);
        /* json-c keeps integers above INT64_MAX as uint64 and clamps them here. */
        if (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t) INT64_MAX)
                return -EINVAL;
        *ret = i;
        return 0;
}

int varlink_json_get_uint32(json_object *params, const char *key, bool required, uint32_t *ret) {
        json_object *v;
        int64_t i;
        int r;

        r = get_value(params, key, required, &v);
        if (r <= 0)
                return r;
        if (get_int(v, &i) < 0 || i < 0 || i > (int64_t) UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) i;
        return 1;
}

int varlink_json_get_int64(json_object *params, const char *key, bool required, int64_t *ret) {
        json_object *v;
        int64_t i;
        int r;

        r = get_value(params, key, required, &v);
        if (r <= 0)
                return r;
        if (get_int(v, &i) < 0)
                return -EINVAL;
        *ret = i;
        return 1;
}

int varlink_json_get_bool(json_object *params, const char *key, bool required, bool *ret) {
        json_object *v;
        int r;

        r = get_value(params, key, required, &v);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, json_type_boolean))
                return -EINVAL;
        *ret = json_object_get_boolean(v);
        return 1;
}

/* Depth is bounded by the tokener that built @o. */
static bool has_nul(json_object *o) {
        switch (json_object_get_type(o)) {
        case json_type_string: {
                const char *s = json_object_get_string(o);
                return (size_t) json_object_get_string_len(o) != strlen(s);
        }
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        if (has_nul(json_object_array_get_idx(o, i)))
                                return true;
                return false;
        case json_type_object: {
                json_object_object_foreach(o, k, v) {
                        (void) k;
                        if (has_nul(v))
                                return true;
                }
                return false;
        }
        default:
                return false;
        }
}

bool varlink_json_find_embedded_nul(json_object *o, const char **ret_key) {
        if (!o)
                return false;
        if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, k, v)
                        if (has_nul(v)) {
                                if (ret_key)
                                        *ret_key = k;
                                return true;
                        }
                return false;
        }
        if (ret_key)
                *ret_key = NULL;
        return has_nul(o);
}

bool varlink_text_has_nul_escape(const char *text, size_t size) {
        bool in_string = false;

        for (size_t i = 0; i < size; i++) {
                char c = text[i];

                if (!in_string) {
                        if (c == '"')
                                in_string = true;
                        continue;
                }
                if (c == '"') {
                        in_string = false;
                } else if (c == '\\') {
                        if (i + 1 >= size)
                                return false;
                        if (text[i + 1] == 'u' && i + 5 < size && memcmp(text + i + 2, "0000", 4) == 0)
                                return true;
                        i++;    /* skip the escaped character */
                }
        }
        return false;
}

/* ---- framing ---- */

static void *mfree(void *p) {
        free(p);
        return NULL;
}

static void close_many(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
}

/* Append @n fds to the array *@fds of *@n_fds entries. */
static int append_fds(int **fds, size_t *n_fds, const int *add, size_t n) {
        int *a;

        if (n == 0)
                return 0;
        a = realloc(*fds, (*n_fds + n) * sizeof(int));
        if (!a)
                return -ENOMEM;
        memcpy(a + *n_fds, add, n * sizeof(int));
        *fds = a;
        *n_fds += n;
        return 0;
}

void varlink_reader_init(VarlinkReader *r, int fd, size_t max_message_size, size_t max_fds) {
        *r = (VarlinkReader) {
                .fd = fd,
                .max_message_size = max_message_size,
                .max_fds = max_fds > VARLINK_FDS_HARD_MAX ? VARLINK_FDS_HARD_MAX : max_fds,
        };
}

VarlinkFrame *varlink_frame_free(VarlinkFrame *f) {
        if (!f)
                return NULL;
        close_many(f->fds, f->n_fds);
        free(f->fds);
        free(f);
        return NULL;
}

void varlink_reader_discard(VarlinkReader *r) {
        while (r->head)
                varlink_frame_free(varlink_reader_pop(r));
        close_many(r->partial_fds, r->n_partial_fds);
        r->partial_fds = mfree(r->partial_fds);
        r->n_partial_fds = 0;
        r->partial = mfree(r->partial);
        r->partial_len = r->partial_alloc = 0;
}

void varlink_reader_done(VarlinkReader *r) {
        varlink_reader_discard(r);
}

VarlinkFrame *varlink_reader_pop(VarlinkReader *r) {
        VarlinkFrame *f = r->head;

        if (!f)
                return NULL;
        r->head = f->next;
        if (!r->head)
                r->tail = NULL;
        f->next = NULL;
        r->n_frames--;
        return f;
}

static int partial_append(VarlinkReader *r, const char *p, size_t n) {
        if (n == 0)
                return 0;
        if (r->partial_len + n > r->partial_alloc) {
                size_t a = r->partial_alloc ? r->partial_alloc : 256;
                char *b;

                while (a < r->partial_len + n)
                        a *= 2;
                b = realloc(r->partial, a);
                if (!b)
                        return -ENOMEM;
                r->partial = b;
                r->partial_alloc = a;
        }
        memcpy(r->partial + r->partial_len, p, n);
        r->partial_len += n;
        return 0;
}

/* The unfinished message plus @p[0, n) become a frame. */
static int frame_complete(VarlinkReader *r, const char *p, size_t n) {
        VarlinkFrame *f;

        f = malloc(sizeof(*f) + r->partial_len + n + 1);
        if (!f)
                return -ENOMEM;
        *f = (VarlinkFrame) {
                .fds = TAKE_PTR(r->partial_fds),
                .n_fds = r->n_partial_fds,
                .size = r->partial_len + n,
        };
        r->n_partial_fds = 0;
        if (r->partial_len > 0)
                memcpy(f->data, r->partial, r->partial_len);
        if (n > 0)
                memcpy(f->data + r->partial_len, p, n);
        f->data[f->size] = 0;
        r->partial_len = 0;
        /* Don't keep a large buffer around for the next small message. */
        if (r->partial_alloc > 4096) {
                r->partial = mfree(r->partial);
                r->partial_alloc = 0;
        }
        if (r->tail)
                r->tail->next = f;
        else
                r->head = f;
        r->tail = f;
        r->n_frames++;
        return 0;
}

int varlink_reader_read(VarlinkReader *r, void *scratch, size_t scratch_size) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * VARLINK_FDS_HARD_MAX)];
        } control;
        int fds[VARLINK_FDS_HARD_MAX];
        size_t n_fds = 0;
        struct iovec iov = { .iov_base = scratch, .iov_len = scratch_size };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = r->max_fds > 0 ? &control : NULL,
                .msg_controllen = r->max_fds > 0 ? CMSG_SPACE(sizeof(int) * r->max_fds) : 0,
        };
        bool foreign = false;
        const char *p, *end;
        ssize_t n;
        int k;

        n = recvmsg(r->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EINTR || errno == EWOULDBLOCK ? -EAGAIN : -errno;

        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                        size_t m = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                        if (n_fds + m > ELEMENTSOF(fds))
                                m = ELEMENTSOF(fds) - n_fds;    /* can't happen: bounded by msg_controllen */
                        memcpy(fds + n_fds, CMSG_DATA(cm), m * sizeof(int));
                        n_fds += m;
                } else {
                        foreign = true;
                }
        }
        if (foreign || (mh.msg_flags & MSG_CTRUNC)) {
                close_many(fds, n_fds);
                return -EPROTO;
        }
        if (n == 0) {
                close_many(fds, n_fds);
                return 0;
        }

        /* Whose fds: the last message this chunk touches.  If the chunk
         * ends in a NUL, that's the last frame completed below; else the
         * unfinished one. */
        p = scratch;
        end = p + n;
        if (n_fds > 0 && end[-1] != 0) {
                if (r->n_partial_fds + n_fds > r->max_fds) {
                        close_many(fds, n_fds);
                        return -ETOOMANYREFS;
                }
                k = append_fds(&r->partial_fds, &r->n_partial_fds, fds, n_fds);
                if (k < 0) {
                        close_many(fds, n_fds);
                        return k;
                }
                n_fds = 0;
        }
        while (p < end) {
                const char *nul = memchr(p, 0, (size_t) (end - p));
                size_t m = (size_t) ((nul ? nul : end) - p);

                if (r->partial_len + m > r->max_message_size) {
                        close_many(fds, n_fds);
                        return -EMSGSIZE;
                }
                k = nul ? frame_complete(r, p, m) : partial_append(r, p, m);
                if (k < 0) {
                        close_many(fds, n_fds);
                        return k;
                }
                p += m + (nul ? 1 : 0);
        }
        if (n_fds > 0) {
                /* the chunk ended in a NUL, so a frame was completed */
                if (r->tail->n_fds + n_fds > r->max_fds) {
                        close_many(fds, n_fds);
                        return -ETOOMANYREFS;
                }
                k = append_fds(&r->tail->fds, &r->tail->n_fds, fds, n_fds);
                if (k < 0) {
                        close_many(fds, n_fds);
                        return k;
                }
        }
        return (int) (n > INT_MAX ? INT_MAX : n);
}

int varlink_frame_parse(const VarlinkFrame *f, json_tokener *tok, json_object **ret) {
        json_object *o;

        if (f->size > INT_MAX - 1)
                return -EBADMSG;
        json_tokener_reset(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        /* Include the NUL: it ends a top-level number or literal that
         * would otherwise look unfinished. */
        o = json_tokener_parse_ex(tok, f->data, (int) f->size + 1);
        if (json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != f->size) {
                json_object_put(o);
                return -EBADMSG;
        }
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

void varlink_writer_init(VarlinkWriter *w, int fd, size_t max_size) {
        *w = (VarlinkWriter) {
                .fd = fd,
                .max_size = max_size,
        };
}

void varlink_writer_done(VarlinkWriter *w) {
        for (size_t i = 0; i < w->n_batches; i++) {
                close_many(w->batches[i].fds, w->batches[i].n_fds);
                free(w->batches[i].fds);
        }
        free(w->batches);
        free(w->buf);
        *w = (VarlinkWriter) { .fd = w->fd, .max_size = w->max_size };
}

size_t varlink_writer_pending(const VarlinkWriter *w) {
        return w->len - w->start;
}

int varlink_writer_queue(VarlinkWriter *w, json_object *msg, int *fds, size_t n_fds) {
        const char *s;

        s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s) {
                close_many(fds, n_fds);
                free(fds);
                return -ENOMEM;
        }
        return varlink_writer_queue_text(w, s, fds, n_fds);
}

int varlink_writer_queue_text(VarlinkWriter *w, const char *s, int *fds, size_t n_fds) {
        size_t n = strlen(s) + 1;

        if (n_fds > VARLINK_FDS_HARD_MAX)
                goto fail_toomany;
        if (varlink_writer_pending(w) + n > w->max_size) {
                close_many(fds, n_fds);
                free(fds);
                return -ENOBUFS;
        }
        if (w->alloc - w->len < n) {
                /* Move what's unsent to the front first. */
                if (w->start > 0) {
                        memmove(w->buf, w->buf + w->start, w->len - w->start);
                        for (size_t i = 0; i < w->n_batches; i++)
                                w->batches[i].pos -= w->start;
                        w->len -= w->start;
                        w->start = 0;
                }
                if (w->alloc - w->len < n) {
                        size_t a = w->alloc ? w->alloc : 4096;
                        char *b;

                        while (a - w->len < n)
                                a *= 2;
                        b = realloc(w->buf, a);
                        if (!b)
                                goto fail_nomem;
                        w->buf = b;
                        w->alloc = a;
                }
        }
        if (n_fds > 0) {
                if (w->n_batches == w->alloc_batches) {
                        size_t a = w->alloc_batches ? w->alloc_batches * 2 : 4;
                        VarlinkFdBatch *b = realloc(w->batches, a * sizeof(*b));
                        if (!b)
                                goto fail_nomem;
                        w->batches = b;
                        w->alloc_batches = a;
                }
                w->batches[w->n_batches++] = (VarlinkFdBatch) { .pos = w->len, .fds = fds, .n_fds = n_fds };
        } else {
                free(fds);
        }
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        return 0;

fail_toomany:
        close_many(fds, n_fds);
        free(fds);
        return -ETOOMANYREFS;
fail_nomem:
        close_many(fds, n_fds);
        free(fds);
        return -ENOMEM;
}

int varlink_writer_flush(VarlinkWriter *w) {
        while (w->start < w->len) {
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int) * VARLINK_FDS_HARD_MAX)];
                } control;
                VarlinkFdBatch *b = NULL;
                size_t end = w->len;
                struct iovec iov;
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
                ssize_t n;

                /* Stop before the next message that has fds of its own. */
                if (w->n_batches > 0) {
                        if (w->batches[0].pos == w->start) {
                                b = &w->batches[0];
                                if (w->n_batches > 1)
                                        end = w->batches[1].pos;
                        } else {
                                end = w->batches[0].pos;
                        }
                }
                iov = (struct iovec) { .iov_base = w->buf + w->start, .iov_len = end - w->start };
                if (b) {
                        struct cmsghdr *cm;

                        memset(&control, 0, sizeof(control));
                        mh.msg_control = &control;
                        mh.msg_controllen = CMSG_SPACE(sizeof(int) * b->n_fds);
                        cm = CMSG_FIRSTHDR(&mh);
                        cm->cmsg_level = SOL_SOCKET;
                        cm->cmsg_type = SCM_RIGHTS;
                        cm->cmsg_len = CMSG_LEN(sizeof(int) * b->n_fds);
                        memcpy(CMSG_DATA(cm), b->fds, sizeof(int) * b->n_fds);
                }
                n = sendmsg(w->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
                }
                if (b) {
                        /* The fds went with the first byte; ours are copies now. */
                        close_many(b->fds, b->n_fds);
                        free(b->fds);
                        memmove(w->batches, w->batches + 1, (w->n_batches - 1) * sizeof(*w->batches));
                        w->n_batches--;
                }
                w->start += (size_t) n;
        }
        w->start = w->len = 0;
        /* Give back the memory of a large reply. */
        if (w->alloc > 65536) {
                w->buf = mfree(w->buf);
                w->alloc = 0;
        }
        return 0;
}

/* ---- the client ---- */

#define CLIENT_SCRATCH_SIZE (256u * 1024u)
#define CLIENT_MAX_DEPTH 64

struct VarlinkClient {
        int fd;
        VarlinkReader reader;
        VarlinkWriter writer;
        json_tokener *tok;
        char *scratch;
        int *push_fds;
        size_t n_push_fds;
        int *reply_fds;
        size_t n_reply_fds;
        char *error;
        bool eof;
};

int varlink_client_new_from_fd(int fd, VarlinkClient **ret) {
        _cleanup_close_ int owned = fd;
        VarlinkClient *c;
        int r;

        if (fd < 0)
                return -EBADF;
        r = fd_set_nonblock(fd);
        if (r < 0)
                return r;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->fd = TAKE_FD(owned);
        varlink_reader_init(&c->reader, c->fd, VARLINK_CLIENT_MAX_MESSAGE_SIZE, VARLINK_CLIENT_MAX_FDS);
        varlink_writer_init(&c->writer, c->fd, VARLINK_CLIENT_MAX_MESSAGE_SIZE);
        c->tok = json_tokener_new_ex(CLIENT_MAX_DEPTH);
        c->scratch = malloc(CLIENT_SCRATCH_SIZE);
        if (!c->tok || !c->scratch) {
                varlink_client_free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

int varlink_client_connect(const char *socket_path, VarlinkClient **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        size_t n;

        if (!socket_path || !*socket_path)
                return -EINVAL;
        n = strlen(socket_path);
        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, n);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1)) < 0)
                return -errno;
        return varlink_client_new_from_fd(TAKE_FD(fd), ret);
}

static void client_drop_reply_fds(VarlinkClient *c) {
        close_many(c->reply_fds, c->n_reply_fds);
        c->reply_fds = mfree(c->reply_fds);
        c->n_reply_fds = 0;
}

VarlinkClient *varlink_client_free(VarlinkClient *c) {
        if (!c)
                return NULL;
        varlink_reader_done(&c->reader);
        varlink_writer_done(&c->writer);
        if (c->tok)
                json_tokener_free(c->tok);
        free(c->scratch);
        close_many(c->push_fds, c->n_push_fds);
        free(c->push_fds);
        client_drop_reply_fds(c);
        free(c->error);
        safe_close(c->fd);
        free(c);
        return NULL;
}

void varlink_client_freep(VarlinkClient **c) {
        varlink_client_free(*c);
}

void varlink_client_set_max_message_size(VarlinkClient *c, size_t size) {
        c->reader.max_message_size = size;
        c->writer.max_size = size;
}

int varlink_client_get_fd(VarlinkClient *c) {
        return c->fd;
}

int varlink_client_push_fd(VarlinkClient *c, int fd) {
        int r;

        if (fd < 0)
                return -EBADF;
        if (c->n_push_fds >= VARLINK_CLIENT_MAX_FDS) {
                safe_close(fd);
                return -ETOOMANYREFS;
        }
        r = append_fds(&c->push_fds, &c->n_push_fds, &fd, 1);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        return (int) c->n_push_fds - 1;
}

static int64_t now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events, up to @deadline (ms on CLOCK_MONOTONIC, -1: none). */
static int client_wait(VarlinkClient *c, short events, int64_t deadline) {
        struct pollfd p = { .fd = c->fd, .events = events };
        int timeout = -1, r;

        if (deadline >= 0) {
                int64_t left = deadline - now_ms();
                timeout = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int) left;
        }
        r = poll(&p, 1, timeout);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        if (r == 0)
                return -ETIMEDOUT;
        return 0;
}

int varlink_client_call(VarlinkClient *c, const char *method, json_object *parameters, unsigned flags) {
        json_object *msg = NULL;
        int r;

        if (!varlink_qualified_name_is_valid(method) ||
            (parameters && !json_object_is_type(parameters, json_type_object)) ||
            (flags & ~(unsigned) (VARLINK_CALL_MORE | VARLINK_CALL_ONEWAY))) {
                json_object_put(parameters);
                return -EINVAL;
        }
        msg = json_object_new_object();
        if (!msg) {
                json_object_put(parameters);
                return -ENOMEM;
        }
        r = json_object_object_add(msg, "method", json_object_new_string(method));
        if (r >= 0 && parameters)
                r = json_object_object_add(msg, "parameters", TAKE_PTR(parameters));
        if (r >= 0 && (flags & VARLINK_CALL_MORE))
                r = json_object_object_add(msg, "more", json_object_new_boolean(true));
        if (r >= 0 && (flags & VARLINK_CALL_ONEWAY))
                r = json_object_object_add(msg, "oneway", json_object_new_boolean(true));
        json_object_put(parameters);
        if (r < 0) {
                json_object_put(msg);
                return -ENOMEM;
        }
        r = varlink_writer_queue(&c->writer, msg, TAKE_PTR(c->push_fds), c->n_push_fds);
        c->n_push_fds = 0;
        json_object_put(msg);
        if (r < 0)
                return r;
        for (;;) {
                r = varlink_writer_flush(&c->writer);
                if (r != -EAGAIN)
                        return r;
                r = client_wait(c, POLLOUT, -1);
                if (r < 0)
                        return r;
        }
}

static int client_parse_reply(VarlinkClient *c, VarlinkFrame *f, json_object **ret_parameters,
                              const char **ret_error, bool *ret_continues) {
        json_object *o = NULL, *v;
        json_object *params = NULL;
        const char *error = NULL;
        bool continues = false;
        int r;

        r = varlink_frame_parse(f, c->tok, &o);
        if (r < 0)
                return r;
        r = -EBADMSG;
        if (json_object_object_get_ex(o, "parameters", &v) && v) {
                if (!json_object_is_type(v, json_type_object))
                        goto out;
                params = json_object_get(v);
        }
        if (json_object_object_get_ex(o, "continues", &v) && v) {
                if (!json_object_is_type(v, json_type_boolean))
                        goto out;
                continues = json_object_get_boolean(v);
        }
        if (json_object_object_get_ex(o, "error", &v) && v) {
                if (!json_object_is_type(v, json_type_string) ||
                    (size_t) json_object_get_string_len(v) != strlen(json_object_get_string(v)) ||
                    !varlink_qualified_name_is_valid(json_object_get_string(v)))
                        goto out;
                error = json_object_get_string(v);
        }
        if (!params) {
                params = json_object_new_object();
                if (!params) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        if (error) {
                c->error = strdup(error);
                if (!c->error) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        c->reply_fds = TAKE_PTR(f->fds);
        c->n_reply_fds = f->n_fds;
        f->n_fds = 0;
        if (ret_parameters)
                *ret_parameters = TAKE_PTR(params);
        if (ret_error)
                *ret_error = c->error;
        if (ret_continues)
                *ret_continues = continues;
        r = 0;
out:
        json_object_put(params);
        json_object_put(o);
        return r;
}

int varlink_client_read_reply(VarlinkClient *c, int timeout_ms, json_object **ret_parameters,
                              const char **ret_error, bool *ret_continues) {
        int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
        VarlinkFrame *f;
        int r;

        c->error = mfree(c->error);
        client_drop_reply_fds(c);
        for (;;) {
                f = varlink_reader_pop(&c->reader);
                if (f)
                        break;
                if (c->eof)
                        return -ECONNRESET;
                r = varlink_reader_read(&c->reader, c->scratch, CLIENT_SCRATCH_SIZE);
                if (r == 0) {
                        c->eof = true;
                        continue;       /* deliver what came before the EOF */
                }
                if (r == -ECONNRESET) {
                        c->eof = true;
                        continue;
                }
                if (r == -EAGAIN) {
                        r = client_wait(c, POLLIN, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return r;
        }
        r = client_parse_reply(c, f, ret_parameters, ret_error, ret_continues);
        varlink_frame_free(f);
        return r;
}

int varlink_client_take_fd(VarlinkClient *c, unsigned index) {
        int fd;

        if (index >= c->n_reply_fds)
                return -ENXIO;
        fd = c->reply_fds[index];
        if (fd < 0)
                return -EBADF;
        c->reply_fds[index] = -EBADF;
        return fd;
}
