"""The pytest plugin itself: a service that cannot start makes the tests that need it FAIL."""

from __future__ import annotations

from pathlib import Path

import pytest

from esgen.dev import download, versions


def _broken_kafka_cache(root: Path) -> None:
    """A cached Kafka 'download' without jars: the storage format step cannot run."""
    libs = root / "dist" / f"kafka-{versions.KAFKA_VERSION}" / "libs"
    libs.mkdir(parents=True)
    (libs.parent / download.COMPLETE).write_text("fake\n")


def test_unstartable_service_fails_the_tests_that_need_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    _broken_kafka_cache(cache)
    monkeypatch.setenv("ESGEN_CACHE_DIR", str(cache))
    monkeypatch.delenv("ESGEN_BOOTSTRAP", raising=False)
    pytester.makeconftest('pytest_plugins = ["esgen.dev.pytest_plugin"]\n')
    pytester.makepyfile(
        """
        import pytest

        def test_uses_fixture(kafka_bootstrap):
            pass

        @pytest.mark.kafka
        def test_marked():
            pass

        def test_needs_nothing():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 2, result.stdout.str()
    assert outcomes.get("passed") == 1
    assert "skipped" not in outcomes and "error" not in outcomes and "errors" not in outcomes
    out = result.stdout.str()
    assert "kafka is unavailable: Kafka failed to start: formatting the storage failed" in out
    assert "last 30 lines of" in out
    assert "kafka.tools.StorageTool" in out  # the log tail: the JVM cannot find the class


def test_env_variable_that_does_not_answer_fails_with_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ESGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ESGEN_REGISTRY_URL", "http://127.0.0.1:9/apis/ccompat/v7")
    pytester.makeconftest('pytest_plugins = ["esgen.dev.pytest_plugin"]\n')
    pytester.makepyfile("def test_registry(registry_url):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.parseoutcomes().get("failed") == 1, result.stdout.str()
    assert "ESGEN_REGISTRY_URL=http://127.0.0.1:9/apis/ccompat/v7 is set but does not answer" in (
        result.stdout.str()
    )


def test_unstartable_cluster_fails_the_tests_that_use_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    _broken_kafka_cache(cache)
    monkeypatch.setenv("ESGEN_CACHE_DIR", str(cache))
    pytester.makeconftest('pytest_plugins = ["esgen.dev.pytest_plugin"]\n')
    pytester.makepyfile(
        """
        def test_one(kafka_cluster):
            pass

        def test_two(kafka_cluster):
            pass

        def test_needs_nothing():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf", "-m", "cluster")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 2, result.stdout.str()
    assert outcomes.get("deselected") == 1  # the cluster marker was added from the fixture
    assert "skipped" not in outcomes and "error" not in outcomes and "errors" not in outcomes
    out = result.stdout.str()
    assert "the Kafka cluster is unavailable: Kafka failed to start: formatting the storage" in out
    assert "kafka.tools.StorageTool" in out
