"""The jobs as people see them: list and read them, cancel and retry them (admins, through
``/api/v1/jobs`` and ``cairn jobs``). The engine itself is in :mod:`cairn.jobs.engine`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from cairn.entities.errors import CairnError
from cairn.entities.jobs import Job, JobQuery, JobState
from cairn.store import jobs as job_store
from cairn.store.db import Database
from cairn.store.paging import check_max_results, decode_token, encode_token, query_fingerprint

MAX_PAGE = 1000
DEFAULT_PAGE = 100


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[Job]
    next_page_token: str | None


def parse_state(value: str | None) -> JobState | None:
    """A ``state`` filter: one of the job states (a 400 naming the field otherwise)."""
    if value is None or not value.strip():
        return None
    try:
        return JobState(value.strip().lower())
    except ValueError:
        states = ", ".join(JobState)
        raise CairnError.invalid(
            f"Invalid value {value[:40]!r} for parameter 'state': expected one of {states}"
        ) from None


class JobService:
    def __init__(self, db: Database):
        self.db = db

    def page(
        self,
        kind: str | None = None,
        state: str | None = None,
        max_results: int = DEFAULT_PAGE,
        page_token: str | None = None,
    ) -> JobPage:
        """One page of jobs, newest first, and the keyset token of the next (tied to the
        filters: a token from another query is a 400)."""
        check_max_results(max_results, MAX_PAGE)
        if kind is not None and len(kind) > job_store.MAX_KIND:
            raise CairnError.invalid(
                f"Invalid value for parameter 'kind': longer than {job_store.MAX_KIND} characters"
            )
        kind = kind.strip() if kind and kind.strip() else None
        found_state = parse_state(state)
        fingerprint = query_fingerprint("jobs", kind, str(found_state))
        before_id = None
        if page_token:
            (last,) = decode_token(page_token, fingerprint, 1)
            if not isinstance(last, int) or isinstance(last, bool) or not 0 < last < 2**62:
                raise CairnError.invalid("Invalid page_token: not a token this server made")
            before_id = last
        query = JobQuery(kind, found_state, before_id, max_results + 1)
        found = self.db.read(partial(job_store.search, query=query))
        if len(found) <= max_results:
            return JobPage(found, None)
        found = found[:max_results]
        return JobPage(found, encode_token([found[-1].id], fingerprint))

    def get(self, job_id: int) -> Job:
        job = self.db.read(partial(job_store.get, job_id=job_id))
        if job is None:
            raise CairnError.not_found(f"Job {job_id} does not exist")
        return job

    def cancel(self, job_id: int) -> Job:
        """Cancel a pending job at once, or ask a running one to stop (a change event)."""
        return self.db.write(partial(job_store.cancel, job_id=job_id))

    def retry(self, job_id: int) -> Job:
        """Run a failed or cancelled job again, its attempts afresh (a change event)."""
        return self.db.write(partial(job_store.retry, job_id=job_id))

    def counts(self) -> dict[str, int]:
        return self.db.read(job_store.counts)
