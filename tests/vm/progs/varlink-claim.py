#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A foreign client of iommud's Claim, in Python with the standard library
only: proves the fd convention (parameters name fds by their index among
the fds attached to the same message) is enough for someone else's code.

    varlink-claim.py DEVICE [--mode bound|parked] [--hold]
    varlink-claim.py --mdev PARENT/TYPE [--mode bound|parked] [--hold]

Claims DEVICE (the holder is this process), or, with --mdev, has iommud
create an mdev of TYPE on PARENT for the claim ("ok: created mdev UUID");
receives the iommufd and the device fd with socket.recv_fds(), and asks
the device fd for VFIO_DEVICE_GET_INFO (bound mode) or binds it first
(parked).  Prints "ok: ..." lines and exits 0 when the fds work; with
--hold it then keeps the lease until killed.
"""
import time
import fcntl
import json
import socket
import struct
import sys

SOCKET = "/run/iommud/org.iommud.Manager"
VFIO_DEVICE_GET_INFO = (ord(";") << 8) | (100 + 7)          # _IO(VFIO_TYPE, VFIO_BASE + 7)
VFIO_DEVICE_BIND_IOMMUFD = (ord(";") << 8) | (100 + 18)     # _IO(VFIO_TYPE, VFIO_BASE + 18)


def call(sock, method, parameters):
    sock.sendall(json.dumps({"method": method, "parameters": parameters}).encode() + b"\0")
    data, fds = b"", []
    while not data.endswith(b"\0"):
        chunk, got, _flags, _addr = socket.recv_fds(sock, 65536, 16)
        if not chunk:
            sys.exit("varlink-claim: iommud closed the connection")
        data += chunk
        fds += got
    return json.loads(data[:-1]), fds


def main():
    args = sys.argv[1:]
    hold = "--hold" in args
    args = [a for a in args if a != "--hold"]
    mode = "bound"
    if "--mode" in args:
        i = args.index("--mode")
        mode = args[i + 1]
        del args[i:i + 2]
    params = {"mode": mode}
    if args[0] == "--mdev":
        parent, mdev_type = args[1].split("/")
        params.update(devices=[], mdevs=[{"parent": parent, "type": mdev_type}])
    else:
        params["devices"] = [args[0]]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(SOCKET)
    reply, fds = call(sock, "org.iommud.Manager.Claim", params)
    if "error" in reply:
        sys.exit("varlink-claim: %s %s" % (reply["error"], json.dumps(reply.get("parameters"))))
    p = reply["parameters"]
    for uuid in p["lease"].get("createdMdevs", []):
        print("ok: created mdev %s" % uuid)
    iommufd = fds[p["iommufd"]]
    dev = fds[p["devices"][0]["fd"]]
    print("ok: lease %s, %d fds received: iommufd %d, device fd %d"
          % (p["lease"]["id"], len(fds), iommufd, dev))
    if mode == "parked":
        # struct vfio_device_bind_iommufd {argsz, flags, iommufd, out_devid}
        bind = fcntl.ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, struct.pack("=IIiI", 16, 0, iommufd, 0))
        print("ok: devid %d" % struct.unpack("=IIiI", bind)[3])
        print("ok: bound the parked fd to the lease's iommufd")
    info = fcntl.ioctl(dev, VFIO_DEVICE_GET_INFO, struct.pack("=6I", 24, 0, 0, 0, 0, 0))
    argsz, flags, regions, irqs, _cap, _pad = struct.unpack("=6I", info)
    if regions < 1:
        sys.exit("varlink-claim: GET_INFO says %d regions" % regions)
    print("ok: VFIO_DEVICE_GET_INFO: flags 0x%x, %d regions, %d irqs" % (flags, regions, irqs), flush=True)
    while hold:
        time.sleep(3600)


if __name__ == "__main__":
    main()
