"""What a queue transaction's commit does in this process: wakes the workers of the kinds it
queued, and marks the jobs a handler completed in it as recorded."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

_QUEUED = "sophon.queued_jobs"  # Session.info: (kind, job id, serial key) of the due jobs queued
_COMPLETED = "sophon.completed_jobs"  # Session.info: outcomes of jobs completed in it
Waker = Callable[[Mapping[str, str]], None]
"""Called with the serial keys, by job id, of the jobs queued that have one."""
_wakers: list[tuple[frozenset[str], Waker]] = []


@dataclass
class Outcome:
    """Set once a job's completion committed in its handler's own transaction
    (`queue.complete_in`): the worker then records nothing more."""

    recorded: bool = False


def queued(session: Session, kind: str, job_id: str, serial_key: str | None) -> None:
    """The transaction queued a due job."""
    session.info.setdefault(_QUEUED, []).append((kind, job_id, serial_key))


def completed(session: Session, outcome: Outcome) -> None:
    """The transaction completes the job whose `outcome` this is."""
    session.info.setdefault(_COMPLETED, []).append(outcome)


def on_enqueued(kinds: Collection[str], wake: Waker) -> Callable[[], None]:
    """Calls `wake` when a transaction of this process that queued a job of `kinds` commits, so
    a worker here claims it at once instead of at its next poll (other processes still poll).
    Returns the function that stops it."""
    entry = (frozenset(kinds), wake)
    _wakers.append(entry)
    return lambda: _wakers.remove(entry) if entry in _wakers else None


@sa_event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return
    for outcome in session.info.pop(_COMPLETED, ()):
        outcome.recorded = True
    jobs = session.info.pop(_QUEUED, None)
    if not jobs:
        return
    for wanted, wake in tuple(_wakers):
        mine = [(job_id, key) for kind, job_id, key in jobs if kind in wanted]
        if mine:
            wake({job_id: key for job_id, key in mine if key is not None})


@sa_event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    if session.get_nested_transaction() is None:
        session.info.pop(_QUEUED, None)
        session.info.pop(_COMPLETED, None)
