/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * varlink.h - a small varlink server on json-c and sd-event (libsystemd
 * 252 has no public sd-varlink).
 *
 * The protocol (varlink.org): NUL-terminated JSON objects on an AF_UNIX
 * stream socket; a call {"method","parameters","oneway","more","upgrade"}
 * is answered by replies {"parameters","continues","error"}.  The server
 * implements org.varlink.service (GetInfo, GetInterfaceDescription) itself
 * and dispatches every other method to a registered callback.
 *
 * Order: varlink wants the replies on a connection in the order of the
 * calls.  The server runs at most one call per connection at a time;
 * calls the client pipelines wait, parsed no further than their framing,
 * until the current call's final reply (a "more" call is current until its
 * last reply, or until the client goes away).  While output is waiting for
 * the socket, no further call is read or dispatched on that connection.
 *
 * Replying: a method either replies before it returns, or takes a
 * reference on its VarlinkCall and replies later from another event-loop
 * callback (polkit, sysfs work).  If it returns < 0 without a final reply,
 * the server answers with the internal error (VarlinkServerInfo) and
 * {"errno": -r}; if it returns >= 0 with neither a reply nor a reference,
 * that is a bug, answered the same way with EPROTO, so a client never
 * hangs.
 *
 * Fds: as in systemd, parameters name an fd by its index among the fds
 * attached to the same message.  Fds received with a call are owned by
 * the call and closed when it is freed, unless taken.
 *
 * Limits (VarlinkLimits) bound every per-client resource: message size,
 * JSON depth, fds per message, calls queued behind the current one,
 * unsent output, connections per uid and in total.  A client that breaks
 * a limit or the protocol is answered with an error when that can be done
 * in order, then disconnected; no other client notices.
 *
 * The server logs nothing itself; varlink_server_set_log() can route its
 * debug messages somewhere.  Single-threaded, like sd-event.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "shared/varlink-client.h"

typedef struct VarlinkServer VarlinkServer;
typedef struct VarlinkCall VarlinkCall;

/** VarlinkMethod - a method implementation.  @parameters is never NULL
 * (an empty object when the call had none or null) and lives as long as
 * @call.  Returns >= 0 when it replied or kept a reference to reply later,
 * < 0 (-errno) on failure without a reply. */
typedef int (*VarlinkMethod)(VarlinkCall *call, json_object *parameters, void *userdata);
/** VarlinkCancel - a pending call ended without the method's final reply. */
typedef void (*VarlinkCancel)(VarlinkCall *call, void *userdata);
/** VarlinkLog - receives the server's debug messages. */
typedef void (*VarlinkLog)(const char *message, void *userdata);

typedef struct VarlinkServerInfo {
        const char *vendor, *product, *version, *url;   /* for GetInfo */
        /* The error a failed method is answered with, with {"errno": N};
         * NULL: VARLINK_ERROR_SYSTEM, which sd-varlink clients map back to
         * an errno. */
        const char *internal_error;
} VarlinkServerInfo;

#define VARLINK_ERROR_SYSTEM "io.systemd.System"

/* Zero fields mean the default. */
typedef struct VarlinkLimits {
        size_t max_message_size;                /* 64 KiB, a call without its NUL */
        size_t max_output_size;                 /* 16 MiB of unsent replies per connection */
        unsigned max_depth;                     /* 16 levels of JSON nesting */
        unsigned max_fds;                       /* 16 fds on one message, both ways */
        unsigned max_pending_calls;             /* 16 calls queued behind the current one */
        unsigned max_connections_per_uid;       /* 64 */
        unsigned max_connections;               /* 4096 */
} VarlinkLimits;

#define VARLINK_DEFAULT_MAX_MESSAGE_SIZE (64u * 1024u)
#define VARLINK_DEFAULT_MAX_OUTPUT_SIZE (16u * 1024u * 1024u)
#define VARLINK_DEFAULT_MAX_DEPTH 16u
#define VARLINK_DEFAULT_MAX_FDS 16u
#define VARLINK_DEFAULT_MAX_PENDING_CALLS 16u
#define VARLINK_DEFAULT_MAX_CONNECTIONS_PER_UID 64u
#define VARLINK_DEFAULT_MAX_CONNECTIONS 4096u

/** varlink_server_new() - a server on @e with org.varlink.service
 * registered.  @info is copied.  -ENOMEM. */
int varlink_server_new(sd_event *e, const VarlinkServerInfo *info, VarlinkServer **ret);
/** varlink_server_free() - closes every connection (pending calls get their
 * cancel callback first) and the listening sockets.  Not from inside a
 * method or cancel callback. */
VarlinkServer *varlink_server_free(VarlinkServer *s);
void varlink_server_freep(VarlinkServer **s);

/** varlink_server_set_limits() - replace the limits; zero fields mean the
 * defaults.  Message size, fds per message and output size apply to
 * connections made afterwards, the rest at once. */
void varlink_server_set_limits(VarlinkServer *s, const VarlinkLimits *l);
/** varlink_server_get_limits() - the limits in force, defaults filled in. */
void varlink_server_get_limits(VarlinkServer *s, VarlinkLimits *ret);
/** varlink_server_set_log() - @fn gets each debug message (NULL: none). */
void varlink_server_set_log(VarlinkServer *s, VarlinkLog fn, void *userdata);

/** varlink_server_add_interface() - @idl_description is what
 * GetInterfaceDescription returns, stored verbatim.  -EINVAL for a
 * malformed name, -EEXIST. */
int varlink_server_add_interface(VarlinkServer *s, const char *name, const char *idl_description);
/** varlink_server_add_method() - @fq_method is "interface.Method" of an
 * interface added before.  -EINVAL, -ENOENT (no such interface), -EEXIST. */
int varlink_server_add_method(VarlinkServer *s, const char *fq_method, VarlinkMethod cb, void *userdata);

/** varlink_server_listen_fd() - accept on a listening AF_UNIX stream
 * socket (one from sd_listen_fds()).  Takes @listen_fd on success. */
int varlink_server_listen_fd(VarlinkServer *s, int listen_fd);
/** varlink_server_listen_address() - bind and listen at @path with
 * permissions @mode.  A stale socket file is replaced; a live one
 * (something accepts on it) gives -EADDRINUSE, anything not a socket
 * -EEXIST.  -ENAMETOOLONG. */
int varlink_server_listen_address(VarlinkServer *s, const char *path, mode_t mode);
/** varlink_server_stop_listening() - accept no more connections: the
 * listening sockets stay open (one systemd passed keeps queueing clients
 * for the next start) but are no longer polled; they close with the
 * server.  The connections open go on as before. */
void varlink_server_stop_listening(VarlinkServer *s);

/** varlink_server_count_silent() - connections that have not sent a
 * message yet (a client that connected a moment ago and is about to ask):
 * a stop gives them a moment, so that they get an answer rather than a
 * closed connection. */
size_t varlink_server_count_silent(VarlinkServer *s);
/** varlink_server_add_connection() - serve a connected AF_UNIX stream
 * socket (accepted, or a socketpair() end in the tests).  Takes @fd, also
 * on failure: closed at once, with -EUSERS when its uid has too many
 * connections, -EBUSY when the server has. */
int varlink_server_add_connection(VarlinkServer *s, int fd);
/** varlink_server_current_connections() - the connections open now. */
size_t varlink_server_current_connections(VarlinkServer *s);

/* ---- calls ---- */

/** varlink_call_ref() - keep @c beyond the method's return, to reply later. */
VarlinkCall *varlink_call_ref(VarlinkCall *c);
/** varlink_call_unref() - NULL-safe; returns NULL. */
VarlinkCall *varlink_call_unref(VarlinkCall *c);
void varlink_call_unrefp(VarlinkCall **c);

/** varlink_call_reply() - the final reply.  Takes @parameters (an object,
 * or NULL for {}), also on failure.  A oneway call's reply is dropped
 * (returns 0).  -ENOTCONN when the client is gone, -EALREADY after the
 * final reply, -ENOBUFS when the client's unsent output is over the limit
 * (the client is then disconnected), -EINVAL for non-object parameters.
 * After it, the cancel callback is never called. */
int varlink_call_reply(VarlinkCall *c, json_object *parameters);
/** varlink_call_reply_text() - the final reply with parameters already
 * serialized: @parameters_json must be one JSON object, as the daemon
 * itself made it (no NUL; not validated beyond its first byte).  For
 * large replies assembled from cached pieces. */
int varlink_call_reply_text(VarlinkCall *c, const char *parameters_json);
/** varlink_call_notify() - a reply with "continues": true.  Only for calls
 * made with "more" (else -EPROTO); otherwise as varlink_call_reply(), but
 * the call stays pending. */
int varlink_call_notify(VarlinkCall *c, json_object *parameters);
/** varlink_call_reply_error() - the final reply, an error: @error is a
 * qualified name ("org.iommud.Manager.NoSuchDevice"); @parameters as in
 * varlink_call_reply().  Ends a "more" call too. */
int varlink_call_reply_error(VarlinkCall *c, const char *error, json_object *parameters);
/** varlink_call_reply_invalid_parameter() - InvalidParameter(@parameter). */
int varlink_call_reply_invalid_parameter(VarlinkCall *c, const char *parameter);

bool varlink_call_wants_more(VarlinkCall *c);
bool varlink_call_is_oneway(VarlinkCall *c);
/** varlink_call_get_method() - "interface.Method" as called. */
const char *varlink_call_get_method(VarlinkCall *c);
/** varlink_call_is_connected() - false once the client went away or the
 * call got its final reply. */
bool varlink_call_is_connected(VarlinkCall *c);

/** varlink_call_set_cancel_callback() - @cb runs once if the call ends
 * without the method's final reply: the client disconnects while it is
 * pending, the server is freed, or the method returned < 0 and the server
 * answered for it.  The connection's own reference is still held while @cb
 * runs, so @cb may drop the method's reference.  Replying from @cb fails
 * harmlessly (-ENOTCONN, or -EALREADY after the server's own answer). */
void varlink_call_set_cancel_callback(VarlinkCall *c, VarlinkCancel cb, void *userdata);

/** varlink_call_get_peer_creds() - SO_PEERCRED, taken when the client
 * connected. */
int varlink_call_get_peer_creds(VarlinkCall *c, struct ucred *ret);
/** varlink_call_get_peer_pidfd() - a pidfd for the peer (the caller owns
 * it): SO_PEERPIDFD (Linux 6.5+), taken when the client connected; on
 * older kernels pidfd_open(ucred.pid) at that moment, checked to still
 * be that pid.  -ENOTCONN; -ESRCH if the process was already gone;
 * other -errno when neither works. */
int varlink_call_get_peer_pidfd(VarlinkCall *c);

/** varlink_call_get_fd() - fd @index of those that came with the call; the
 * call keeps owning it.  -ENXIO if there is no such index, -EBADF if it was
 * taken. */
int varlink_call_get_fd(VarlinkCall *c, unsigned index);
/** varlink_call_take_fd() - as varlink_call_get_fd(), but the caller owns it. */
int varlink_call_take_fd(VarlinkCall *c, unsigned index);
/** varlink_call_push_fd() - attach @fd (taken, also on failure) to the next
 * reply of this call.  Returns its index in that reply; -ETOOMANYREFS
 * past the fd limit, -ENOTCONN. */
int varlink_call_push_fd(VarlinkCall *c, int fd);
