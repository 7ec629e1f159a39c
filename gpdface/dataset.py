"""Translate a whole dataset — a folder, a glob or a bucket — on one machine or a Ray cluster.

    gpdface translate-dataset ./photos ./drawn                     # Ray on this machine
    gpdface translate-dataset s3://in/photos s3://out/drawn --address auto --num-gpus-per-worker 1

Every image of the source is drawn into the destination under its own relative name (so ``a/x.jpg`` and
``b/x.jpg`` never meet), by ``gpdface.batch.TranslateBatch`` — one style loaded per worker, the same
translation as ``gpdface translate``, so the files are the same bytes. One record per image (faces, boxes,
scores, seconds per stage, or its error) goes into ``gpdface_records.parquet`` in the destination.

Nothing is lost or left half-written: each drawing is written to a temporary name and then moved to its
own (an interrupted run leaves no partial file under a final name), records are stored in parts as the run
goes, and a rerun skips every image already drawn or already refused. Engines: ``ray`` (Ray Data's
``read_binary_files`` → ``map_batches`` with actors; ``pip install "gpdface[ray]"``) and ``local`` (the same
batches in this process, no Ray): the reference a cluster run is compared with. Sources and destinations are
local paths or any URI pyarrow's filesystems know (``s3://``, ``gs://``, …, when their libraries are
installed); only local paths are tested here.
"""

from __future__ import annotations

import contextlib
import glob as globbing
import io
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import InputError, UsageError
from .formats import IMAGE_SUFFIXES
from .options import OptionError, TranslateOptions, at_least, one_of

Engine = Literal["ray", "local"]
ENGINES = ("ray", "local")
RECORDS = "gpdface_records.parquet"
PARTS = ".gpdface_records"  # the run's record parts, gathered into RECORDS at the end of each run
READ_CPUS, WORKER_CPUS = 0.1, 0.9  # Ray resources of a read task and of a CPU worker


@dataclass(frozen=True)
class DatasetJob:
    """What to translate, where to, and how the work is spread.

    Attributes:
        source: a folder (searched recursively), a glob pattern, or a URI (``s3://bucket/prefix``).
        destination: a folder or URI; drawings go under the sources' relative names.
        style: a style name or folder.
        options: how faces are found and drawn.
        engine: ``ray`` or ``local``.
        address: a Ray cluster to join (``auto``: the one ``ray start`` made here); None starts Ray locally.
        batch_size: images per batch a worker translates at once.
        concurrency: workers (Ray actors), each with the style loaded once.
        gpus_per_worker: GPUs each worker asks Ray for (0: CPU workers).
    """

    source: str
    destination: str
    style: str = "sketch"
    options: TranslateOptions = field(default_factory=TranslateOptions)
    engine: Engine = "ray"
    address: str | None = None
    batch_size: int = 16
    concurrency: int = 1
    gpus_per_worker: float = 0.0

    def __post_init__(self) -> None:
        one_of("engine", self.engine, ENGINES)
        at_least("batch_size", self.batch_size, 1)
        at_least("concurrency", self.concurrency, 1)
        at_least("gpus_per_worker", self.gpus_per_worker, 0, integer=False)
        if self.options.output not in (None, "paste"):
            raise OptionError("output", "must be paste for a dataset (one drawing per image)")


@dataclass
class DatasetReport:
    """What a run did."""

    found: int = 0  # images in the source
    skipped: int = 0  # already drawn or refused by an earlier run
    drawn: int = 0
    failed: int = 0
    faces: int = 0
    seconds: float = 0.0
    records: str = ""


class _Storage:
    """A local folder or a bucket, through pyarrow's filesystems."""

    def __init__(self, location: str) -> None:
        from pyarrow import fs

        self.fs, self.root = fs.FileSystem.from_uri(location) if "://" in location else (
            fs.LocalFileSystem(), str(Path(location).expanduser().resolve())
        )  # fmt: skip

    def path(self, relative: str) -> str:
        return f"{self.root.rstrip('/')}/{relative}"

    def exists(self, relative: str) -> bool:
        from pyarrow import fs

        return self.fs.get_file_info(self.path(relative)).type != fs.FileType.NotFound

    def write(self, relative: str, data: bytes) -> None:
        """Write under a temporary name beside the target, then move it there: never half a file."""
        target = self.path(relative)
        self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        temporary = f"{target.rsplit('/', 1)[0]}/.{target.rsplit('/', 1)[1]}.{uuid.uuid4().hex}.tmp"
        try:
            with self.fs.open_output_stream(temporary) as stream:
                stream.write(data)
            self.fs.move(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                self.fs.delete_file(temporary)
            raise

    def read(self, relative: str) -> bytes:
        with self.fs.open_input_stream(self.path(relative)) as stream:
            return stream.read()

    def listing(self, below: str = "") -> list[str]:
        """Relative names of the files below ``below`` (recursively), sorted."""
        from pyarrow import fs

        base = self.path(below) if below else self.root
        try:
            infos = self.fs.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
        except OSError:
            return []
        prefix = self.root.rstrip("/") + "/"
        return sorted(i.path[len(prefix) :] for i in infos if i.type == fs.FileType.File)


def list_sources(source: str) -> tuple[_Storage, list[str]]:
    """The source's storage and its images' relative names (sorted); a glob is taken relative to the part of
    the pattern before its first wildcard.

    Raises:
        InputError: nothing to translate there.
    """
    if "://" not in source and any(ch in source for ch in "*?[") and not Path(source).exists():
        head = source[: min(source.index(ch) for ch in "*?[" if ch in source)]
        root = Path(head if head.endswith(("/", "\\")) else Path(head).parent or ".")
        storage = _Storage(str(root))
        matches = sorted(Path(p).resolve() for p in globbing.glob(source, recursive=True) if Path(p).is_file())
        names = [p.relative_to(Path(storage.root)).as_posix() for p in matches]
    else:
        if "://" not in source and not Path(source).expanduser().is_dir():
            raise InputError(f"{source}: no such folder (give a folder, a glob pattern or a URI)")
        storage = _Storage(source)
        names = storage.listing()
    images = [n for n in names if Path(n).suffix.lower() in IMAGE_SUFFIXES and not Path(n).name.startswith(".")]
    if not images:
        raise InputError(f"{source}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) there")
    return storage, images


def run_dataset(job: DatasetJob, on_batch: Callable[[int, int], None] | None = None) -> DatasetReport:
    """Translate every image of ``job.source`` not yet done into ``job.destination``; see the module.

    ``on_batch(done, total)`` is called as batches finish.
    """
    began = time.perf_counter()
    source, names = list_sources(job.source)
    destination = _Storage(job.destination)
    if destination.root.rstrip("/") == source.root.rstrip("/"):
        raise UsageError("the destination is the source folder: drawings would sit among (and be read as) inputs")
    done = _done(destination)
    pending = [n for n in names if n not in done and not destination.exists(n)]
    report = DatasetReport(found=len(names), skipped=len(names) - len(pending))
    part = _RecordParts(destination)
    batches = _ray_batches(job, source, pending) if job.engine == "ray" else _local_batches(job, source, pending)
    try:
        for columns in batches:
            for index, relative in enumerate(columns["relative"]):
                data = columns["image"][index]
                if data is not None:
                    destination.write(relative, bytes(data))
                    report.drawn += 1
                    report.faces += int(columns["faces"][index])
                else:
                    report.failed += 1
            part.add(columns)
            if on_batch is not None:
                on_batch(report.drawn + report.failed, len(pending))
    finally:
        part.flush()
        report.records = part.gather()
        report.seconds = time.perf_counter() - began
    return report


def _done(destination: _Storage) -> set[str]:
    """Images an earlier run drew or refused (its records), by relative name."""
    import pyarrow.parquet as pq

    names: set[str] = set()
    for relative in [RECORDS, *destination.listing(PARTS)]:
        if relative.endswith(".parquet") and destination.exists(relative):
            names |= set(pq.read_table(io.BytesIO(destination.read(relative)), columns=["path"]).column(0).to_pylist())
    return names


class _RecordParts:
    """Records stored in parts as the run goes (each written whole), gathered into one table at the end."""

    def __init__(self, destination: _Storage) -> None:
        self.destination, self.rows, self.run = destination, [], uuid.uuid4().hex[:8]
        self.count = 0

    def add(self, columns: dict[str, list[Any]]) -> None:
        from .batch import RECORD_COLUMNS

        for index in range(len(columns["relative"])):
            row = {name: _plain(columns[name][index]) for name in RECORD_COLUMNS if name != "image"}
            row["path"] = columns["relative"][index]
            self.rows.append(row)
        if len(self.rows) >= 256:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        self.destination.write(f"{PARTS}/{self.run}-{self.count:05d}.parquet", _parquet(self.rows))
        self.rows, self.count = [], self.count + 1

    def gather(self) -> str:
        """All parts (of every run so far) as one table, the latest record of each image kept."""
        import pyarrow.parquet as pq

        rows: dict[str, dict] = {}
        for relative in [RECORDS, *self.destination.listing(PARTS)]:
            if relative.endswith(".parquet") and self.destination.exists(relative):
                for row in pq.read_table(io.BytesIO(self.destination.read(relative))).to_pylist():
                    rows[row["path"]] = row
        if rows:
            self.destination.write(RECORDS, _parquet([rows[k] for k in sorted(rows)]))
        return self.destination.path(RECORDS)


def _plain(value: Any) -> Any:
    """A Python value for a numpy one (Ray's numpy batches hold numpy scalars)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (bytes, str)) else value


def _parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def _local_batches(job: DatasetJob, source: _Storage, pending: list[str]) -> Iterator[dict[str, list[Any]]]:
    from .batch import TranslateBatch

    translate = TranslateBatch(job.style, job.options)
    for start in range(0, len(pending), job.batch_size):
        names = pending[start : start + job.batch_size]
        columns = translate({"bytes": [source.read(n) for n in names], "path": names})
        yield columns | {"relative": names}


def _ray_batches(job: DatasetJob, source: _Storage, pending: list[str]) -> Iterator[dict[str, list[Any]]]:
    try:
        import ray
        import ray.data
    except ImportError:
        raise UsageError('--engine ray needs Ray Data: pip install "gpdface[ray]" (or use --engine local)') from None
    from .batch import TranslateBatch

    if not pending:
        return
    if not ray.is_initialized():
        ray.init(address=job.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the command shows its own progress line
    uris = [source.path(n) for n in pending]
    relative = {source.path(n): n for n in pending}
    # Reading files is light: a small share of a CPU, so the workers (which hold most of them) never starve
    # it. CPU workers take a little under one CPU each for the same reason; GPU workers one CPU and their GPUs.
    dataset = ray.data.read_binary_files(
        uris, include_paths=True, filesystem=source.fs, ray_remote_args={"num_cpus": READ_CPUS}
    )
    drawn = dataset.map_batches(
        TranslateBatch,
        fn_constructor_kwargs={"style": job.style, "options": job.options},
        batch_size=job.batch_size,
        concurrency=job.concurrency,
        num_cpus=1.0 if job.gpus_per_worker else WORKER_CPUS,
        num_gpus=job.gpus_per_worker or None,
        batch_format="numpy",
    )
    for columns in drawn.iter_batches(batch_size=job.batch_size, batch_format="numpy"):
        paths = [str(p) for p in columns["path"]]
        out = {name: [_plain(value) for value in columns[name]] for name in columns}
        # an empty cell may come back as NaN: the drawing is bytes or None, the error a text or None
        out["image"] = [bytes(v) if isinstance(v, (bytes, bytearray, memoryview)) else None for v in out["image"]]
        out["error"] = [v if isinstance(v, str) else None for v in out["error"]]
        yield out | {"relative": [relative.get(p, relative.get(_normal(p), p)) for p in paths]}


def _normal(path: str) -> str:
    return str(Path(path).resolve()) if "://" not in path else path
