"""Shared test set-up: the real Kafka broker and schema registry fixtures (see esgen.dev.pytest_plugin)."""

pytest_plugins = ["esgen.dev.pytest_plugin", "pytester"]
