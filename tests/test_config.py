from pathlib import Path

import pytest

from esgen.config import load_config
from esgen.errors import ConfigError


def test_pyproject_section_is_found_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.esgen]\ndefinitions = "defs"\noutput = "src/gen"\n'
    )
    (tmp_path / "sub").mkdir()
    config = load_config(tmp_path / "sub")
    assert config.definitions == tmp_path / "defs"
    assert config.output == tmp_path / "src" / "gen"
    assert config.package == "gen"


def test_esgen_toml_is_the_fallback(tmp_path: Path) -> None:
    (tmp_path / "esgen.toml").write_text('package = "my_events"\n')
    config = load_config(tmp_path)
    assert config.package == "my_events"
    assert config.definitions == tmp_path / "schemas"


def test_unknown_key_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.esgen]\ndefinition = "x"\n')
    with pytest.raises(ConfigError, match="unknown key 'definition'"):
        load_config(tmp_path)
