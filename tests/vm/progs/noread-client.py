#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A varlink client of iommud that never reads a reply, in Python with
the standard library only.

    noread-client.py DEVICE [--greedy] [--max-calls N] [--until FILE] [--socket PATH]

Claims DEVICE (mode bound; the holder is this process) and then sends
org.iommud.Manager.ListDevices calls, whose replies are large, without
ever reading from the socket: the Claim's reply, with its fds, and the
ListDevices replies pile up in its receive queue until iommud's socket is
full and iommud has output it cannot send.

It only watches the socket's queues through ioctls, never reading them:
SIOCINQ (bytes of replies waiting in its receive queue) and SIOCOUTQ
(bytes of its calls that iommud has not read yet).

Default: it stays within iommud's limits (at most 16 calls queued per
connection).  It waits for the Claim's reply to arrive (SIOCINQ > 0:
while the Claim waits for polkit iommud goes on reading, and the calls
would pile up behind it), then sends ListDevices in batches of 16, each
only once iommud has taken the whole previous one (SIOCOUTQ == 0).  When
iommud stops taking calls for 3 s (its reply cannot be sent, so it reads
no further call), it prints

    sent N calls; R bytes of replies unread; iommud stopped taking calls (...)

and then sleeps, keeping the socket open and never reading, until it is
killed or FILE appears.  If iommud closes the connection, it says so and
exits 3.

--greedy: one write of the Claim and N ListDevices (--max-calls, 40 by
default) back to back, which iommud reads at once: more than 16 calls
queued, and iommud drops the connection.  It prints "sent N calls" and
"disconnected by iommud" (exit 3) when it sees the hangup, or
"still connected" and exits 0 after 10 s.

A hangup is seen with poll() (POLLRDHUP/POLLHUP), which reads nothing.
--socket PATH: an iommud listening elsewhere (iommud --varlink-socket).
"""
import fcntl
import json
import os
import select
import socket
import struct
import sys
import time

SOCKET = "/run/iommud/org.iommud.Manager"
SIOCINQ = 0x541B        # FIONREAD
SIOCOUTQ = 0x5411       # TIOCOUTQ
BATCH = 16              # VARLINK_DEFAULT_MAX_PENDING_CALLS


def msg(method, parameters=None):
    return json.dumps({"method": method, "parameters": parameters or {}}).encode() + b"\0"


def queued(sock, req):
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), req, struct.pack("i", 0)))[0]


def hung_up(sock, timeout=0.0):
    """Whether iommud closed its end; poll() tells without reading."""
    p = select.poll()
    p.register(sock, select.POLLRDHUP | select.POLLHUP)
    return any(ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR)
               for _fd, ev in p.poll(timeout * 1000))


def disconnected(sent):
    print("sent %d calls; disconnected by iommud" % sent, flush=True)
    sys.exit(3)


def sleep_until(until):
    while not (until and os.path.exists(until)):
        time.sleep(0.2)


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    device, greedy, max_calls, until, path = args[0], False, None, None, SOCKET
    i = 1
    while i < len(args):
        if args[i] == "--greedy":
            greedy = True
        elif args[i] == "--max-calls" and i + 1 < len(args):
            i += 1
            max_calls = int(args[i])
        elif args[i] == "--until" and i + 1 < len(args):
            i += 1
            until = args[i]
        elif args[i] == "--socket" and i + 1 < len(args):
            i += 1
            path = args[i]
        else:
            sys.exit("noread-client: unknown argument %s" % args[i])
        i += 1

    claim = msg("org.iommud.Manager.Claim", {"devices": [device], "mode": "bound"})
    list_devices = msg("org.iommud.Manager.ListDevices")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    print("connected: pid %d" % os.getpid(), flush=True)

    if greedy:
        n = 40 if max_calls is None else max_calls
        data = claim + list_devices * n
        sock.setblocking(False)
        try:
            sent_bytes = sock.send(data)
        except BlockingIOError:
            sent_bytes = 0
        # whole messages only count
        sent = data[:sent_bytes].count(b"\0")
        print("sent %d calls (Claim and %d ListDevices) in one write" % (sent, sent - 1), flush=True)
        if hung_up(sock, 10):
            disconnected(sent)
        print("still connected", flush=True)
        return

    max_calls = 4096 if max_calls is None else max_calls
    sock.sendall(claim)
    sent = 1
    # The Claim's reply (or its error) arrives with its fds; left unread.
    end = time.monotonic() + 60
    while queued(sock, SIOCINQ) == 0:
        if hung_up(sock, 0.1):
            disconnected(sent)
        if time.monotonic() > end:
            sys.exit("noread-client: no reply to the Claim within 60 s")
    print("the Claim's reply arrived: %d bytes, left unread" % queued(sock, SIOCINQ), flush=True)

    sock.setblocking(False)
    pending = b""       # the rest of a batch the socket did not take
    last = (None, None)
    still = time.monotonic()
    while True:
        if hung_up(sock):
            disconnected(sent)
        if not pending and queued(sock, SIOCOUTQ) == 0 and sent < max_calls:
            # iommud took everything sent: at most BATCH calls in its queue
            k = min(BATCH, max_calls - sent)
            pending = list_devices * k
            sent += k
        if pending:
            try:
                pending = pending[sock.send(pending):]
            except BlockingIOError:
                pass
        now = (queued(sock, SIOCINQ), queued(sock, SIOCOUTQ))
        if now != last:
            last, still = now, time.monotonic()
        elif time.monotonic() - still > 3:
            break
        time.sleep(0.05)
    inq, outq = last
    stuck = outq > 0 or bool(pending)
    print("sent %d calls; %d bytes of replies unread; %s"
          % (sent, inq, "iommud stopped taking calls (%d bytes of them unread by it)" % (outq + len(pending))
             if stuck else "iommud took all"),
          flush=True)
    sleep_until(until)


if __name__ == "__main__":
    main()
