"""Terminal output of every command (``urbanstack``, its ``costs`` group): consoles and progress.

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
    """One plain line: no markup, no highlighting; piped never wrapped, on a terminal broken between words at the
    window's edge (not in the middle of one)."""
    console = err if to_err else out
    console.print(text, markup=False, highlight=False, soft_wrap=not console.is_terminal)


@contextmanager
def progress(title: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """Report the steps of a long run; yields ``step(name, of=None, counted=True)``, called as each step starts
    (``of``: the number of counted steps, once known; ``counted=False``: a step beyond them, such as writing the
    files, shown without "n/N").

    Terminal: a progress bar on stderr (``title``, n of N, current step, elapsed). Otherwise: one line per step
    on stderr, ``title [n/N] name (after 4.2 s)``: the time since the run began, never mistaken for the step's
    duration. The last line, ``title: done in 11.1 s (longest step: name 7.4 s)``, comes when the run is done,
    after every step including the last, and is left out when the run fails.
    """
    start = time.monotonic()
    durations: dict[str, float] = {}
    current: list = [None, start]

    def finish_step() -> None:
        if current[0] is not None:
            durations[current[0]] = durations.get(current[0], 0.0) + time.monotonic() - current[1]

    if sys.stderr.isatty():
        bar = Progress(TextColumn(f"{title}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.description}"), TimeElapsedColumn(), console=err._get(), transient=True)
        with bar:
            task = bar.add_task("", total=total)
            running = [False]  # a counted step is running (it completes when the next step starts)

            def step(name: str, of: int | None = None, counted: bool = True) -> None:
                finish_step()
                current[:] = [name, time.monotonic()]
                if of is not None:
                    bar.update(task, total=of)
                if running[0]:
                    bar.advance(task)
                running[0] = counted  # an uncounted step (writing the files) leaves n of N as it is
                bar.update(task, description=name)

            yield step
            if running[0]:
                bar.advance(task)
    else:
        count = [0]
        known = [total]

        def step(name: str, of: int | None = None, counted: bool = True) -> None:
            finish_step()
            current[:] = [name, time.monotonic()]
            known[0] = of if of is not None else known[0]
            if counted:
                count[0] += 1
                n = f" [{count[0]}/{known[0]}]" if known[0] else f" [{count[0]}]"
            else:
                n = ":"
            line(f"{title}{n} {name} (after {time.monotonic() - start:.1f} s)", to_err=True)

        yield step
    finish_step()
    longest = max(durations.items(), key=lambda kv: kv[1], default=None)
    slowest = f" (longest step: {longest[0]} {longest[1]:.1f} s)" if longest and len(durations) > 1 else ""
    line(f"{title}: done in {time.monotonic() - start:.1f} s{slowest}", to_err=True)
