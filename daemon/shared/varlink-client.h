/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * varlink-client.h - the varlink wire format and a small blocking client.
 *
 * Varlink (varlink.org) sends JSON objects over an AF_UNIX stream socket,
 * each terminated by a NUL byte.  File descriptors travel beside the bytes
 * as SCM_RIGHTS, attached to the first byte of the message they belong to
 * (systemd's convention: parameters name an fd by its index among the fds
 * of that same message).
 *
 * This header has three parts:
 *  - name checks and parameter getters, used by methods of the server too;
 *  - the message framing (VarlinkReader, VarlinkWriter), shared by the
 *    server (daemon/varlink.c) and the client; not for other modules;
 *  - VarlinkClient: one connection, blocking with poll() and a timeout,
 *    for iommuctl and the tests.  No event loop.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* Longest interface, method or error name accepted. */
#define VARLINK_NAME_MAX 255
/* The kernel's own cap on fds in one SCM_RIGHTS message (SCM_MAX_FD). */
#define VARLINK_FDS_HARD_MAX 253
/* A reply may be large (ListDevices on a host with 10k functions). */
#define VARLINK_CLIENT_MAX_MESSAGE_SIZE (64u * 1024u * 1024u)
#define VARLINK_CLIENT_MAX_FDS 16u

#define VARLINK_SERVICE_INTERFACE "org.varlink.service"
#define VARLINK_ERROR_INTERFACE_NOT_FOUND "org.varlink.service.InterfaceNotFound"
#define VARLINK_ERROR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"
#define VARLINK_ERROR_METHOD_NOT_IMPLEMENTED "org.varlink.service.MethodNotImplemented"
#define VARLINK_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define VARLINK_ERROR_PERMISSION_DENIED "org.varlink.service.PermissionDenied"
#define VARLINK_ERROR_EXPECTED_MORE "org.varlink.service.ExpectedMore"

/* ---- names ---- */

/** varlink_interface_name_is_valid() - reverse-domain notation: at least
 * two dot-separated labels of ASCII letters, digits and '-', the first
 * starting with a letter, no label starting or ending with '-'
 * ("org.iommud.Manager", "io.systemd.UserDatabase"). */
bool varlink_interface_name_is_valid(const char *name);
/** varlink_member_name_is_valid() - a method, error or type name:
 * [A-Z][A-Za-z0-9]*. */
bool varlink_member_name_is_valid(const char *name);
/** varlink_qualified_name_is_valid() - "interface.Member", as methods and
 * errors are named on the wire ("org.varlink.service.GetInfo"). */
bool varlink_qualified_name_is_valid(const char *name);

/* ---- parameter getters ----
 *
 * All take the parameters object of a call or reply (NULL counts as
 * empty) and a key.  A missing key and a JSON null are the same: absent.
 * They return 1 and set *ret when the key is present and valid; 0 and
 * leave *ret alone when it is absent and not @required; -ENOENT when it is
 * absent and @required; -EINVAL when it has the wrong type or is out of
 * range.  A method answers any r < 0 with InvalidParameter(key). */

/** varlink_json_get_string() - also -EINVAL for a string holding a NUL
 * (JSON "\u0000": C would see a shorter string than JSON has) or longer
 * than @max_len bytes.  *ret points into @params. */
int varlink_json_get_string(json_object *params, const char *key, bool required, size_t max_len,
                            const char **ret);
/** varlink_json_get_uint32() - a JSON integer in 0..UINT32_MAX (not
 * 1.0, not "1"). */
int varlink_json_get_uint32(json_object *params, const char *key, bool required, uint32_t *ret);
/** varlink_json_get_int64() - a JSON integer in INT64_MIN..INT64_MAX. */
int varlink_json_get_int64(json_object *params, const char *key, bool required, int64_t *ret);
/** varlink_json_get_bool() - true or false. */
int varlink_json_get_bool(json_object *params, const char *key, bool required, bool *ret);

/** varlink_json_find_embedded_nul() - whether a string anywhere in @o
 * (at any depth) holds a NUL.  *ret_key, if set, names the top-level key
 * of @o under which it was found. */
bool varlink_json_find_embedded_nul(json_object *o, const char **ret_key);
/** varlink_text_has_nul_escape() - whether JSON text has a "\u0000"
 * escape anywhere, keys included (json-c cuts object keys at a NUL, so a
 * key is only checkable in the text). */
bool varlink_text_has_nul_escape(const char *text, size_t size);

/* ---- framing (shared by varlink.c and the client) ---- */

typedef struct VarlinkFrame VarlinkFrame;
/* One complete message as received: its JSON text and its fds. */
struct VarlinkFrame {
        VarlinkFrame *next;
        int *fds;
        size_t n_fds;
        size_t size;            /* bytes of JSON, without the NUL */
        char data[];            /* NUL-terminated */
};

/* Splits a byte stream into frames.  Complete messages go to a queue;
 * the bytes of an unfinished one stay in @partial.  Fds that arrive with
 * a chunk of bytes belong to the last message that chunk touches: the
 * kernel never merges data that follows an fd-carrying write into the
 * same recvmsg(), and a sender attaches a message's fds to its first
 * byte. */
typedef struct VarlinkReader {
        int fd;                         /* not owned */
        size_t max_message_size;        /* without the NUL */
        size_t max_fds;                 /* per message */
        char *partial;
        size_t partial_len, partial_alloc;
        int *partial_fds;
        size_t n_partial_fds;
        VarlinkFrame *head, *tail;
        size_t n_frames;
} VarlinkReader;

void varlink_reader_init(VarlinkReader *r, int fd, size_t max_message_size, size_t max_fds);
/** varlink_reader_done() - frees queued frames and closes their fds. */
void varlink_reader_done(VarlinkReader *r);
/** varlink_reader_read() - one recvmsg() into @scratch, then framing.
 * Returns the bytes read, 0 at EOF, -EAGAIN if nothing was there,
 * -EMSGSIZE when a message grows past the limit without its NUL,
 * -ETOOMANYREFS for more fds on one message than allowed, -EPROTO for
 * truncated or foreign ancillary data (received fds are closed), or
 * another -errno from recvmsg(). */
int varlink_reader_read(VarlinkReader *r, void *scratch, size_t scratch_size);
/** varlink_reader_pop() - the oldest complete frame (caller frees), or NULL. */
VarlinkFrame *varlink_reader_pop(VarlinkReader *r);
/** varlink_reader_discard() - drop queued frames and the unfinished message. */
void varlink_reader_discard(VarlinkReader *r);
/** varlink_frame_free() - closes fds the frame still owns. */
VarlinkFrame *varlink_frame_free(VarlinkFrame *f);
/** varlink_frame_parse() - the frame's JSON, which must be an object
 * with nothing but whitespace after it.  @tok bounds the depth.
 * -EBADMSG for anything else. */
int varlink_frame_parse(const VarlinkFrame *f, json_tokener *tok, json_object **ret);

typedef struct VarlinkFdBatch {
        size_t pos;             /* offset in the writer's buffer of the message's first byte */
        int *fds;
        size_t n_fds;
} VarlinkFdBatch;

/* Buffered output.  Each message's fds go out with its first byte, in a
 * sendmsg() that stops before the next message carrying fds. */
typedef struct VarlinkWriter {
        int fd;                         /* not owned */
        size_t max_size;                /* unsent bytes allowed */
        char *buf;
        size_t start, len, alloc;       /* unsent bytes are buf[start, len) */
        VarlinkFdBatch *batches;
        size_t n_batches, alloc_batches;
} VarlinkWriter;

void varlink_writer_init(VarlinkWriter *w, int fd, size_t max_size);
/** varlink_writer_done() - frees the buffer, closes unsent fds. */
void varlink_writer_done(VarlinkWriter *w);
/** varlink_writer_queue() - serialise @msg compactly plus the NUL, and
 * queue it with @fds.  Always takes the fds (closed on failure) and
 * frees the @fds array itself; not @msg.  -ENOBUFS when the unsent output
 * would exceed the limit; -ENOMEM. */
int varlink_writer_queue(VarlinkWriter *w, json_object *msg, int *fds, size_t n_fds);
/* The same for a message already serialized (one JSON object, no NUL). */
int varlink_writer_queue_text(VarlinkWriter *w, const char *text, int *fds, size_t n_fds);
/** varlink_writer_flush() - write what the socket takes without
 * blocking: 0 when everything is out, -EAGAIN when the socket is full,
 * else -errno (-EPIPE: the peer is gone). */
int varlink_writer_flush(VarlinkWriter *w);
/** varlink_writer_pending() - unsent bytes. */
size_t varlink_writer_pending(const VarlinkWriter *w);

/* ---- the client ---- */

typedef struct VarlinkClient VarlinkClient;

enum {
        VARLINK_CALL_MORE = 1u << 0,    /* the method may reply several times */
        VARLINK_CALL_ONEWAY = 1u << 1,  /* no reply */
};

/** varlink_client_connect() - connect to the AF_UNIX socket at @path.
 * -errno from connect(): -ENOENT or -ECONNREFUSED mean nothing listens
 * there; -ENAMETOOLONG for a path sockaddr_un can't hold. */
int varlink_client_connect(const char *socket_path, VarlinkClient **ret);
/** varlink_client_new_from_fd() - a client on a connected stream socket
 * (a socketpair() end in the tests).  Takes @fd, also on failure. */
int varlink_client_new_from_fd(int fd, VarlinkClient **ret);
/** varlink_client_free() - closes the connection and any fds not taken. */
VarlinkClient *varlink_client_free(VarlinkClient *c);
void varlink_client_freep(VarlinkClient **c);
/** varlink_client_set_max_message_size() - the largest reply accepted
 * (default VARLINK_CLIENT_MAX_MESSAGE_SIZE). */
void varlink_client_set_max_message_size(VarlinkClient *c, size_t size);

/** varlink_client_push_fd() - attach @fd (taken, also on failure) to the
 * next call.  Returns its index in that call, -ETOOMANYREFS past
 * VARLINK_CLIENT_MAX_FDS. */
int varlink_client_push_fd(VarlinkClient *c, int fd);
/** varlink_client_call() - send a call; blocks until it is written.
 * @parameters is taken (NULL: none).  @flags: VARLINK_CALL_*.  -EINVAL
 * for a malformed method name or non-object parameters; -EPIPE when the
 * server is gone. */
int varlink_client_call(VarlinkClient *c, const char *method, json_object *parameters, unsigned flags);
/** varlink_client_read_reply() - wait up to @timeout_ms (-1: forever) for
 * the next reply.  *ret_parameters (the caller's; an empty object when the
 * reply had none), *ret_error (NULL, or the error name, valid until the
 * next read or free), *ret_continues (more replies follow).  Any of them
 * may be NULL.  Fds that came with the reply are available through
 * varlink_client_take_fd() until the next read.  -ETIMEDOUT; -ECONNRESET
 * when the server closed the connection; -EBADMSG for a malformed reply;
 * -EMSGSIZE for one too large. */
int varlink_client_read_reply(VarlinkClient *c, int timeout_ms, json_object **ret_parameters,
                              const char **ret_error, bool *ret_continues);
/** varlink_client_take_fd() - the fd at @index among those of the last
 * reply; the caller owns it.  -ENXIO if there is none, -EBADF if taken. */
int varlink_client_take_fd(VarlinkClient *c, unsigned index);
/** varlink_client_get_fd() - the socket, to poll() on. */
int varlink_client_get_fd(VarlinkClient *c);
