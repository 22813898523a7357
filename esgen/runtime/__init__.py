"""What generated modules and applications import at run time.

Only fastavro, confluent-kafka and the standard library may be imported from here:
applications that never run the generator do not need jinja2, click or pyyaml.
"""

from esgen.runtime.descriptor import EntityDescriptor, RecordType
from esgen.runtime.errors import DecodeError, EncodeError, EsgenError, InvariantViolation
from esgen.runtime.hooks import resolve_function
from esgen.runtime.meta import EventMeta

__all__ = [
    "DecodeError",
    "EncodeError",
    "EntityDescriptor",
    "EsgenError",
    "EventMeta",
    "InvariantViolation",
    "RecordType",
    "resolve_function",
]
