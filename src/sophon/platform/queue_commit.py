"""What a queue transaction's commit does in this process: wakes the workers of the kinds it
queued, and marks the jobs a handler completed in it as recorded."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

_QUEUED_KINDS = "sophon.queued_kinds"  # Session.info: kinds of the jobs this transaction queued
_COMPLETED = "sophon.completed_jobs"  # Session.info: outcomes of jobs completed in it
Waker = Callable[[], None]
_wakers: list[tuple[frozenset[str], Waker]] = []


@dataclass
class Outcome:
    """Set once a job's completion committed in its handler's own transaction
    (`queue.complete_in`): the worker then records nothing more."""

    recorded: bool = False


def queued(session: Session, kind: str) -> None:
    """The transaction queued a due job of `kind`."""
    session.info.setdefault(_QUEUED_KINDS, set()).add(kind)


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
    kinds = session.info.pop(_QUEUED_KINDS, None)
    if not kinds:
        return
    for wanted, wake in tuple(_wakers):
        if not wanted.isdisjoint(kinds):
            wake()


@sa_event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    if session.get_nested_transaction() is None:
        session.info.pop(_QUEUED_KINDS, None)
        session.info.pop(_COMPLETED, None)
