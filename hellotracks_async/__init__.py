"""hellotracks-async: an async-first SDK for the Hellotracks jobs API.

Example::

    >>> from hellotracks_async import Job, JobType
    >>> Job(destination_name="Acme", type=JobType.PICKUP).type
    <JobType.PICKUP: 1>

Bulk calls go through :class:`HellotracksClient`::

    async with HellotracksClient(api_key="...") as client:
        result = await client.create_jobs(jobs)      # any (async) iterable, batched
        await client.edit_jobs({job.id: JobUpdate(priority=9) for job in result.jobs})
"""

import logging

from .client import HellotracksClient
from .errors import (
    APIError,
    AuthenticationError,
    BulkError,
    BulkInterrupted,
    ConfigurationError,
    HellotracksError,
    JobNotFoundError,
    NotSentError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from .models import (
    END_OF_DAY,
    UNSET,
    CustomField,
    Job,
    JobType,
    JobUpdate,
    UnsetType,
    hhmm_to_time,
    time_to_hhmm,
)
from .results import BatchFailure, BatchOutcome, BulkResult, Progress
from .retrying import RetryPolicy
from .transport import MockTransport, Request, Response, Transport
from .validation import validate_create, validate_edit

__version__ = "0.1.0"

# A library leaves logging output to the application (retries are logged at INFO,
# failed batches at WARNING on the "hellotracks_async" logger).
logging.getLogger("hellotracks_async").addHandler(logging.NullHandler())

__all__ = [
    "END_OF_DAY",
    "UNSET",
    "APIError",
    "AuthenticationError",
    "BatchFailure",
    "BatchOutcome",
    "BulkError",
    "BulkInterrupted",
    "BulkResult",
    "ConfigurationError",
    "CustomField",
    "HellotracksClient",
    "HellotracksError",
    "Job",
    "JobNotFoundError",
    "JobType",
    "JobUpdate",
    "MockTransport",
    "NotSentError",
    "Progress",
    "RateLimitError",
    "Request",
    "Response",
    "RetryPolicy",
    "ServerError",
    "Transport",
    "TransportError",
    "UnsetType",
    "ValidationError",
    "__version__",
    "hhmm_to_time",
    "time_to_hhmm",
    "validate_create",
    "validate_edit",
]
