"""The store-less job store of the fake server: answers ``createjobs``, keeps no job.

``editjobs``, ``getjobs`` and ``deletejobs`` then answer as :class:`~._store.JobStore`
does for a company with no job (see :class:`StorelessJobStore`).

Example::

    >>> store = StorelessJobStore()
    >>> [job] = store.create("acme", {"jobs": [{"priority": 9}]})
    >>> job["number"], store.company("acme").jobs
    (1, {})
"""

from __future__ import annotations

from itertools import repeat
from typing import Final

from ._rules import Wire, checked_jobs
from ._store import JobStore

__all__ = ["StorelessJobStore"]

# StorelessJobStore forgets the worker names it knows beyond this many.
_MAX_WORKERS: Final = 65_536
_dict_get: Final = dict.get


class StorelessJobStore(JobStore):
    """A :class:`~._store.JobStore` that keeps no job, so memory stays flat in a load test.

    :meth:`create` validates and answers as :meth:`JobStore.create` would with no job
    stored (ids and each company's numbers still count up, one ``uidSecondary`` twice in
    a request is still one job), then forgets the jobs. The other operations are the
    store's, on a company that has no job: :meth:`~JobStore.edit` refuses their ids as
    unknown (status 2), :meth:`~JobStore.get` finds nothing, and
    :meth:`~JobStore.delete` refuses any id as unknown (status 4; an empty list is
    status 0). Refusing rather than accepting deletes blindly is the choice edits
    already made: a store-less fake cannot know an id, and a test of deletes needs the
    storing fake. It keeps only the names of the workers it assigned (to map a
    ``receiverUid`` back), at most 65,536.

    To be cheap, :meth:`create` completes the request's own job dicts in place and
    answers with them: pass dicts nothing else uses (the server passes the parsed body).

    Example::

        >>> store = StorelessJobStore()
        >>> jobs = [{"destinationName": "HQ"}, {"priority": 9}]
        >>> answer = store.create("acme", {"jobs": jobs})
        >>> answer is jobs, [(job["number"], job["priority"]) for job in answer]
        (True, [(1, 5), (2, 9)])
        >>> store.company("acme").jobs, store.get("acme", {})
        ({}, [])
        >>> store.delete("acme", {"jobs": [answer[0]["id"]]})
        Traceback (most recent call last):
        ...
        hellotracks_async.testing._rules.RequestRefused: 1 unknown job id(s), e.g. '65f0...01'
    """

    def create(self, company: str, data: Wire, *, custom: bool = True) -> list[Wire]:
        """Answer a ``createjobs`` request as an empty :class:`JobStore` would; keep nothing.

        Example::

            >>> store = StorelessJobStore()
            >>> [first] = store.create("acme", {"jobs": [{"uidSecondary": "A"}]})
            >>> [again] = store.create("acme", {"jobs": [{"uidSecondary": "A"}]})
            >>> again["number"], again["id"] == first["id"]  # not an upsert: A was forgotten
            (2, False)
            >>> store.edit("acme", {"jobs": {first["id"]: {"priority": 1}}})
            Traceback (most recent call last):
            ...
            hellotracks_async.testing._rules.RequestRefused: unknown job id: 65f0...01
        """
        jobs = checked_jobs(data)
        uids = list(filter(None, map(_dict_get, jobs, repeat("uidSecondary"))))
        if len(set(uids)) != len(uids):  # an upsert within the request: rare, take the long way
            return self._create_and_forget(company, data, custom)
        self._create(company, jobs, data, custom=custom, keep=False)  # completes jobs
        if len(self._workers.uid_of_worker) > _MAX_WORKERS:
            self._workers.forget()
        return jobs

    def _create_and_forget(self, company: str, data: Wire, custom: bool) -> list[Wire]:
        answer = super().create(company, data, custom=custom)
        owner = self.company(company)
        for kept in (owner.jobs, owner.templates, owner.job_uids, owner.template_uids):
            kept.clear()
        return answer
