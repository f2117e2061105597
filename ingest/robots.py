"""robots.txt rules per origin, I/O-free: the fetcher downloads the file, this parses it.

An origin whose robots.txt cannot be had (404, unreachable, not text) is fully allowed,
which is what crawlers conventionally do and what RFC 9309 says for 4xx.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

MAX_ROBOTS_BYTES = 512_000  # RFC 9309 lets crawlers ignore anything past 500 KiB


def origin(url: str) -> str:
    """scheme://host[:port] of `url`, lowercased: the unit robots.txt applies to."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", ""))


def robots_url(url: str) -> str:
    """Where the robots.txt that governs `url` lives."""
    return origin(url) + "/robots.txt"


@dataclass(frozen=True)
class RobotsRules:
    """The parsed robots.txt of one origin; `parser` None means everything is allowed."""

    parser: RobotFileParser | None = None

    @classmethod
    def parse(cls, text: str) -> RobotsRules:
        parser = RobotFileParser()
        parser.parse(text.splitlines())
        return cls(parser)

    def allows(self, url: str, agent: str) -> bool:
        return self.parser is None or self.parser.can_fetch(agent, url)

    def crawl_delay(self, agent: str) -> float:
        """The Crawl-delay asked of `agent` in seconds (0 when none)."""
        if self.parser is None:
            return 0.0
        try:
            delay = self.parser.crawl_delay(agent)
        except (TypeError, ValueError):  # a malformed value is ignored, not fatal
            return 0.0
        return float(delay) if delay else 0.0


ALLOW_ALL = RobotsRules()
