#!/usr/bin/python3
# A foreign varlink client (python3-varlink) must find iommud to be real
# varlink: it reads the interface description, calls every method, and
# follows Monitor (through a remove and an add injected with uevent-inject
# for a real device).  Prints TAP lines starting at number $2.
# Usage: varlink-foreign.py SOCKET FIRST_TAP_NUMBER UEVENT-INJECT
import os
import subprocess
import sys
import varlink

sock, n, inject = sys.argv[1], int(sys.argv[2]), sys.argv[3]
failed = False


def t(name, ok, note=''):
    global n, failed
    print('%sok %d - %s%s' % ('' if ok else 'not ', n, name, (' # ' + note) if note and not ok else ''))
    n += 1
    failed |= not ok


client = varlink.Client(address='unix:' + sock)
t('GetInfo lists org.iommud.Manager', 'org.iommud.Manager' in client.get_interfaces())
iface = client.get_interface('org.iommud.Manager')
t('the interface description parses and names every method',
  all(m in iface.members for m in ('ListDevices', 'GetDevice', 'ListGroups', 'GetGroup',
                                   'ListMdevTypes', 'Monitor', 'GetStatus')))
# Not namespaced: python3-varlink 31 fails to build InvalidParameter
# errors in namespaced mode.
with client.open('org.iommud.Manager') as conn:
    devices = conn.ListDevices()['devices']
    t('ListDevices', isinstance(devices, list))
    if devices:
        d = conn.GetDevice(devices[0]['name'])['device']
        t('GetDevice', d['name'] == devices[0]['name'])
    else:
        t('GetDevice', True)
    try:
        conn.GetDevice('0000:00:1f.7' if all(x['name'] != '0000:00:1f.7' for x in devices) else 'ffff:ff:1f.7')
        t('GetDevice of a missing device is NoSuchDevice', False)
    except varlink.VarlinkError as e:
        t('GetDevice of a missing device is NoSuchDevice', e.error() == 'org.iommud.Manager.NoSuchDevice', e.error())
    try:
        conn.GetDevice('../../etc')
        t('GetDevice of a malformed name is InvalidParameter', False)
    except varlink.VarlinkError as e:
        t('GetDevice of a malformed name is InvalidParameter',
          e.error() == 'org.varlink.service.InvalidParameter' and e.parameters().get('parameter') == 'name',
          repr(e.parameters()))
    groups = conn.ListGroups()['groups']
    t('ListGroups', isinstance(groups, list))
    if groups:
        t('GetGroup', conn.GetGroup(groups[0]['id'])['group']['id'] == groups[0]['id'])
    else:
        t('GetGroup', True)
    t('ListMdevTypes', isinstance(conn.ListMdevTypes()['parents'], list))
    st = conn.GetStatus()
    t('GetStatus', st['devices'] == len(devices) and st['backend'] in ('iommufd', 'legacy', 'none'))
    it = conn.Monitor(_more=True)
    first = next(it)
    t('Monitor streams with continues, starting with "subscribed"', first['event'] == 'subscribed')
    if devices:
        name = devices[0]['name']
        devpath = os.path.realpath('/sys/bus/pci/devices/' + name)[len('/sys'):]
        subprocess.run([inject, 'remove', devpath, 'pci'], check=True)
        subprocess.run([inject, 'add', devpath, 'pci'], check=True)
        seen = []
        for m in it:
            if m.get('device'):
                seen.append((m['event'], m['device']['name']))
            if ('add', name) in seen:
                break
        t('Monitor follows a remove and an add of %s' % name,
          seen.index(('remove', name)) < seen.index(('add', name)), repr(seen))
    else:
        t('Monitor follows a remove and an add # SKIP no PCI device', True)
sys.exit(1 if failed else 0)
