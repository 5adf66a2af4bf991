#!/usr/bin/env python3
# embed-text.py INPUT OUTPUT SYMBOL: write a C file defining
# `const char SYMBOL[]` with INPUT's contents, so the daemon serves the
# very IDL file that is installed.
import sys

src, dst, sym = sys.argv[1:4]
data = open(src, 'rb').read().decode('utf-8')
lines = ['/* Generated from %s by tools/embed-text.py. */' % src.split('/')[-1],
         'const char %s[] =' % sym]
for line in data.splitlines(keepends=True):
    esc = line.replace('\\', '\\\\').replace('"', '\\"').replace('\t', '\\t').replace('\n', '\\n')
    lines.append('        "%s"' % esc)
lines.append('        ;')
open(dst, 'w').write('\n'.join(lines) + '\n')
