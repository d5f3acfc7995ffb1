"""The one fleet runner: work on many hosts at once, bounded, as audit, hunt and verify need it.

:func:`run_fleet` runs ``per_host`` on every target in a thread pool of ``forks`` workers
and yields each result as soon as it is ready (completion order). It starts a host only
when a worker is free, so a fleet of 10,000 hosts holds ``forks`` hosts in flight, not
10,000 queued futures. Stopped early (Ctrl-C, SIGTERM, the caller breaks out of the loop
or raises), it starts nothing new and does not wait for the hosts in flight: each ends by
itself within its own ``--timeout``.

``per_host`` must not raise for a host problem (a host's failure is data: its result says
what went wrong); an exception is a bug and is raised to the caller.

Example::

    for result in run_fleet(targets, lambda t: audit_host(t, options), forks=10):
        print(result.name, result.status)
    hosts = run_fleet_ordered(targets, lambda t: hunt_host(t, options), forks=10)  # inventory order
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_fleet(
    targets: Iterable[T],
    per_host: Callable[[T], R],
    forks: int,
    on_start: Callable[[T], None] | None = None,
    name: str = "harden",
) -> Iterator[R]:
    """``per_host(target)`` for every target, at most ``forks`` at once, yielded as each finishes.

    ``on_start(target)`` is called (in this thread) just before a host is started. ``name``
    prefixes the worker threads' names.
    """
    forks = max(1, forks)
    pending: set[Future[R]] = set()
    queue = list(targets)
    queue.reverse()
    pool = ThreadPoolExecutor(max_workers=forks, thread_name_prefix=name)
    finished = False

    def submit() -> None:
        target = queue.pop()
        if on_start:
            on_start(target)
        pending.add(pool.submit(per_host, target))

    try:
        while queue and len(pending) < forks:
            submit()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                pending.discard(fut)
                yield fut.result()
                if queue:
                    submit()
        finished = True
    finally:
        # Interrupted (Ctrl-C, SIGTERM, the caller stopped early): start nothing new and do not
        # wait for hosts in flight; each ends by itself within its own --timeout.
        pool.shutdown(wait=finished, cancel_futures=True)


def run_fleet_ordered(
    targets: Iterable[T],
    per_host: Callable[[T], R],
    forks: int,
    on_done: Callable[[R], None] | None = None,
    name: str = "harden",
) -> list[R]:
    """Every result of :func:`run_fleet`, in the order of ``targets``.

    ``on_done(result)`` is called in that order too, for each host as soon as it and every host
    before it have finished (a progress line per host, in inventory order).
    """
    items = list(enumerate(targets))
    results: dict[int, R] = {}
    reported = 0
    for index, result in run_fleet(items, lambda item: (item[0], per_host(item[1])), forks, name=name):
        results[index] = result
        while reported in results:
            if on_done:
                on_done(results[reported])
            reported += 1
    return [results[i] for i in range(len(items))]
