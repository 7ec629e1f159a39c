"""One progress display for every long training job: a live bar in a terminal, a line per 10 % in a log."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def job_progress(console: Console) -> Progress:
    """A progress display whose tasks carry an ``info`` text (e.g. the current loss) beside the count."""
    columns = (
        TextColumn("    {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    if console.is_terminal:
        return Progress(*columns, console=console)
    return _TenthsProgress(*columns, console=console)


def loss_info(loss: float | dict[str, float] | str) -> str:
    """``loss 0.1234``, every term of a dict (``lowpass_l1 0.081 adversarial 0.93 …``), or a text as it is."""
    if isinstance(loss, str):
        return loss
    if isinstance(loss, dict):
        return " ".join(f"{name} {value:.3g}" for name, value in loss.items())
    return f"loss {loss:.4f}"


class _TenthsProgress(Progress):
    """Without a terminal (a log file, CI) a live bar shows nothing until the end: print a line per 10 %."""

    def update(self, task_id, **fields) -> None:
        super().update(task_id, **fields)
        task = self._tasks[task_id]
        if task.total and "completed" in fields:
            tenth = int(10 * task.completed / task.total)
            if tenth > task.fields.get("_logged", 0):
                task.fields["_logged"] = tenth
                elapsed = task.elapsed or 0.0
                info = task.fields.get("info", "")
                self.console.print(f"    {int(task.completed)}/{int(task.total)} {info} ({elapsed:.0f} s)")


def due(done: int, every: int, total: int) -> bool:
    """Whether a periodic action (a checkpoint, a sample grid, a check) falls on step ``done`` of ``total``:
    every ``every`` steps and always at the last one, so a finished run has everything written."""
    return done == total or (every > 0 and done % every == 0)
