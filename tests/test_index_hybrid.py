"""Fusion helpers: navigation (link list) detection and demotion."""

from __future__ import annotations

import pytest

from index.hybrid import demote, link_share, ranked, rrf


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


def test_demote_reorders_only_the_named_rows() -> None:
    fused = rrf([(1.0, [1, 2, 3])], k=1)
    assert ranked(demote(fused, {1}, 0.5)) == [2, 1, 3]
    assert demote(fused, {1}, 1.0) is fused  # factor 1 = off
    assert demote(fused, set(), 0.5) is fused
    assert demote(fused, {9}, 0.5) == fused  # rows not among the candidates change nothing
