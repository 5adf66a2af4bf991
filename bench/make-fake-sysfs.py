#!/usr/bin/env python3
# make-fake-sysfs.py ROOT COUNT [--vfs N --pf BDF --group-base G]
# Write a fake /sys tree with COUNT PCI functions (each in its own IOMMU
# group, a third of them bound to a driver), laid out as the kernel lays it
# out, for bench/run-registry.  With --vfs, add N SR-IOV VFs of --pf to an
# existing tree (for the event storm) and print their devpaths.
import os
import sys


def bdf(i, bus_base):
    return '0000:%02x:%02x.%d' % (bus_base + i // 256, (i // 8) % 32, i % 8)


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def add_device(root, name, group, driver=None, physfn=None, vendor='0x8086', device='0x10ca'):
    dev = os.path.join(root, 'devices/pci0000:00', name)
    os.makedirs(dev)
    for attr, val in (('vendor', vendor), ('device', device), ('subsystem_vendor', '0x8086'),
                      ('subsystem_device', '0x0000'), ('class', '0x020000'), ('numa_node', '-1'),
                      ('driver_override', '(null)')):
        write(os.path.join(dev, attr), val + '\n')
    uevent = 'PCI_SLOT_NAME=%s\nPCI_ID=%s:%s\n' % (name, vendor[2:].upper(), device[2:].upper())
    if driver:
        uevent = 'DRIVER=%s\n' % driver + uevent
        os.symlink('../../../bus/pci/drivers/' + driver, os.path.join(dev, 'driver'))
    write(os.path.join(dev, 'uevent'), uevent)
    os.symlink('../../../bus/pci', os.path.join(dev, 'subsystem'))
    os.symlink('../../../kernel/iommu_groups/%d' % group, os.path.join(dev, 'iommu_group'))
    if physfn:
        os.symlink('../' + physfn, os.path.join(dev, 'physfn'))
    gdir = os.path.join(root, 'kernel/iommu_groups/%d/devices' % group)
    os.makedirs(gdir, exist_ok=True)
    os.symlink('../../../../devices/pci0000:00/' + name, os.path.join(gdir, name))
    os.symlink('../../../devices/pci0000:00/' + name, os.path.join(root, 'bus/pci/devices', name))
    return '/devices/pci0000:00/' + name


def main():
    root, count = sys.argv[1], int(sys.argv[2])
    args = sys.argv[3:]
    if '--vfs' in args:
        n = int(args[args.index('--vfs') + 1])
        pf = args[args.index('--pf') + 1]
        base = int(args[args.index('--group-base') + 1])
        for i in range(n):
            print(add_device(root, bdf(i, 0xa0), base + i, physfn=pf))
        return
    for d in ('devices/pci0000:00', 'bus/pci/devices', 'bus/pci/drivers/e1000e', 'bus/pci/drivers/vfio-pci',
              'kernel/iommu_groups', 'class'):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for i in range(count):
        driver = ('e1000e', 'vfio-pci', None)[i % 3]
        add_device(root, bdf(i, 0x01), i, driver=driver)


main()
