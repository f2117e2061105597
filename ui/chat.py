"""The Chat tab: streamed, cited answers with history, retry, clear, copy and 👍/👎.

Per-session data lives in Gradio state, never in module globals: `turns` maps the index
of each assistant message to what was asked and answered, so a rating stores exactly
what the user saw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from assistant import Answer, Assistant, Feedback, FeedbackStore
from assistant.prompts import question_language, reply
from index import IndexLoadError, IndexNotFoundError
from ui.cards import answer_html, citations_json, esc, streaming_html
from ui.ratelimit import RateLimiter, client_of

logger = logging.getLogger(__name__)

Message = dict[str, Any]
Turns = dict[int, dict[str, Any]]
PickFn = Callable[[str | None, float | None], Assistant]
Outputs = tuple[str, list[Message], Turns]

# Copies the newest answer as the reader sees it (text and sources), not its HTML.
COPY_JS = """() => {
  const all = document.querySelectorAll('.lr-answer:not(.lr-streaming)');
  const last = all[all.length - 1];
  if (last && navigator.clipboard) { navigator.clipboard.writeText(last.innerText); }
}"""


def message_text(content: Any) -> str:
    """The plain text of a Gradio message content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, list | tuple):
        return "".join(message_text(part) for part in content)
    return ""


def _history(messages: list[Message], turns: Turns) -> list[dict[str, str]]:
    """The conversation as the assistant expects it: answers as their plain text."""
    out = []
    for i, m in enumerate(messages):
        text = turns[i]["answer"] if i in turns else message_text(m.get("content"))
        out.append({"role": str(m.get("role", "")), "content": text})
    return out


def answer_events(
    assistant: Assistant, question: str, history: list[dict[str, str]], anchor: str
) -> Iterator[tuple[str, Answer | None]]:
    """The assistant message as it grows (escaped deltas), then the rendered answer."""
    shown = ""
    try:
        for event in assistant.stream(question, history):
            if isinstance(event, Answer):
                yield answer_html(event, anchor), event
            else:
                shown += event
                yield streaming_html(shown), None
    except IndexNotFoundError:
        text = reply("no_index", question_language(question))
        yield f'<div class="lr-answer"><p>{esc(text)}</p></div>', None
    except IndexLoadError as exc:  # a mismatch or a damaged index: its message says what to run
        yield f'<div class="lr-answer"><p>{esc(exc)}</p></div>', None


def _turn(
    pick: PickFn, question: str, prior: list[Message], turns: Turns, mode: Any, top_k: Any
) -> Iterator[Outputs]:
    chat = [*prior, {"role": "user", "content": question}]
    position = len(chat)  # the index the answer will have
    turns = {i: t for i, t in turns.items() if i < position}
    assistant = pick(mode, top_k)
    history = _history(prior, turns)
    for html, answer in answer_events(assistant, question, history, f"lr-{position}"):
        if answer is not None:
            turns = {**turns, position: _record(question, answer)}
        yield "", [*chat, {"role": "assistant", "content": html}], turns


def _position(index: Any) -> int:
    """A message's index from event data (a pair for multimodal chats: take the last)."""
    return int(index[-1] if isinstance(index, list | tuple) else index)


def _record(question: str, answer: Answer) -> dict[str, Any]:
    return {"question": question, "answer": answer.text, "citations": citations_json(answer)}


def build_chat(pick: PickFn, feedback: FeedbackStore) -> tuple[gr.Chatbot, gr.Textbox, gr.State]:
    """The chat components and their events; returns (chatbot, box, turns) for wiring."""
    chatbot = gr.Chatbot(label="Answers", height=560, buttons=[], elem_id="lr-chat")
    box = gr.Textbox(
        placeholder="Ask a question, e.g. What does PagedAttention solve?",
        show_label=False,
        submit_btn=True,
        elem_id="lr-ask",
    )
    turns = gr.State({})
    with gr.Row(elem_classes="lr-buttons"):
        copy = gr.Button("Copy answer", size="sm")
        clear = gr.Button("Clear", size="sm")
    copy.click(None, None, None, js=COPY_JS)
    clear.click(lambda: ("", [], {}), None, [box, chatbot, turns], api_visibility="private")
    chatbot.clear(lambda: {}, None, turns, api_visibility="private")

    def rate(data: gr.LikeData, turns_now: Turns) -> None:
        turn = turns_now.get(_position(data.index))
        if turn is None or data.liked not in (True, False):
            return  # an un-rating, or a message that is no answer
        rating = 1 if data.liked else -1
        feedback.add(Feedback(turn["question"], turn["answer"], turn["citations"], rating))
        gr.Info("Thanks, your rating is saved." if rating > 0 else "Thanks, noted.")

    chatbot.like(rate, turns, None, api_visibility="private")
    return chatbot, box, turns


def refused(question: str, prior: list[Message], turns: Turns, text: str) -> Outputs:
    """The question and a one-line refusal in the chat (no answer, nothing to rate)."""
    reply_html = f'<div class="lr-refused"><p>{esc(text)}</p></div>'
    chat = [*prior, {"role": "user", "content": question}]
    return "", [*chat, {"role": "assistant", "content": reply_html}], turns


def wire_chat(
    pick: PickFn,
    chatbot: gr.Chatbot,
    box: gr.Textbox,
    turns: gr.State,
    settings: list[gr.components.Component],
    limiter: RateLimiter,
) -> None:
    """Submit and retry, once the settings components (answer mode, top-k) exist."""

    def turn(
        question: str, prior: list[Message], state: Turns, mode: Any, k: Any, request: Any
    ) -> Iterator[Outputs]:
        wait = limiter.wait(client_of(request))
        if wait:
            yield refused(question, prior, state, limiter.refusal(wait))
            return
        yield from _turn(pick, question, prior, state, mode, k)

    def respond(
        message: str, chat: list[Message], state: Turns, mode: Any, k: Any, request: gr.Request
    ) -> Iterator[Outputs]:
        prior = list(chat or [])
        if not message.strip():
            yield "", prior, state
            return
        yield from turn(message, prior, state or {}, mode, k, request)

    def retry(
        data: gr.RetryData,
        chat: list[Message],
        state: Turns,
        mode: Any,
        k: Any,
        request: gr.Request,
    ) -> Iterator[Outputs]:
        at = _position(data.index)
        question = message_text(chat[at].get("content"))
        yield from turn(question, list(chat[:at]), state or {}, mode, k, request)

    inputs = [box, chatbot, turns, *settings]
    box.submit(respond, inputs, [box, chatbot, turns], api_name="chat")
    outputs = [box, chatbot, turns]
    chatbot.retry(retry, [chatbot, turns, *settings], outputs, api_visibility="private")
