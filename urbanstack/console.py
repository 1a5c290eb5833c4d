"""Terminal output of every ``urbanstack`` command: consoles and progress.

On a terminal, tables fit the window and long runs show a progress bar (step n of N, current step, elapsed
time). When the output is piped (CI logs, ``| less``, a file), nothing is cut or wrapped: tables take their
natural width, commands stay on one line so they can be copied, and progress is plain lines, one per step.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

PIPED_WIDTH = 100_000
"""Console width when not on a terminal: wide enough that rich never wraps or truncates a line."""


def _console(stream) -> Console:
    tty = stream.isatty()
    # Not a terminal: no colour codes, no wrapping at 80 columns (rich's default for a pipe).
    return Console(file=stream, width=None if tty else PIPED_WIDTH, soft_wrap=not tty,
                   no_color=not tty, highlight=False)


class _Consoles:
    """``out`` and ``err`` bound to the current sys.stdout / sys.stderr (so tests that capture them work)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._cache: tuple[object, Console] | None = None

    def _get(self) -> Console:
        stream = getattr(sys, self._name)
        if self._cache is None or self._cache[0] is not stream:
            self._cache = (stream, _console(stream))
        return self._cache[1]

    def __getattr__(self, attr: str):
        return getattr(self._get(), attr)


out: Console = _Consoles("stdout")  # type: ignore[assignment]
err: Console = _Consoles("stderr")  # type: ignore[assignment]


def line(text: str, *, to_err: bool = False) -> None:
    """One plain line: no markup, no highlighting, never wrapped."""
    (err if to_err else out).print(text, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def progress(title: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """Report the steps of a long run; yields ``step(name, total=None)``, called as each step starts.

    Terminal: a progress bar on stderr (``title``, n of N, current step, elapsed). Otherwise: one line per step
    on stderr, ``[n/N] name`` with the elapsed time, so logs show where a slow run is.
    """
    start = time.monotonic()
    if sys.stderr.isatty():
        bar = Progress(TextColumn(f"{title}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.description}"), TimeElapsedColumn(), console=err._get(), transient=True)
        with bar:
            task = bar.add_task("", total=total)
            started = [0]

            def step(name: str, of: int | None = None) -> None:
                if of is not None:
                    bar.update(task, total=of)
                if started[0]:
                    bar.advance(task)
                started[0] += 1
                bar.update(task, description=name)

            yield step
            bar.update(task, completed=bar.tasks[0].total or started[0])
    else:
        count = [0]
        known = [total]

        def step(name: str, of: int | None = None) -> None:
            count[0] += 1
            known[0] = of if of is not None else known[0]
            n = f"{count[0]}/{known[0]}" if known[0] else f"{count[0]}"
            line(f"{title} [{n}] {name} ({time.monotonic() - start:.1f} s)", to_err=True)

        yield step
    line(f"{title}: done in {time.monotonic() - start:.1f} s", to_err=True)
