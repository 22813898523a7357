"""Pinned service versions, the usual ports, and the Maven poms that resolve the services."""

from __future__ import annotations

from pathlib import Path

KAFKA_VERSION = "4.1.1"
"""Apache Kafka (``org.apache.kafka:kafka_2.13``); runs on Java 17+."""

APICURIO_VERSION = "3.3.3"
"""Apicurio Registry (``io.apicurio:apicurio-registry-app``, ``tar.gz``, ``all``); Java 21+."""

ASYNCAPI_SPECS_VERSION = "6.11.1"
"""The npm package ``@asyncapi/specs`` (the AsyncAPI Initiative's JSON Schemas, Apache-2.0):
``schemas/3.0.0.json`` validates the documents ``esgen contracts`` writes (in the tests)."""
ASYNCAPI_SCHEMA_SHA256 = "d4571a420e6ffb7fcc7066c95a6db1202f299a3c51daa103d0706bf30f95e626"
"""Of ``schemas/3.0.0.json`` in that package: a changed file is refused, not trusted."""

KAFKA_MIN_JAVA = 17
REGISTRY_MIN_JAVA = 21

KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093
REGISTRY_PORT = 8081
"""The Confluent Schema Registry's usual port, so ``docker-compose.yml`` and ``esgen dev up``
give the same addresses."""

CCOMPAT_PATH = "/apis/ccompat/v7"
"""Where Apicurio serves the Confluent-compatible API; ``registry_url`` includes it."""

POMS_DIR = Path(__file__).resolve().parent / "maven"
"""Shipped inside the package, so ``esgen dev up`` works from an installed esgen too."""
KAFKA_POM = POMS_DIR / "kafka" / "pom.xml"
REGISTRY_POM = POMS_DIR / "registry" / "pom.xml"
