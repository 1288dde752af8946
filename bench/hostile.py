"""What hostile inputs cost a worker now: a decompression bomb, a trickling or endless server.

Prints JSON: (1) checking a 13000x13000 PNG of a few KB from its header (ms, peak RSS of a fresh
interpreter) against decoding an 8000x8000 one in full (what any over-limit image cost before);
(2) wall time until a provider call to a server trickling a byte every 50 ms is cut, with a 2 s
total deadline; (3) bytes read from a server with an endless body before the 1 MiB cap stops it.
No services needed. `make bench NAME=hostile`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: its queue.py would shadow the standard library

from tests.fakes.bomb import bomb_png  # noqa: E402
from tests.fakes.hostile_server import HostileServer  # noqa: E402

PROBE = """
import resource, sys, time
sys.path.insert(0, {root!r})
from PIL import Image
from chalicelib.uploads import image_limits
from tests.fakes.bomb import bomb_png
data = bomb_png({w}, {h})
t0 = time.perf_counter()
if {decode}:
    import io
    from PIL import ImageFile
    Image.MAX_IMAGE_PIXELS = None  # as if under Pillow's default, which only warned here
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # pixel data for the first rows only: decode the rest as black
    Image.open(io.BytesIO(data)).convert("RGB")
else:
    try:
        image_limits.check_size(*image_limits.dimensions(data))
    except image_limits.ImageRejected:
        pass
print((time.perf_counter() - t0) * 1e3, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _probe(width: int, height: int, decode: bool) -> dict:
    code = PROBE.format(root=str(ROOT), w=width, h=height, decode=decode)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    ms, rss_mb = result.stdout.split() if result.returncode == 0 else ("nan", "nan")
    return {
        "pixels": width * height,
        "file_bytes": len(bomb_png(width, height)),
        "ms": round(float(ms), 1),
        "peak_rss_mb": float(rss_mb),
        "ok": result.returncode == 0,
    }


def main() -> None:
    from chalicelib.infra import outbound

    report = {
        "bomb_header_check": _probe(13000, 13000, decode=False),
        "full_decode_before": _probe(8000, 8000, decode=True),
    }
    with HostileServer("trickle") as server:
        started = time.monotonic()
        try:
            outbound.request("POST", server.url, json={}, deadline_s=2.0, max_bytes=1 << 20)
        except outbound.OutboundError as exc:
            report["trickle_cut"] = {
                "kind": exc.kind,
                "after_s": round(time.monotonic() - started, 2),
                "bytes_the_server_sent": server.bytes_sent,
            }
    with HostileServer("endless") as server:
        try:
            outbound.request("POST", server.url, json={}, deadline_s=60, max_bytes=1 << 20)
        except outbound.OutboundError as exc:
            report["endless_cut"] = {"kind": exc.kind, "bytes_the_server_sent": server.bytes_sent}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
