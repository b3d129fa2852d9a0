"""Background memory work on the durable queue: learning from a session's turns in batches
(`window`), the nightly daily logs (which schedule their next run themselves). The Gateway's
worker runs `job_handlers`. `memory.extract` (one turn's extraction) is what earlier versions
queued after every turn; jobs of that kind still waiting are run as before."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.memory.graph import entity_model
from sophon.memory.learning import daily_logs, extraction, modelcall, window
from sophon.memory.search import vectors
from sophon.platform import queue
from sophon.platform.clock import utcnow
from sophon.platform.db import Database
from sophon.platform.queue import ClaimedJob, Job
from sophon.platform.queue_worker import Handler, PermanentJobError
from sophon.platform.vault import Vault
from sophon.providers.connect import ProviderRuntime
from sophon.settings import Settings
from sophon.tasks import activity

EXTRACT = "memory.extract"
DAILY_LOG = "memory.daily_log"
EMBED_ROUNDS = 16  # batches per job before handing over to a fresh one
DAILY_DELAY = timedelta(minutes=5)  # after midnight UTC, so late turns of the day are in
SUMMARY_SYSTEM = (
    "Summarise an assistant's day for its own future reference in two or three sentences: "
    "what was asked, what was done, what is still open. Plain text only."
)


def enqueue_extraction(
    db: AsyncSession, *, user_id: str | None, agent_id: str, session_id: str, task_id: str
) -> Job:
    """Queues memory extraction for a finished turn (inside the turn's transaction)."""
    payload = {"userId": user_id, "agentId": agent_id, "sessionId": session_id, "taskId": task_id}
    return queue.enqueue(db, EXTRACT, payload, serial_key=f"memory:{session_id}")


def next_run(day: date) -> datetime:
    return daily_logs.bounds(day)[1] + DAILY_DELAY


async def schedule_daily_logs(db: AsyncSession, day: date | None = None) -> Job | None:
    """Makes sure the session tenant has a daily-log job queued (call at start-up and when a
    tenant is created); None when one is already waiting."""
    if await queue.is_queued(db, DAILY_LOG):
        return None
    target = day or daily_logs.today()
    return queue.enqueue(
        db, DAILY_LOG, {"day": target.isoformat()}, run_after=next_run(target), serial_key=DAILY_LOG
    )


async def build_day(
    database: Database, vault: Vault, model_runtime: ProviderRuntime, tenant_id: str, day: date
) -> tuple[list[daily_logs.Digest], list[tuple[daily_logs.Digest, modelcall.Answer]]]:
    """The day's log of every (agent, user) that was active in the tenant, summarised by the
    model when one answers (asked outside any transaction), a digest otherwise; and the model's
    answers (their usage is recorded with the logs)."""
    start, end = daily_logs.bounds(day)
    async with database.transaction(readonly=True, tenant_id=tenant_id) as db:
        pairs = await activity.pairs_between(db, start, end)
        made = [await daily_logs.build(db, agent_id, user_id, day) for agent_id, user_id in pairs]
        planned = await modelcall.candidates(vault, db) if made else []
    answers: list[tuple[daily_logs.Digest, modelcall.Answer]] = []
    for digest in made:
        lines = "\n".join(digest.lines)
        answer = await modelcall.ask(model_runtime, planned, SUMMARY_SYSTEM, lines, max_tokens=300)
        if answer is not None:
            answers.append((digest, answer))
            if answer.text.strip():
                digest.summary, digest.method = " ".join(answer.text.split()), "model"
    return made, answers


def job_handlers(
    database: Database, settings: Settings, vault: Vault, model_runtime: ProviderRuntime
) -> dict[str, Handler]:

    async def extract(job: ClaimedJob) -> dict[str, Any] | None:
        payload = job.payload
        async with database.transaction(readonly=True, tenant_id=job.tenant_id) as db:
            turns = await activity.exchange_of_task(db, str(payload["taskId"]))
        ids = await extraction.propose(
            database,
            vault,
            model_runtime,
            embed=vectors.enabled(settings),
            tenant_id=job.tenant_id,
            user_id=payload.get("userId"),
            agent_id=str(payload["agentId"]),
            session_id=payload.get("sessionId"),
            messages=turns,
        )
        return {"entries": ids}

    async def learn(job: ClaimedJob) -> dict[str, Any] | None:
        payload = job.payload
        session_id = str(payload["sessionId"])
        async with database.transaction(readonly=True, tenant_id=job.tenant_id) as db:
            found = await window.batch(db, payload)
        if found.look_again is not None:  # the session is still talking: wait for a quiet spell
            await database.uninterrupted(
                window.follow_up(payload, found.look_again, window.IDLE), tenant_id=job.tenant_id
            )
            window.windows.idle_job_moved(session_id, found.look_again)
            return window.describe(found, [])
        if payload.get("reason") == window.IDLE:
            window.windows.idle_job_moved(session_id, None)  # the next turn opens a new window
        if found.through is None:
            return window.describe(found, [])
        move = window.advance(session_id, found.through)

        async def then(db: AsyncSession) -> None:
            await move(db)
            if found.more:
                await window.follow_up(payload, utcnow(), window.TURNS)(db)

        ids = await extraction.propose(
            database,
            vault,
            model_runtime,
            embed=vectors.enabled(settings),
            tenant_id=job.tenant_id,
            user_id=payload.get("userId"),
            agent_id=str(payload["agentId"]),
            session_id=session_id,
            messages=found.messages,
            then=then,
        )
        return window.describe(found, ids)

    async def daily_log(job: ClaimedJob) -> dict[str, Any] | None:
        try:
            day = date.fromisoformat(str(job.payload["day"]))
        except (KeyError, ValueError):
            raise PermanentJobError("the payload names no valid day") from None
        made, answers = await build_day(database, vault, model_runtime, job.tenant_id, day)
        following = day + timedelta(days=1)

        async def store(db: AsyncSession) -> None:
            for digest in made:
                await daily_logs.store(db, digest)
            for digest, answer in answers:
                answer.record(db, agent_id=digest.agent_id, user_id=digest.user_id)
            queue.enqueue(
                db,
                DAILY_LOG,
                {"day": following.isoformat()},
                run_after=next_run(following),
                serial_key=DAILY_LOG,
            )

        await database.uninterrupted(store, tenant_id=job.tenant_id)
        return {"logs": len(made)}

    async def embed(job: ClaimedJob) -> dict[str, Any] | None:
        engine = vectors.embedder(settings)
        if engine is None:
            return {"embedded": 0}
        done = 0
        for _ in range(EMBED_ROUNDS):
            # an EmbeddingFailed (service down) fails the attempt: the queue retries with backoff
            async with database.transaction(tenant_id=job.tenant_id) as db:
                count = await vectors.embed_pending(db, engine)
            done += count
            if count < vectors.BATCH:
                return {"embedded": done}
        async with database.transaction(tenant_id=job.tenant_id) as db:
            await vectors.request_embedding(db)  # more to do: continue in a fresh job
        return {"embedded": done}

    async def entities(job: ClaimedJob) -> dict[str, Any] | None:
        done = 0
        for _ in range(EMBED_ROUNDS):
            count = await entity_model.run(database, vault, model_runtime, job.tenant_id)
            done += count
            if count < entity_model.BATCH:
                return {"read": done}
        async with database.transaction(tenant_id=job.tenant_id) as db:
            db.info[entity_model.QUEUED_KEY] = True
            queue.enqueue(db, entity_model.JOB, {}, serial_key=entity_model.JOB)
        return {"read": done}

    return {
        EXTRACT: extract,
        window.LEARN: learn,
        DAILY_LOG: daily_log,
        vectors.EMBED_JOB: embed,
        entity_model.JOB: entities,
    }
