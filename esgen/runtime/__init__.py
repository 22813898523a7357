"""What generated modules and applications import at run time.

Only fastavro, confluent-kafka and the standard library may be imported from here
(and opentelemetry-api when it is installed: :mod:`esgen.runtime.telemetry`):
applications that never run the generator do not need jinja2, click or pyyaml.
Importing this package needs no running Kafka or registry.
"""

from esgen.runtime.client import CommandClient
from esgen.runtime.commands import CommandResult, require_meta
from esgen.runtime.descriptor import EntityDescriptor, EntityId, RecordType, no_change
from esgen.runtime.errors import (
    AppendOutcomeUnknown,
    CommandFailed,
    CommandRejected,
    CommandTimeout,
    ConcurrencyError,
    ConfigurationError,
    DecodeError,
    EncodeError,
    EsgenError,
    HistoryForked,
    HistoryTruncated,
    IntegrityError,
    InvariantViolation,
    PartitionCountChanged,
    RegistryError,
    RegistryUnavailable,
    StoreError,
    TopicsNotCoPartitioned,
    UnsafeTopic,
)
from esgen.runtime.hooks import resolve_function
from esgen.runtime.memory import InMemoryEventStore
from esgen.runtime.meta import CommandMeta, EventMeta
from esgen.runtime.models import (
    InMemoryModelStore,
    ModelError,
    ModelStore,
    ModelTransaction,
    ReadModel,
    SqliteModelStore,
)
from esgen.runtime.processor import (
    CommandProcessor,
    ProcessorConfig,
    ProcessorError,
    ProcessorStats,
)
from esgen.runtime.projections import (
    Projection,
    ProjectionError,
    ProjectionRunner,
    RunnerStats,
    handles,
)
from esgen.runtime.records import Record
from esgen.runtime.registry import RegistryClient
from esgen.runtime.statestore import MemoryStateStore, SnapshotEntry, SqliteStateStore, StateStore
from esgen.runtime.store import EventStore, Position, StoreConfig, StoreStats
from esgen.runtime.subjects import SubjectStrategy
from esgen.runtime.upcasts import Upcast
from esgen.runtime.values import float32
from esgen.runtime.wire import RegistrySerde, decode_events, decode_message

__all__ = [
    "AppendOutcomeUnknown",
    "CommandClient",
    "CommandFailed",
    "CommandMeta",
    "CommandProcessor",
    "CommandRejected",
    "CommandResult",
    "CommandTimeout",
    "ConcurrencyError",
    "ConfigurationError",
    "DecodeError",
    "EncodeError",
    "EntityDescriptor",
    "EntityId",
    "EsgenError",
    "EventMeta",
    "EventStore",
    "HistoryForked",
    "HistoryTruncated",
    "InMemoryEventStore",
    "InMemoryModelStore",
    "IntegrityError",
    "InvariantViolation",
    "MemoryStateStore",
    "ModelError",
    "ModelStore",
    "ModelTransaction",
    "PartitionCountChanged",
    "Position",
    "ProcessorConfig",
    "ProcessorError",
    "ProcessorStats",
    "Projection",
    "ProjectionError",
    "ProjectionRunner",
    "ReadModel",
    "Record",
    "RecordType",
    "RegistryClient",
    "RegistryError",
    "RegistrySerde",
    "RegistryUnavailable",
    "RunnerStats",
    "SnapshotEntry",
    "SqliteModelStore",
    "SqliteStateStore",
    "StateStore",
    "StoreConfig",
    "StoreError",
    "StoreStats",
    "SubjectStrategy",
    "TopicsNotCoPartitioned",
    "UnsafeTopic",
    "Upcast",
    "decode_events",
    "decode_message",
    "float32",
    "handles",
    "no_change",
    "require_meta",
    "resolve_function",
]
