"""What must hold of `make package`'s deployment.zip before it goes to Lambda, checked offline.

`scripts/package.py` runs these after building (and fails on a problem), and
tests/integration/test_deploy.py runs them on a fresh package, so an artifact that would not load on
the runtime never leaves the machine:
- unzipped size under Lambda's limit with a margin (UNZIPPED_BUDGET);
- no wheel built on this host (a `linux_x86_64` tag: compiled against our libraries, not the runtime's);
- every shared object asks for no newer GLIBC (GLIBCXX, CXXABI) than the runtime has, and each
  library it needs is in the zip or in the runtime's base image (RUNTIME_LIBRARIES).
ELF files are read with pyelftools (pure Python, pinned in requirements-dev.txt: no binutils needed).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes: Lambda's 250 MB for a function's unzipped code
UNZIPPED_BUDGET = LAMBDA_UNZIPPED_LIMIT * 3 // 4  # a quarter (62.5 MB) kept free for growth

# The Amazon Linux 2023 Python runtimes (python3.12+): glibc 2.34, GCC 11's libstdc++.
RUNTIME_SYMBOL_VERSIONS = {"GLIBC": (2, 34), "GLIBCXX": (3, 4, 29), "CXXABI": (1, 3, 13)}
# What those runtimes provide (manylinux's allow-list, less the X11/GL ones Lambda has not).
RUNTIME_LIBRARIES = frozenset(
    {
        "ld-linux-x86-64.so.2",
        "libc.so.6",
        "libdl.so.2",
        "libgcc_s.so.1",
        "libm.so.6",
        "libpthread.so.0",
        "libresolv.so.2",
        "librt.so.1",
        "libstdc++.so.6",
        "libutil.so.1",
        "libz.so.1",
    }
)
_VERSION = re.compile(r"^(GLIBC|GLIBCXX|CXXABI)_(\d+(?:\.\d+)*)$")


@dataclass
class Report:
    """What the checks found: `problems` empty means the artifact is fit to deploy."""

    unzipped_bytes: int = 0
    shared_objects: int = 0
    highest: dict[str, tuple[int, ...]] = field(default_factory=dict)  # per symbol family
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        highest = ", ".join(f"{k} {'.'.join(map(str, v))}" for k, v in sorted(self.highest.items()))
        return (
            f"{self.unzipped_bytes / 1e6:.1f} MB unzipped (budget {UNZIPPED_BUDGET / 1e6:.1f} MB, "
            f"limit {LAMBDA_UNZIPPED_LIMIT / 1e6:.1f} MB); {self.shared_objects} shared objects, "
            f"highest {highest or 'none'}"
        )


def check_zip(path: str) -> Report:
    report = Report()
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        report.unzipped_bytes = sum(i.file_size for i in infos)
        if report.unzipped_bytes > UNZIPPED_BUDGET:
            report.problems.append(
                f"{report.unzipped_bytes} bytes unzipped, over the budget of {UNZIPPED_BUDGET} "
                f"(Lambda's limit {LAMBDA_UNZIPPED_LIMIT})"
            )
        bundled = {PurePosixPath(i.filename).name for i in infos}
        for info in infos:
            if info.filename.endswith(".dist-info/WHEEL"):
                report.problems += host_built(info.filename, zf.read(info).decode("utf-8", "replace"))
                continue
            with zf.open(info) as f:
                if f.read(4) != b"\x7fELF":
                    continue
            report.shared_objects += 1
            needed, versions = elf_requirements(zf.read(info))
            for lib in sorted(needed - bundled - RUNTIME_LIBRARIES):
                report.problems.append(f"{info.filename} needs {lib}: neither in the zip nor in the runtime")
            for family, version in versions:
                report.highest[family] = max(report.highest.get(family, version), version)
                if version > RUNTIME_SYMBOL_VERSIONS[family]:
                    have = ".".join(map(str, RUNTIME_SYMBOL_VERSIONS[family]))
                    report.problems.append(
                        f"{info.filename} needs {family}_{'.'.join(map(str, version))} (the runtime has {have})"
                    )
    return report


def host_built(name: str, wheel_metadata: str) -> list[str]:
    """A problem for each wheel tag that names no manylinux/any platform: built on this host."""
    tags = [line.split(":", 1)[1].strip() for line in wheel_metadata.splitlines() if line.startswith("Tag:")]
    return [
        f"{name}: {tag} is a wheel built on this host, not for the runtime"
        for tag in tags
        if tag.rsplit("-", 1)[-1].startswith("linux_")
    ]


def elf_requirements(data: bytes) -> tuple[set[str], set[tuple[str, tuple[int, ...]]]]:
    """(DT_NEEDED libraries, versioned symbol requirements like ("GLIBC", (2, 17))) of an ELF file."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    elf = ELFFile(io.BytesIO(data))
    needed: set[str] = set()
    versions: set[tuple[str, tuple[int, ...]]] = set()
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            tags = section.iter_tags("DT_NEEDED")
            needed |= {tag.needed for tag in tags}  # type: ignore[attr-defined]  # set for DT_NEEDED
        elif isinstance(section, GNUVerNeedSection):
            for _, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    match = _VERSION.match(aux.name)
                    if match:
                        versions.add((match.group(1), tuple(int(p) for p in match.group(2).split("."))))
    return needed, versions
