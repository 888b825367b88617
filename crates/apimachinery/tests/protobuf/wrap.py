import sys
def varint(n):
    out = b""
    while True:
        b = n & 0x7f; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
def ld(field, data): return varint(field << 3 | 2) + varint(len(data)) + data
def envelope(api_version, kind, raw, encoding=b""):
    tm = ld(1, api_version.encode()) + ld(2, kind.encode())
    body = ld(1, tm) + ld(2, raw) + ld(3, encoding) + ld(4, b"")
    return b"k8s\0" + body
api_version, kind, raw_path, out = sys.argv[1:5]
open(out, "wb").write(envelope(api_version, kind, open(raw_path, "rb").read()))
