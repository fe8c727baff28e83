"""SQS sends of the embedded AWS in a time that does not grow with the queue, answered as moto answers them.

Moto's SendMessage builds the queue's attributes once per message (to read ``ContentBasedDeduplication``; a FIFO
queue's checks and add read it again): fourteen names or more, each converted from CamelCase, and three counts
(``ApproximateNumberOfMessages``, ``...Delayed``, ``...NotVisible``), each a walk of every message of the queue
asking the clock. A send then costs the queue's length: the scheduler's hourly run at 500 connections spent 38 of
its 41 s sending 1,500 jobs, and its 30,000 jobs at 10,000 connections would take hours. Real SQS has no such cost.

While ``sqs_sends_fast()`` is open, a send on the same thread reads the one attribute it asks for, as moto's
attributes hold it (a FIFO queue's ``ContentBasedDeduplication``, ``"true"`` or ``"false"``; a standard queue has
none). Everything else stays moto's: outside a send (GetQueueAttributes above all) the attributes are built in
full, with their counts, and every validation, id, MD5, sequence number and deduplication of a send is moto's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from moto.sqs.models import Queue, SQSBackend

_sending = threading.local()


def sending() -> bool:
    """Whether this thread is inside a send of moto's SQS (moto's server answers each request on its own thread)."""
    return bool(getattr(_sending, "active", False))


def _patched_send(original: Callable[..., Any]) -> Callable[..., Any]:
    def send_message(backend: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        saved = sending()
        _sending.active = True
        try:
            return original(backend, *args, **kwargs)
        finally:
            _sending.active = saved

    return send_message


def _patched_attributes(original: property) -> property:
    build = original.fget
    if build is None:  # pragma: no cover
        raise ImportError("moto's queue attributes are no longer a computed property: review this patch")

    def attributes(queue: Queue) -> dict[str, Any]:
        if not sending():
            built: dict[str, Any] = build(queue)
            return built
        # What a send reads, as moto builds it: FIFO attributes only for a FIFO queue, a bool as "true" or "false".
        if not queue.fifo_queue:
            return {}
        value = queue.content_based_deduplication  # type: ignore[attr-defined]  # set by name from the attribute
        return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}

    return property(attributes)


@contextmanager
def _patched(owner: type, name: str, patch: Callable[[Any], Any]) -> Iterator[None]:
    original = owner.__dict__[name]
    setattr(owner, name, patch(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextmanager
def sqs_sends_fast() -> Iterator[None]:
    """SQS sends made independent of the queue's length while open, in the embedded server and under ``mock_aws``."""
    with ExitStack() as stack:
        # SendMessageBatch sends each entry through send_message: one patch covers both.
        stack.enter_context(_patched(SQSBackend, "send_message", _patched_send))
        stack.enter_context(_patched(Queue, "attributes", _patched_attributes))
        yield
