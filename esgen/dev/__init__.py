"""Real Kafka and schema registry services for development, tests and CI.

esgen runs against a real Apache Kafka broker (KRaft, one node; or a cluster of three for
fault tests and ``esgen dev up --brokers 3``) and a real Confluent-compatible schema
registry (Apicurio Registry, in memory). This package resolves them from Maven Central,
caches them, writes their configuration, starts, health-checks and stops them. One
concept per module:

- ``versions``  — the pinned versions, usual ports and where the Maven poms live.
- ``paths``     — the cache and state folders (``~/.cache/esgen`` by default).
- ``java``      — finding a JVM new enough for each service.
- ``download``  — resolving and caching the services through Maven (and the AsyncAPI JSON
  Schema the contract tests use, through npm).
- ``ports``     — choosing the usual port when free, else a free one.
- ``config``    — generating ``server.properties``, the log4j2 config, JVM arguments.
- ``process``   — spawning, identifying, stopping processes; log tails.
- ``nodes``     — one Kafka node's work folder, storage format and process.
- ``cluster``   — a cluster of Kafka nodes and the handle to kill, restart and inspect them.
- ``health``    — waiting until a service answers.
- ``state``     — the state file of ``esgen dev up``.
- ``watchdog``  — stopping a session's services if the session dies without cleanup.
- ``services``  — starting and stopping the pair: what the CLI and the pytest plugin use.
- ``pytest_plugin`` — session fixtures ``kafka_bootstrap`` and ``registry_url``, the
  module fixture ``kafka_cluster``.

Nothing in ``esgen.runtime`` imports this package, and this package imports nothing
from ``esgen.runtime``.
"""
