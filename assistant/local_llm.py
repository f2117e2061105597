"""A local transformers causal LM as a LangChain chat model, streaming token by token.

langchain-huggingface (ChatHuggingFace over HuggingFacePipeline) would do this, but it
pins huggingface-hub below 2 while the project runs transformers 5 and
sentence-transformers 6 on huggingface-hub 2, so the ~100 lines it would save live here:
the chat template, a TextIteratorStreamer, and generation on a worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


class LocalChatModel(BaseChatModel):
    """A causal LM loaded from `model_path` on first use (offline: local files only)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: Path = Field(
        description="Folder with the model weights and tokenizer, or a .gguf file."
    )
    max_new_tokens: int = Field(512, ge=1, description="Longest reply, in tokens.")
    temperature: float = Field(0.0, ge=0.0, description="0 decodes greedily.")
    timeout: float = Field(60.0, gt=0.0, description="Longest wait for one streamed token.")
    _loaded: tuple[Any, Any] | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "linkrag-transformers"

    def load(self) -> tuple[Any, Any]:
        """(model, tokenizer), loaded once; a missing model is a one-line error."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> tuple[Any, Any]:
        path = self.model_path
        gguf = path.suffix.lower() == ".gguf"
        if not (path.is_file() if gguf else (path / "config.json").is_file()):
            raise FileNotFoundError(
                f"no model at {path} (answer.llm.model_path needs a folder with config.json, "
                "weights and tokenizer files, or a .gguf file)"
            )
        from transformers import AutoModelForCausalLM, AutoTokenizer

        # A GGUF file carries weights and tokenizer; transformers dequantizes it on load.
        folder, extra = (path.parent, {"gguf_file": path.name}) if gguf else (path, {})
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **extra)
        model: Any = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **extra)
        return model.eval(), tokenizer

    def prompt(self, messages: list[BaseMessage], tokenizer: Any) -> str:
        """The model's chat template, or a plain transcript for base models without one."""
        turns = [{"role": _ROLES.get(m.type, "user"), "content": str(m.text)} for m in messages]
        if getattr(tokenizer, "chat_template", None):
            return str(
                tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
            )
        lines = [
            str(m.text) if isinstance(m, SystemMessage) else f"{t['role'].title()}: {t['content']}"
            for m, t in zip(messages, turns, strict=True)
        ]
        return "\n\n".join([*lines, "Assistant:"])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        model, tokenizer = self.load()  # first: a missing folder fails before the import
        from transformers import TextIteratorStreamer

        inputs = tokenizer(self.prompt(messages, tokenizer), return_tensors="pt")
        streamer: Any = TextIteratorStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.timeout
        )
        sampling = {"do_sample": True, "temperature": self.temperature} if self.temperature else {}
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else None
        errors: list[BaseException] = []

        def generate() -> None:
            try:
                model.generate(
                    **inputs,
                    streamer=streamer,
                    max_new_tokens=self.max_new_tokens,
                    pad_token_id=pad if pad is not None else tokenizer.eos_token_id,
                    **({"do_sample": False} | sampling),
                )
            except BaseException as exc:  # surfaced on the caller's thread below
                errors.append(exc)
                streamer.end()

        worker = threading.Thread(target=generate, name="local-llm", daemon=True)
        worker.start()
        for text in streamer:
            if not text:
                continue
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
            if run_manager is not None:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk
        worker.join()
        if errors:
            raise errors[0]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(str(c.text) for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
