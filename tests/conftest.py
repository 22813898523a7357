"""Shared test set-up: real Kafka and schema registry fixtures (esgen.dev.pytest_plugin)."""

pytest_plugins = ["esgen.dev.pytest_plugin", "pytester"]
