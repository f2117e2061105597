"""The README's config reference must list exactly the settings the models accept."""

from __future__ import annotations

import re

from conftest import REPO
from pydantic import BaseModel

from assistant import AppConfig


def _model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            keys |= _model_keys(kind, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_config_reference_matches_the_settings_models() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", section, re.MULTILINE))
    assert documented == _model_keys(AppConfig)


def test_shipped_config_yaml_is_valid_and_complete() -> None:
    import yaml

    raw = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    AppConfig.model_validate(raw)
    assert set(raw) == {
        "data_dir",
        "sources",
        "fetch",
        "extract",
        "index",
        "executor",
        "ray",
        "answer",
        "ui",
    }
