"""Real Kafka and schema registry services for development, tests and CI.

esgen runs against a real Apache Kafka broker (KRaft, one node) and a real
Confluent-compatible schema registry (Apicurio Registry, in memory). This package
resolves both from Maven Central, caches them, writes their configuration, starts,
health-checks and stops them. One concept per module:

- ``versions``  — the pinned versions, usual ports and where the Maven poms live.
- ``paths``     — the cache and state folders (``~/.cache/esgen`` by default).
- ``java``      — finding a JVM new enough for each service.
- ``download``  — resolving and caching the services through Maven.
- ``ports``     — choosing the usual port when free, else a free one.
- ``config``    — generating ``server.properties``, the log4j2 config, JVM arguments.
- ``process``   — spawning, identifying, stopping processes; log tails.
- ``health``    — waiting until a service answers.
- ``state``     — the state file of ``esgen dev up``.
- ``watchdog``  — stopping a session's services if the session dies without cleanup.
- ``services``  — starting and stopping the pair: what the CLI and the pytest plugin use.
- ``pytest_plugin`` — session fixtures ``kafka_bootstrap`` and ``registry_url``.

Nothing in ``esgen.runtime`` imports this package, and this package imports nothing
from ``esgen.runtime``.
"""
