#!/usr/bin/env python3
"""The learning curve so far of a cell that is still running (or was cut off), read from its
checkpoint file (docs/CHECKPOINTS.md): a long cell (pixel-by-pixel MNIST, ~5.5 h) writes its
epochs' rows to Parquet only when it finishes, but its checkpoint holds every finished epoch's
row, so how the cell is doing can be read while it trains.

Both resumable trainers (`sas_rnn`, `tanh_rnn`) start their checkpoint with the same two fields:
a format number and the position (epochs done, training seconds, the epochs' rows), encoded
with bincode's standard configuration (variable-length integers, little-endian f64). This
script reads those two fields and ignores the rest (parameters, optimiser moments). It checks
the file header and the format number, and stops with an error on anything else.

Usage (CI does not run this):
  python3 tests/scripts/checkpoint_curve.py SWEEP_DIR/checkpoints/KEY.ckpt [--every 5]
prints one line per epoch that has a test accuracy (or every `--every`-th epoch).
"""

import argparse
import struct
import sys

MAGIC = b"ensweep-checkpoint 1\n"
FORMATS = {1}


class Reader:
    def __init__(self, data, pos):
        self.data, self.pos = data, pos

    def take(self, n):
        if self.pos + n > len(self.data):
            sys.exit("checkpoint truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def varint(self):
        """bincode's variable-length unsigned integer."""
        tag = self.take(1)[0]
        if tag < 251:
            return tag
        width = {251: 2, 252: 4, 253: 8}.get(tag)
        if width is None:
            sys.exit(f"unexpected integer tag {tag}")
        return int.from_bytes(self.take(width), "little")

    def f64(self):
        return struct.unpack("<d", self.take(8))[0]

    def string(self):
        return self.take(self.varint()).decode()


def read(path):
    data = open(path, "rb").read()
    if not data.startswith(MAGIC):
        sys.exit(f"{path}: not an ensweep checkpoint")
    header_end = data.index(b"\n", len(MAGIC))
    cell, kind, version = data[len(MAGIC):header_end].decode().split(" ")
    r = Reader(data, header_end + 1)
    fmt = r.varint()
    if fmt not in FORMATS:
        sys.exit(f"{path}: checkpoint format {fmt}, this script reads {sorted(FORMATS)}")
    epochs_done, seconds = r.varint(), r.f64()
    rows = []
    for _ in range(r.varint()):
        epoch = r.varint()
        values = {r.string(): r.f64() for _ in range(r.varint())}
        rows.append((epoch, values))
    return cell, kind, version, epochs_done, seconds, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--every", type=int, default=0,
                    help="also print every N-th epoch without a test accuracy")
    args = ap.parse_args()
    cell, kind, version, done, seconds, rows = read(args.checkpoint)
    print(f"cell {cell} ({version}): {done} epochs done, {seconds:.0f} s of training")
    skip = {"seconds", "epoch_seconds"}
    for epoch, values in rows:
        tested = any(k.startswith("test_") for k in values)
        if tested or (args.every and epoch % args.every == 0):
            shown = "  ".join(f"{k} {v:.4f}" for k, v in sorted(values.items()) if k not in skip)
            print(f"epoch {epoch + 1:4d}  {shown}")


if __name__ == "__main__":
    main()
