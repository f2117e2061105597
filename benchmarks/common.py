"""What the QA benchmarks share: their common arguments and loading config + index from them.

Imported as `from common import ...`: benchmarks run as scripts, with this folder on sys.path.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from assistant import AppConfig, Assistant, load_config
from index import SearchIndex, get_embedder

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path("/work/archive-data")


def qa_parser(
    doc: str | None, data_help: str = "data dir with an index"
) -> argparse.ArgumentParser:
    """A parser described by the docstring's first line, with qa, --data, --config, --split."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("qa", type=Path, help="QA file (JSONL)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=data_help)
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--split", choices=["tune", "heldout", "all"], default="all")
    return parser


def load_qa_config(args: argparse.Namespace, **overrides: str) -> AppConfig:
    """The config of --config with LINKRAG_DATA=--data and the `overrides` env settings."""
    env = {**os.environ, "LINKRAG_DATA": str(args.data), **overrides}
    return load_config(args.config, env=env)


def load_assistant(args: argparse.Namespace, **overrides: str) -> Assistant:
    """An Assistant over the config that `load_qa_config` returns."""
    return Assistant(load_qa_config(args, **overrides))


def load_index(config: AppConfig) -> SearchIndex:
    """The live index of config.data_dir with the configured embedder."""
    return SearchIndex.load(config.data_dir, config.index, embedder=get_embedder(config.index))
