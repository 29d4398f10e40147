#!/bin/sh
# Seed the `bdb` fuzz corpus (fuzz/corpus/bdb, gitignored) with small Berkeley DB hash files:
# the small fixtures, plus 512-byte-page databases built with db5.3_load in both byte orders
# (inline and off-page values, key 0) and a hash-v8 variant with P_HASH_UNSORTED pages.
# Usage: tests/bdb/make-fuzz-seeds.sh   (from the repository root; needs db5.3-util, python3)
set -eu
out=fuzz/corpus/bdb
fix=../shared/fixtures/rpmdb
mkdir -p "$out"
for f in go-rpmdb-master/libuuid/Packages snyk-rpm-parser/rpm4_empty/Packages; do
    [ -f "$fix/$f" ] && cp "$fix/$f" "$out/$(echo "$f" | tr / _)"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for lorder in 1234 4321; do
    python3 - "$tmp/dump" "$lorder" <<'PY'
import struct, sys
path, lorder = sys.argv[1], sys.argv[2]
fmt = '<I' if lorder == '1234' else '>I'
# Fake blobs: il=0, dl=n, so 8+16*il+dl == len; 3 inline (<=128 bytes), 2 off-page.
recs = [(h, struct.pack('>II', 0, n) + bytes((h * 7 + i) & 0xff for i in range(n)))
        for h, n in [(1, 40), (2, 100), (3, 600), (5, 1500), (9, 20)]]
with open(path, 'w') as f:
    f.write('VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=512\n')
    f.write('db_lorder=%s\nHEADER=END\n' % lorder)
    f.write(' %s\n %s\n' % (struct.pack(fmt, 0).hex(), struct.pack(fmt, 9).hex()))
    for h, b in recs:
        f.write(' %s\n %s\n' % (struct.pack(fmt, h).hex(), b.hex()))
    f.write('DATA=END\n')
PY
    rm -f "$tmp/Packages"
    db5.3_load -f "$tmp/dump" "$tmp/Packages"
    cp "$tmp/Packages" "$out/gen-512-$lorder"
    # Hash version 8: version field and P_HASH (13) -> P_HASH_UNSORTED (2) page types.
    python3 - "$tmp/Packages" "$out/gen-512-$lorder-v8" "$lorder" <<'PY'
import struct, sys
src, dst, lorder = sys.argv[1:]
d = bytearray(open(src, 'rb').read())
d[16:20] = struct.pack('<I' if lorder == '1234' else '>I', 8)
for base in range(512, len(d), 512):
    if d[base + 25] == 13:
        d[base + 25] = 2
open(dst, 'wb').write(d)
PY
done
ls -l "$out"
