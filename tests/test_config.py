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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'[tool.esgen]\npackage = "my-events"\n', "package 'my-events' is not a Python import"),
        (
            b'[tool.esgen]\npackage = "gen.class"\n',
            "package 'gen.class' contains a Python keyword",
        ),
        (b'[tool.esgen]\noutput = "out-dir"\n', "package 'out-dir' is not a Python import name"),
        (
            b'[tool.esgen]\ndefinitions = "caf\xe9"\n',
            "cannot read configuration: the file is not UTF-8",
        ),
        (
            b"[tool.esgen]\nlock = " + b"9" * 5000 + b"\n",
            "cannot read configuration: Exceeds the limit",
        ),
        (b"[tool.esgen]\nlock = " + b"[" * 3000 + b"]" * 3000 + b"\n", "nested too deeply"),
        (b"[tool.esgen]\nlock = 3\n", "lock must be a string, got int"),
    ],
)
def test_a_bad_configuration_is_a_config_error(tmp_path: Path, text: bytes, message: str) -> None:
    (tmp_path / "pyproject.toml").write_bytes(text)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
