#!/usr/bin/python3
"""dbus-claim.py DEVICE... -- COMMAND [ARGS...]

A foreign client of iommud's D-Bus face: Debian's python3-dbus and the
standard library, nothing of ours.  It calls org.iommud1.Manager.Claim,
takes the fds from the reply (a{sh}: "iommufd", "container", "group:N"
and each device's name), reads the lease's properties, and execs COMMAND
with the fds inherited and the environment iommuctl claim sets
(IOMMUD_LEASE, IOMMUD_IOMMUFD, IOMMUD_IOAS_ID, IOMMUD_CONTAINER,
IOMMUD_GROUP_FDS, IOMMUD_DEVICE_FDS): COMMAND is the same process, the
lease's holder.  A refusal prints the D-Bus error's name and exits 4.
"""
import os
import sys

import dbus

args = sys.argv[1:]
if "--" not in args or args.index("--") == 0 or args.index("--") == len(args) - 1:
    sys.exit(__doc__)
devices, command = args[:args.index("--")], args[args.index("--") + 1:]

bus = dbus.SystemBus()
manager = dbus.Interface(bus.get_object("org.iommud1", "/org/iommud1"), "org.iommud1.Manager")
try:
    path, fds = manager.Claim(dbus.Array(devices, signature="s"), dbus.Dictionary({}, signature="sv"))
except dbus.exceptions.DBusException as e:
    print(f"dbus-claim: {e.get_dbus_name()}: {e.get_dbus_message()}", file=sys.stderr)
    sys.exit(4)
lease = dbus.Interface(bus.get_object("org.iommud1", path), "org.freedesktop.DBus.Properties")
props = lease.GetAll("org.iommud1.Lease")

taken = {str(k): v.take() for k, v in fds.items()}
for fd in taken.values():
    os.set_inheritable(fd, True)
env = dict(os.environ)
env["IOMMUD_LEASE"] = str(props["Id"])
special = ("iommufd", "container")
if "iommufd" in taken:
    env["IOMMUD_IOMMUFD"] = str(taken["iommufd"])
if "container" in taken:
    env["IOMMUD_CONTAINER"] = str(taken["container"])
groups = " ".join(f"{k[6:]}={v}" for k, v in taken.items() if k.startswith("group:"))
if groups:
    env["IOMMUD_GROUP_FDS"] = groups
env["IOMMUD_DEVICE_FDS"] = " ".join(
    f"{k}={v}" for k, v in taken.items() if k not in special and not k.startswith("group:"))
if int(props["IoasId"]) >= 0:
    env["IOMMUD_IOAS_ID"] = str(int(props["IoasId"]))
print(f"dbus-claim: lease {props['Id']} ({props['Mode']}, {props['Backend']}) at {path}: "
      + ", ".join(f"{k}={v}" for k, v in taken.items()), flush=True)
os.execvpe(command[0], command, env)
