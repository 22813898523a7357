"""esgen: event sourcing on Apache Kafka from declarative definitions."""

__version__ = "0.1.0"
