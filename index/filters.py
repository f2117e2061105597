"""Search filters by reading-list section and by site, resolved to allowed chunk rows."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import numpy as np

from index.types import Chunk


def site_host(site: str) -> str:
    """The bare host a --site value names: "https://www.Zhihu.com/x" → "zhihu.com"."""
    value = site.strip().lower()
    host = urlsplit(value if "://" in value else f"//{value}").hostname or ""
    host = host.removeprefix("www.").rstrip(".")
    if not host or ("." not in host and host != "localhost"):
        raise ValueError(f"site filter {site!r} is not a host name: use e.g. zhihu.com")
    return host


def on_site(actual: str, host: str) -> bool:
    """Whether host `actual` is `host` or a subdomain of it (zhuanlan.zhihu.com, zhihu.com)."""
    return actual == host or actual.endswith("." + host)


def in_section(topic: str, section: str) -> bool:
    """Whether the reading-list heading path contains `section`, case-insensitively."""
    return section.casefold() in topic.casefold()


class ChunkFilter:
    """Maps (section, site) to the rows of the chunks that match, computed per query."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        # Hosts are parsed once here, not per query.
        self._hosts = [(urlsplit(chunk.url).hostname or "").lower() for chunk in chunks]
        self._topics = [chunk.topic for chunk in chunks]

    def rows(self, section: str | None = None, site: str | None = None) -> np.ndarray | None:
        """Sorted int64 rows matching every given filter; None when no filter is given."""
        section = (section or "").strip()
        host = site_host(site) if site and site.strip() else ""
        if not section and not host:
            return None
        keep = [
            row
            for row, (actual, topic) in enumerate(zip(self._hosts, self._topics, strict=True))
            if (not section or in_section(topic, section)) and (not host or on_site(actual, host))
        ]
        return np.asarray(keep, dtype=np.int64)
