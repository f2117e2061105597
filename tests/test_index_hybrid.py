"""Fusion helpers: navigation (link list) detection, rescaling and identifier matching."""

from __future__ import annotations

import pytest

from index.hybrid import link_share, names_all, ranked, rescale, rrf


def test_link_share_counts_markdown_links_and_bare_urls() -> None:
    assert link_share("") == 0.0
    assert link_share("Plain prose about LoRA ranks.") == 0.0
    link = "[LoRA](https://x.org/lora)"
    assert link_share(link) == 1.0
    assert link_share(f"- {link}\n- https://y.org/qlora") == pytest.approx(
        (len(link) + len("https://y.org/qlora")) / len(f"- {link}\n- https://y.org/qlora")
    )
    prose = "LoRA adds two low-rank matrices beside each frozen weight; see " + link
    assert 0.0 < link_share(prose) < 0.5  # a citation in prose is not navigation


def test_rescale_reorders_only_the_named_rows() -> None:
    fused = rrf([(1.0, [1, 2, 3])], k=1)
    assert ranked(rescale(fused, {1}, 0.5)) == [2, 1, 3]
    assert rescale(fused, {1}, 1.0) is fused  # factor 1 = off
    assert rescale(fused, set(), 0.5) is fused
    assert rescale(fused, {9}, 0.5) == fused  # rows not among the candidates change nothing


def test_names_all_wants_every_identifier_as_a_whole_word() -> None:
    text = "export hccl_connect_timeout=1200; see nccl_proto_simple too. --tp-size 2"
    assert names_all(text, ["hccl_connect_timeout"])
    assert names_all(text, ["hccl_connect_timeout", "nccl_proto_simple"])
    assert not names_all(text, ["hccl_connect_timeout", "nccl_proto_ll128"])
    assert not names_all(text, ["hccl_connect"])  # a prefix of a longer identifier
    assert names_all(text, ["--tp-size"])
    assert not names_all(text, ["--tp"])
