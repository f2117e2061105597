"""Raw responses kept under data_dir/raw, so re-extraction never needs the network."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from pathlib import Path

from ingest.types import FetchResult

log = logging.getLogger(__name__)

_HEADERS = ("url", "final_url", "status", "content_type", "etag", "last_modified")


class RawCache:
    """One gzipped body plus one JSON header file per canonical URL.

    Files are named by the SHA-1 of the canonical URL; both are written to a temporary
    name and renamed, so a crash never leaves a half-written entry behind.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _paths(self, key: str) -> tuple[Path, Path]:
        name = hashlib.sha1(key.encode("utf-8")).hexdigest()
        folder = self.root / name[:2]
        return folder / f"{name}.body.gz", folder / f"{name}.json"

    def put(self, key: str, result: FetchResult) -> None:
        body_path, head_path = self._paths(key)
        body_path.parent.mkdir(parents=True, exist_ok=True)
        head = {name: getattr(result, name) for name in _HEADERS} | {"key": key}
        _replace(body_path, gzip.compress(result.body, compresslevel=1, mtime=0))
        _replace(head_path, json.dumps(head, ensure_ascii=False).encode("utf-8"))

    def get(self, key: str) -> FetchResult | None:
        """The cached response of `key`, or None when absent or unreadable."""
        body_path, head_path = self._paths(key)
        try:
            head = json.loads(head_path.read_text(encoding="utf-8"))
            body = gzip.decompress(body_path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError) as exc:
            log.warning("raw cache entry for %s is unreadable: %s", key, exc)
            return None
        return FetchResult(body=body, **{name: head.get(name) for name in _HEADERS})

    def __contains__(self, key: str) -> bool:
        return self._paths(key)[1].exists()


def _replace(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
