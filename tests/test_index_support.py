"""Shared data for the index tests: a tiny zh/en corpus, an article source and a fake embedder.

No tests live here; the source and the embedder are data providers, not components under test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from index.lexical import tokenize
from ingest import Article

ARTICLES = [
    Article(
        url="https://example.org/zero",
        title="DeepSpeed ZeRO 显存优化详解",
        language="zh",
        topic="分布式训练",
        text=(
            "# DeepSpeed ZeRO 显存优化详解\n\n## 原理\n\n"
            "训练大模型时，显存主要被模型参数、梯度和优化器状态占用。"
            "ZeRO 把这些状态切分到各个数据并行进程上，而不是每张卡保存一份完整副本。"
            "ZeRO-1 只切分优化器状态，ZeRO-2 再切分梯度，ZeRO-3 连模型参数也一起切分。\n\n"
            "## 代价\n\n切分之后，前向和反向传播需要额外的通信来收集参数。"
            "在带宽足够时，ZeRO-3 能让单卡训练远超其显存容量的模型。\n"
        ),
    ),
    Article(
        url="https://example.org/rope",
        title="旋转位置编码 RoPE",
        language="zh",
        topic="模型结构",
        text=(
            "# 旋转位置编码 RoPE\n\n"
            "旋转位置编码通过对查询向量和键向量做旋转，把相对位置信息注入注意力计算。"
            "它的外推能力比绝对位置编码更好，许多开源大模型都采用了它。"
            "扩展上下文长度时，常用的方法是对旋转角度做插值。\n"
        ),
    ),
    Article(
        url="https://example.org/paged-attention",
        title="PagedAttention and the KV cache",
        language="en",
        topic="Inference",
        text=(
            "# PagedAttention and the KV cache\n\n"
            "During decoding, every generated token appends keys and values to the KV cache. "
            "Allocating that cache contiguously wastes memory through fragmentation. "
            "PagedAttention stores the cache in fixed-size blocks, like virtual memory pages, "
            "so vLLM can serve many more concurrent requests.\n"
        ),
    ),
    Article(
        url="https://example.org/lora",
        title="LoRA: low-rank adaptation",
        language="en",
        topic="Fine-tuning",
        text=(
            "# LoRA: low-rank adaptation\n\n"
            "LoRA freezes the pretrained weights and trains two small low-rank matrices per layer. "
            "Only a tiny fraction of the parameters is updated, so fine-tuning fits on one GPU. "
            "The adapters can be merged into the base weights after training.\n"
        ),
    ),
    Article(
        url="https://example.org/quantization",
        title="大模型量化入门",
        language="zh",
        topic="推理",
        text=(
            "# 大模型量化入门\n\n"
            "量化把模型权重从十六位浮点数压缩成八位或四位整数，以减少显存并加快推理。"
            "GPTQ 和 AWQ 是常见的训练后量化方法，它们用少量校准数据来控制精度损失。\n"
        ),
    ),
    Article(
        url="https://example.org/multi-gpu",
        title="Choosing GPUs for a job",
        language="en",
        topic="Infrastructure",
        text=(
            "# Choosing GPUs for a job\n\n"
            "Set CUDA_VISIBLE_DEVICES=0,1 before launching to expose only two devices. "
            "Frameworks then number the visible devices from zero. "
            "NCCL uses the same ordering when it builds its communication rings.\n"
        ),
    ),
]


def corpus() -> list[Article]:
    return [replace(a, id=i) for i, a in enumerate(ARTICLES, 1)]


class FakeSource:
    """Stands in for ingest.ArticleStore: yields articles with ids set."""

    def __init__(self, articles: list[Article]) -> None:
        self.articles = articles

    def iter_articles(self) -> Iterator[Article]:
        yield from self.articles


class HashEmbedder:
    """Deterministic bag-of-tokens vectors: fast, and similar texts get similar vectors."""

    id = "fake-hash"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text):
                out[row, int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
