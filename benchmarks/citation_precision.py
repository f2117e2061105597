"""Citation precision and latency of extractive `ask` over the dev set's answerable questions.

    python benchmarks/citation_precision.py eval/dev.jsonl [--data /work/archive-data]
        [--split tune|heldout|all] [--audit eval/citation_audit.jsonl --audit-n 30]

For every answered question, each cited sentence is checked by the citation checker
(`assistant.checking.check_citations`, with USE cosines as in LLM modes) against the
passages the answer was built from: it counts as supported when the checker keeps its
citation on the passage it came from. Prints that share, abstentions, and `ask` latency
p50/p95 with the models loaded (one untimed warm-up question first).

`--audit` writes the first `--audit-n` answered tune questions with their whole answers
and every citation's quote, for a hand audit (eval/citation_audit.md holds the judged one).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from common import load_assistant, qa_parser

from assistant import Answer, Assistant
from assistant.checking import check_citations, embedding_scorer
from assistant.eval_metrics import percentile
from assistant.evaluation import load_qa, select_split


def checked(answer: Answer, assistant: Assistant) -> tuple[int, int]:
    """(cited sentences, those the checker keeps on their own passage)."""
    chunks = [hit.chunk for hit in answer.passages]
    number = {chunk.chunk_id: n for n, chunk in enumerate(chunks, 1)}
    cited = [c for c in answer.citations if c.chunk_id in number]
    # One claim per line, so the checker never merges two sentences into one claim.
    text = "\n".join(f"{c.quote}[{number[c.chunk_id]}]" for c in cited)
    result = check_citations(text, chunks, scorer=embedding_scorer(assistant.index.embedder))
    kept = {(c.chunk_id, c.quote) for c in result.citations}
    return len(cited), sum(1 for c in cited if (c.chunk_id, c.quote) in kept)


def audit_entry(qid: str, question: str, answer: Answer) -> dict[str, object]:
    """One answer to judge by hand: the question, the answer and every citation's quote."""
    cites = [{"n": c.n, "quote": c.quote, "url": c.url} for c in answer.citations]
    return {"id": qid, "question": question, "answer": answer.text, "citations": cites}


def main(argv: list[str] | None = None) -> int:
    parser = qa_parser(__doc__)
    parser.add_argument("--audit", type=Path, help="write tune answers for a hand audit here")
    parser.add_argument("--audit-n", type=int, default=30, help="answers in the audit file")
    args = parser.parse_args(argv)

    assistant = load_assistant(args, LINKRAG_ANSWER__MODE="extractive")
    items = [i for i in select_split(load_qa(args.qa), args.split) if i.answerable]
    assistant.ask(items[0].question)  # warm-up: index, USE and jieba load here, untimed
    latencies: list[float] = []
    cited = supported = abstained = 0
    audit: list[dict[str, object]] = []
    for done, item in enumerate(items, 1):
        started = time.perf_counter()
        answer = assistant.ask(item.question)
        latencies.append((time.perf_counter() - started) * 1000)
        print(f"\rask {done}/{len(items)}", end="", file=sys.stderr)
        if answer.abstained:
            abstained += 1
            continue
        n, ok = checked(answer, assistant)
        cited, supported = cited + n, supported + ok
        if item.split == "tune" and answer.citations and len(audit) < args.audit_n:
            audit.append(audit_entry(item.id, item.question, answer))
    print(file=sys.stderr)
    share = supported / cited if cited else 0.0
    print(f"{len(items)} answerable questions ({args.split}); {abstained} abstained")
    print(f"cited sentences {cited}; supported by the checker {supported} ({share:.3f})")
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(f"extractive ask latency p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    if args.audit:
        lines = [json.dumps(entry, ensure_ascii=False) for entry in audit]
        args.audit.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
