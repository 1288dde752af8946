"""Decompression bombs for tests: a PNG of a few KB whose header claims huge dimensions."""

from __future__ import annotations

import struct
import zlib

ROWS = 16  # real pixel data for the first rows only: a full decode would need gigabytes


def bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    packer = zlib.compressobj(9)
    row = bytes(1 + width * 3)  # filter byte + black pixels
    pixels = b"".join(packer.compress(row) for _ in range(ROWS)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
