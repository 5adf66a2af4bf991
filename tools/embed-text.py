#!/usr/bin/env python3
# embed-text.py INPUT OUTPUT SYMBOL: write a C file defining
# `const char SYMBOL[]` with INPUT's contents, so the daemon serves the
# very IDL file that is installed.  An array of bytes rather than a string
# literal: ISO C caps literals at 4095 bytes, and -Wpedantic holds us to it.
import sys

src, dst, sym = sys.argv[1:4]
data = open(src, 'rb').read()
data.decode('utf-8')  # refuse a file that is not UTF-8
out = ['/* Generated from %s by tools/embed-text.py. */' % src.split('/')[-1],
       'const char %s[] = {' % sym]
for i in range(0, len(data), 16):
    out.append('        ' + ' '.join('0x%02x,' % b for b in data[i:i + 16]))
out.append('        0x00,')
out.append('};')
open(dst, 'w').write('\n'.join(out) + '\n')
