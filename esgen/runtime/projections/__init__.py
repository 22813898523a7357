"""Projections: fold the events of one or more entity types into a read model.

=================  ==================================================================
``projection.py``  what a user writes: :class:`Projection`, :func:`handles`
``apply.py``       the apply step, no Kafka: a batch of records into one model
                   transaction (dedupe by offset and entity version, savepoints, dead
                   letters as values, redrives once); :class:`Applier`
``runner.py``      the Kafka loop: :class:`ProjectionRunner` (consumer group, commits,
                   dead-letter topics, replay, graceful stop), :class:`RunnerStats`
=================  ==================================================================

The read-model stores are in :mod:`esgen.runtime.models`; a unit test feeds a projection
without Kafka through :class:`esgen.runtime.testing.ProjectionFeed`, which runs the same
apply step.
"""

from esgen.runtime.deadletter import DeadLetterError
from esgen.runtime.projections.apply import (
    Applier,
    BatchResult,
    DeadLetter,
    Decoder,
    Redrive,
    RedriveResult,
)
from esgen.runtime.projections.projection import Handler, Projection, ProjectionError, handles
from esgen.runtime.projections.runner import ProjectionRunner, RunnerStats

__all__ = [
    "Applier",
    "BatchResult",
    "DeadLetter",
    "DeadLetterError",
    "Decoder",
    "Handler",
    "Projection",
    "ProjectionError",
    "ProjectionRunner",
    "Redrive",
    "RedriveResult",
    "RunnerStats",
    "handles",
]
