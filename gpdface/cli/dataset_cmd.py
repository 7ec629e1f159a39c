"""``gpdface translate-dataset``: a folder, glob or bucket drawn into another, on Ray or in this process."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..options import TranslateOptions
from .base import app, err, guarded, out

_T = TranslateOptions()


@app.command("translate-dataset")
def translate_dataset(
    source: Annotated[str, typer.Argument(help="A folder (searched recursively), a glob pattern or a URI (s3://…).")],
    destination: Annotated[str, typer.Argument(help="A folder or URI: drawings under the sources' relative names.")],
    style: Annotated[str, typer.Option("--style", "-s", help="Style name or style folder.")] = "sketch",
    engine: Annotated[str, typer.Option(help="ray (the ray extra), or local (this process, no Ray).")] = "ray",
    address: Annotated[
        str | None,
        typer.Option(help="A Ray cluster to join (auto: the one `ray start` made); default: start Ray here."),
    ] = None,
    num_gpus_per_worker: Annotated[float, typer.Option(help="GPUs each worker asks Ray for (0: CPU).")] = 0.0,
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = 16,
    concurrency: Annotated[int, typer.Option(help="Workers, each with the style loaded once.")] = 1,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N (in each worker).")] = _T.device,
    background: Annotated[
        str | None, typer.Option(help="Around the faces: keep, grey, pencil, student or paper (default: the style's).")
    ] = None,
    max_faces: Annotated[int | None, typer.Option(help="At most N faces per image, largest first.")] = None,
    threshold: Annotated[float, typer.Option(help="Minimum detector confidence.")] = _T.threshold,
) -> None:
    """Translate every image of a dataset (resumable: images already done are skipped); records go to Parquet."""

    def body() -> int:
        from ..dataset import DatasetJob, run_dataset

        options = TranslateOptions(
            device=device,
            background=background,
            max_faces=max_faces,
            threshold=threshold,  # type: ignore[arg-type]
        )
        job = DatasetJob(source, destination, style, options, engine, address, batch_size, concurrency,  # type: ignore[arg-type]
                         num_gpus_per_worker)  # fmt: skip
        columns = (TextColumn("translating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("images", total=None)
            report = run_dataset(job, on_batch=lambda done, total: progress.update(task, completed=done, total=total))
        out.print(
            f"{report.drawn} drawn, {report.failed} refused, {report.skipped} already done of {report.found} images "
            f"({report.faces} faces) in {report.seconds:.1f} s; records: {report.records}",
            markup=False,
        )
        return 1 if report.failed else 0

    raise typer.Exit(guarded(body))
