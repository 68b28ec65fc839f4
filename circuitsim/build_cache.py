"""The build cache's integrity (the standalone device's compiled programs).

A build folder is vouched for by its manifest (``circuitsim-build.json``, written last), which
records the sha256 of the compiled program and of the sources it was compiled from:
:func:`_check_build` tells a verified build from one that did not finish, one of another
structure, one of an older circuitsim and a broken one (see :mod:`circuitsim.device` for what
happens to each).

Split out of :mod:`circuitsim.device`, which re-exports these names.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Any, Dict, Optional

from circuitsim.errors import StorageError

COMPLETE_MARKER = "circuitsim-build.json"   # written last: the folder holds a complete build

LOW_DISK_MB = 64   # a failed compilation with less free space than this is reported as a full disk


def _free_mb(path: Path) -> Optional[float]:
    try:
        return shutil.disk_usage(path if path.exists() else path.parent).free / 2**20
    except OSError:
        return None


def _write_manifest(build_dir: Path, manifest: Dict[str, Any]) -> None:
    """Write the manifest atomically; it is the last file of a build and vouches for it."""
    from circuitsim.io.results import atomic_write

    text = json.dumps(manifest, indent=1).encode()
    atomic_write(build_dir / COMPLETE_MARKER, lambda fh: fh.write(text), "the build manifest")


SOURCE_SUFFIXES = (".cpp", ".h", ".hpp", ".c", ".cu", ".cuh")
SOURCE_NAMES = ("makefile", "Makefile", "win_makefile")
_DATA_DIRS = ("static_arrays", "results")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sources_sha256(build_dir: Path) -> str:
    """sha256 over the generated sources of a build (relative names and contents): the program's inputs."""
    digest = hashlib.sha256()
    files = []
    for path in build_dir.rglob("*"):
        rel = path.relative_to(build_dir)
        if rel.parts[0] in _DATA_DIRS or not path.is_file():
            continue
        if path.suffix in SOURCE_SUFFIXES or path.name in SOURCE_NAMES:
            files.append(rel)
    for rel in sorted(files):
        digest.update(str(rel).encode() + b"\0")
        digest.update(_sha256(build_dir / rel).encode())
    return digest.hexdigest()


def _is_program(path: Path) -> bool:
    """A regular, executable, non-empty file."""
    try:
        st = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size > 0 and os.access(path, os.X_OK)


def _elf_intact(path: Path) -> bool:
    """An ELF file whose section header table lies inside the file (a truncated program fails)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    if len(head) < 52 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] not in (1, 2):
        return False
    order = "little" if head[5] == 1 else "big"

    def field(a: int, b: int) -> int:
        return int.from_bytes(head[a:b], order)

    if head[4] == 2:
        if len(head) < 64:
            return False
        shoff, shentsize, shnum = field(0x28, 0x30), field(0x3A, 0x3C), field(0x3C, 0x3E)
    else:
        shoff, shentsize, shnum = field(0x20, 0x24), field(0x2E, 0x30), field(0x30, 0x32)
    return 0 < shoff and shoff + shentsize * shnum <= size


#: states of a build folder (see _check_build)
OK, ABSENT, OTHER, LEGACY, BROKEN = "ok", "absent", "other", "legacy", "broken"


def _check_build(build_dir: Path, key: str) -> tuple:
    """``(state, why, manifest)`` of a build folder for the structure ``key``.

    ``ok``: a complete build of ``key`` whose program and sources match the manifest's checksums;
    ``absent``: no folder, or one without a manifest (never built, or a build that did not
    finish); ``other``: a complete, intact build of another structure (an explicit
    ``sim.build_dir`` reused); ``legacy``: a build of ``key`` by an older circuitsim (no
    checksums) whose program is intact; ``broken``: anything else.
    """
    marker = build_dir / COMPLETE_MARKER
    if not marker.exists():
        return ABSENT, "no build", None
    try:
        manifest = json.loads(marker.read_text())
    except (OSError, ValueError) as err:
        return BROKEN, f"its manifest {marker.name} is unreadable ({type(err).__name__})", None
    needed = {"key": str, "static_arrays": dict, "function_arrays": list}
    if not isinstance(manifest, dict) or not all(isinstance(manifest.get(k), t) for k, t in needed.items()):
        return BROKEN, f"its manifest {marker.name} is not a circuitsim build manifest", None
    program = build_dir / "main"
    if not _is_program(program):
        return BROKEN, f"its program {program.name} is missing, empty or not executable", manifest
    if "program_sha256" not in manifest:
        if not _elf_intact(program):
            return BROKEN, f"its program {program.name} is truncated", manifest
        return (LEGACY if manifest["key"] == key else OTHER), "built by an older circuitsim", manifest
    try:
        if _sha256(program) != manifest["program_sha256"]:
            return BROKEN, f"its program {program.name} does not match the manifest's checksum", manifest
        if _sources_sha256(build_dir) != manifest.get("sources_sha256"):
            return BROKEN, "its sources do not match the manifest's checksum", manifest
    except OSError as err:
        return BROKEN, f"it cannot be read ({err.strerror})", manifest
    return (OK if manifest["key"] == key else OTHER), "", manifest


def _discard(build_dir: Path) -> None:
    """Move a broken build folder aside (runs still using its program keep it) and remove it."""
    aside = build_dir.with_name(f"{build_dir.name}.broken-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(build_dir, aside)
    except OSError as err:
        raise StorageError(build_dir, "a fresh build (moving the broken one aside)", err) from None
    shutil.rmtree(aside, ignore_errors=True)
