"""Memory and CPU of a process tree over time, read from /proc, for the pipeline benchmark.

The benchmark runs the pipeline as a child process (`lifecycle run`, as a user would) and
samples it and everything it starts (dbt) a few times a second; stage figures are read off
the samples between a step's start and end. Linux only, like the machines it is run on.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Sample:
    at: float  # epoch seconds
    rss_bytes: int  # resident memory of the whole tree
    cpu_seconds: float  # CPU used by the tree so far, reaped children included


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def _usage(pid: int) -> tuple[int, float]:
    """(resident bytes, CPU seconds incl. reaped children) of one process; 0s once gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0, 0.0
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return rss_pages * _PAGE, (utime + stime + cutime + cstime) / _TICKS


@dataclass
class TreeSampler:
    """Samples a process tree every `interval` seconds in a background thread."""

    pid: int
    interval: float = 0.2
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> Sample:
        usage = [_usage(p) for p in _tree(self.pid)]
        taken = Sample(time.time(), sum(u[0] for u in usage), sum(u[1] for u in usage))
        # CPU never goes down: a child reaped between two reads is counted by its parent.
        if self.samples and taken.cpu_seconds < self.samples[-1].cpu_seconds:
            taken = Sample(taken.at, taken.rss_bytes, self.samples[-1].cpu_seconds)
        self.samples.append(taken)
        return taken

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> dict[str, float]:
        """Peak RSS (MiB) and CPU seconds of the tree from `start` to `end` (epoch seconds)."""
        inside = [s for s in self.samples if start <= s.at <= end]
        before = [s for s in self.samples if s.at <= start]
        after = [s for s in self.samples if s.at >= end]
        first = before[-1] if before else (inside[0] if inside else None)
        last = after[0] if after else (inside[-1] if inside else None)
        cpu = last.cpu_seconds - first.cpu_seconds if first and last else 0.0
        peak = max((s.rss_bytes for s in inside or [x for x in (first, last) if x]), default=0)
        return {"cpu_seconds": round(cpu, 2), "peak_rss_mib": round(peak / 2**20, 1)}
