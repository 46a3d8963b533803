"""FastAPI + hellotracks-async: accept a bulk import, run it in the background, report it.

One :class:`HellotracksClient` lives for the whole app (made in the lifespan, kept on
``app.state``), so every import shares its connection pool. ``POST /imports`` checks the
jobs, answers ``202`` at once with the import's id, and a BackgroundTask sends them;
``GET /imports/{id}`` shows its progress and, when done, the created job ids and any
failures.

Run it against the fake server (the ``examples`` extra installs FastAPI and uvicorn)::

    pip install 'hellotracks-async[examples]'   # in a checkout: pip install -e '.[examples]'
    hellotracks-async fake-server &           # prints the two variables to export
    export HELLOTRACKS_BASE_URL=http://127.0.0.1:8080/api/ HELLOTRACKS_API_KEY=test-key
    uvicorn fastapi_app:app --app-dir examples

    curl -X POST localhost:8000/imports -H 'Content-Type: application/json' \\
         -d '[{"destinationName": "Acme HQ", "day": 20261123}]'
    curl localhost:8000/imports/<id>

Imports are kept in memory here; a real service would store them (and could send its
own ``uidSecondary`` per job, so that posting the same import twice updates, not
duplicates).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import BackgroundTasks, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from hellotracks_async import HellotracksClient, Progress, ValidationError, validate_create

logger = logging.getLogger(__name__)


class ImportFailure(BaseModel):
    """Jobs (by position in the posted list) that failed together, and why."""

    indices: list[int]
    error: str


class ImportStatus(BaseModel):
    """The state of one import; counts move as batches finish."""

    id: str
    state: Literal["queued", "running", "done", "failed"] = "queued"
    total: int
    succeeded: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    job_ids: list[str] = Field(default_factory=list)
    failures: list[ImportFailure] = Field(default_factory=list)
    error: str | None = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The key and base URL come from HELLOTRACKS_API_KEY / HELLOTRACKS_BASE_URL.
    async with HellotracksClient(batch_size=100, max_concurrency=4) as client:
        app.state.client = client
        app.state.imports = {}
        yield


app = FastAPI(title="Job imports", lifespan=lifespan)


async def run_import(client: HellotracksClient, status: ImportStatus, jobs: list[Any]) -> None:
    """The background task: create the jobs, keeping ``status`` up to date."""
    status.state = "running"

    def progress(totals: Progress) -> None:
        status.succeeded, status.failed = totals.succeeded, totals.failed
        status.requests, status.retries = totals.requests, totals.retries

    try:
        result = await client.create_jobs(jobs, raise_on_error=False, progress=progress)
    except Exception as exc:  # e.g. the app shutting down: keep it on the record
        logger.exception("import %s failed", status.id)
        status.state, status.error = "failed", f"{type(exc).__name__}: {exc}"
        return
    status.job_ids = [job.id or "" for job in result.jobs]
    status.failures = [
        ImportFailure(
            indices=list(failure.indices),
            error=f"{type(failure.exception).__name__}: {failure.exception}",
        )
        for failure in result.failures
    ]
    status.requests, status.retries = result.requests, result.retries
    status.state = "done"


@app.post("/imports", status_code=202)
async def start_import(
    jobs: list[dict[str, Any]], request: Request, background: BackgroundTasks
) -> ImportStatus:
    """Check the jobs (wire format, e.g. ``destinationName``), then create them later."""
    for index, job in enumerate(jobs):
        try:
            validate_create(job, index)
        except ValidationError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
    status = ImportStatus(id=uuid.uuid4().hex, total=len(jobs))
    request.app.state.imports[status.id] = status
    background.add_task(run_import, request.app.state.client, status, jobs)
    return status


@app.get("/imports/{import_id}")
async def get_import(import_id: str, request: Request) -> ImportStatus:
    """The import's state and counts; job ids and failures once it is done."""
    status: ImportStatus | None = request.app.state.imports.get(import_id)
    if status is None:
        raise HTTPException(status_code=404, detail="no such import")
    return status
