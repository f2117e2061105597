"""A small bilingual corpus and an index over it, shared by the assistant/ui/cli tests.

Not a test module itself (no tests); other test files import it by name, because
tests/ is on sys.path under pytest's default import mode.
"""

# ruff: noqa: E501  (article texts keep one sentence per line, as real markdown does)

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from index import Embedder, IndexSettings, build_index
from ingest import Article

PAGED = """# PagedAttention

## Why serving is memory bound
Serving large language models is expensive because every request keeps a KV cache.
The KV cache of each request is large, and it grows and shrinks as tokens are generated.
PagedAttention solves the memory fragmentation of the KV cache by storing keys and values in fixed-size blocks, like pages in an operating system's virtual memory.
As a result vLLM wastes under 4% of the KV cache memory and can batch far more requests together.

## Sharing
Blocks can be shared between sequences, so parallel sampling and beam search copy far less memory.
"""

ZERO = """# ZeRO 显存优化

## 三个阶段
ZeRO-1 只切分优化器状态，ZeRO-2 进一步切分梯度。
ZeRO-3 会把模型参数、梯度和优化器状态都切分到所有数据并行的 GPU 上。每张卡只保存自己那一份参数，在前向和反向计算时再通过 all-gather 临时收集完整参数。
这样每张卡的显存占用随着数据并行的 GPU 数量线性下降，代价是更多的通信。

## 实践建议
当模型能放进单卡显存时，优先使用 ZeRO-1 或 ZeRO-2，通信开销更小，训练吞吐更高。
只有在参数本身放不下的时候才启用 ZeRO-3，并配合 CPU 或 NVMe offload 进一步节省显存。
DeepSpeed 的配置文件里通过 stage 字段选择阶段，通常还要同时调整 bucket 大小以平衡通信和显存。
"""

FLASH = """# FlashAttention

FlashAttention computes exact attention without materializing the full attention matrix in GPU memory.
It tiles the queries, keys and values into blocks that fit in on-chip SRAM and fuses the softmax into one kernel.
Because it reads and writes high-bandwidth memory far less often, it is both faster and uses memory linear in sequence length.
"""

LORA = """# LoRA 低秩微调

LoRA 冻结预训练模型的权重，只在每个线性层旁边训练两个很小的低秩矩阵。
训练时只需要更新这两个低秩矩阵，因此可训练参数量通常不到原模型的百分之一。
推理时可以把低秩矩阵合并回原始权重，所以不会增加额外的推理延迟。

## 超参数
秩 r 通常取 8 或 16，缩放系数 alpha 一般设为秩的两倍，学习率比全量微调略大。
QLoRA 在此基础上把冻结的基座模型量化到 4 比特，使一张消费级显卡也能微调几十亿参数的模型。
多个任务可以各自训练一组 LoRA 权重，在部署时按需切换，而基座模型只需要保存一份。
"""

BREAD = """# Baking sourdough bread

Knead the dough for about ten minutes until it is smooth and elastic.
Let the dough rise for several hours in a warm place before shaping the loaf.
Bake the loaf in a very hot oven with steam for the first twenty minutes to get a crisp crust.
"""

ARTICLES = [
    Article(
        url="https://example.org/vllm/paged-attention",
        title="PagedAttention explained",
        text=PAGED,
        language="en",
        topic="Inference",
        id=1,
    ),
    Article(
        url="https://github.com/example/notes/blob/main/zero.md",
        title="ZeRO 显存优化",
        text=ZERO,
        language="zh",
        topic="Training / 分布式",
        id=2,
    ),
    Article(
        url="https://example.org/flash-attention",
        title="FlashAttention",
        text=FLASH,
        language="en",
        topic="Kernels",
        id=3,
    ),
    Article(
        url="https://github.com/example/notes/blob/main/lora.md",
        title="LoRA 低秩微调",
        text=LORA,
        language="zh",
        topic="Fine-tuning",
        id=4,
    ),
    Article(
        url="https://example.org/bread",
        title="Baking sourdough bread",
        text=BREAD,
        language="en",
        topic="Other",
        id=5,
    ),
]

BY_URL = {article.url: article for article in ARTICLES}


class ListStore:
    """An ArticleSource over a fixed list, for building an index without ingest."""

    def __init__(self, articles: list[Article]) -> None:
        self.articles = articles

    def iter_articles(self) -> Iterator[Article]:
        return iter(self.articles)


def build_corpus_index(data_dir: Path, embedder: Embedder) -> None:
    """Build the live index of ARTICLES in `data_dir` with the given embedder."""
    build_index(ListStore(ARTICLES), data_dir, IndexSettings(), embedder=embedder)


def build_with_cli(root: Path) -> Path:
    """`linkrag build --source dir:root/docs` over ARTICLES written as .md files.

    Returns the data dir (root/data); the docs folder stays beside it.
    """
    import pytest

    from ui.cli import main

    docs = root / "docs"
    docs.mkdir()
    for article in ARTICLES:
        name = article.url.rsplit("/", 1)[-1].removesuffix(".md")
        (docs / f"{name}.md").write_text(article.text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LINKRAG_DATA", str(root / "data"))
        assert main(["build", "--source", f"dir:{docs}"]) == 0
    return root / "data"
