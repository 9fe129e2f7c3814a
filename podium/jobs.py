"""Background work: scoring uploads outside the request that received them.

`ScoringPool.submit(id)` hands a received submission to a small worker pool; `recover()` picks up every submission
left queued or scoring (after a crash or a restart). Claims in `services.submissions.score` make sure each
submission is scored once even when several processes share the database.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import update

from podium.models import Status, Submission
from podium.runtime import Runtime
from podium.services import submissions

log = logging.getLogger(__name__)


class ScoringPool:
    def __init__(self, runtime: Runtime, workers: int = 2):
        self.runtime = runtime
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="podium-scoring")

    def submit(self, submission_id: int) -> Future:
        return self.executor.submit(self._score, submission_id)

    def _score(self, submission_id: int):
        try:
            return submissions.score(self.runtime.db, self.runtime.settings, submission_id)
        except Exception:
            log.exception("scoring submission %s failed", submission_id)
            raise

    def recover(self) -> list[Future]:
        """Score again what a previous process left unfinished: `scoring` rows go back to `queued` first."""
        with self.runtime.db.session() as session:
            ids = submissions.pending_ids(session)
            session.execute(update(Submission).where(Submission.id.in_(ids)).values(status=Status.queued))
        return [self.submit(sub_id) for sub_id in ids]

    def shutdown(self, wait: bool = True) -> None:
        self.executor.shutdown(wait=wait)
