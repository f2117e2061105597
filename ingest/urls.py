"""URL normalization: one canonical form per article, so dedup and incremental runs agree."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that only say where a click came from; they never select content.
_TRACKING_EXACT = frozenset(
    {
        "spm",
        "from",
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "share_token",
        "share_source",
        "share_medium",
        "share_plat",
        "share_tag",
        "share_from",
        "shareid",
        "sharer_sharetime",
        "sharer_shareid",
        "scene",
        "srcid",
        "clicktime",
        "enterid",
        "chksm",
        "subscene",
        "sessionid",
        "exptype",
        "ref_src",
        "ref_url",
        "utm",
        "isappinstalled",
        "nsukey",
        "vd_source",
        "timestamp",
    }
)
_TRACKING_PREFIXES = ("utm_", "share_", "spm_", "pk_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci")
# WeChat article URLs are identified by exactly these four parameters.
_WECHAT_KEEP = ("__biz", "mid", "idx", "sn")
# Characters left as they are when percent-encoding a path: reserved ones and existing escapes.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = "/:@!$'()*+,;=-._~%?"

_RAW_RE = re.compile(r"^/([^/]+)/([^/]+)/(?:refs/heads/)?([^/]+)/(.+)$")
_GH_RAW_PATH_RE = re.compile(r"^/([^/]+)/([^/]+)/raw/(?:refs/heads/)?([^/]+)/(.+)$")
_GH_BLOB_RE = re.compile(r"^/([^/]+)/([^/]+)/blob/([^/]+)/(.+)$")


def is_http_url(value: str) -> bool:
    """True for absolute http(s) URLs with a host."""
    parts = urlsplit(value.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_EXACT or lowered.startswith(_TRACKING_PREFIXES)


def _clean_query(host: str, query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if host == "mp.weixin.qq.com":
        keep = {k: v for k, v in pairs if k in _WECHAT_KEEP}
        return urlencode([(k, keep[k]) for k in _WECHAT_KEEP if k in keep])
    kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
    return urlencode(kept, safe=_QUERY_SAFE)


def _netloc(host: str, port: int | None, scheme: str) -> str:
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return host
    return f"{host}:{port}"


def _github_blob_path(host: str, path: str) -> str | None:
    """The github.com blob path for a raw-file URL, or None when it is not one."""
    if host == "raw.githubusercontent.com":
        match = _RAW_RE.match(path)
    elif host == "github.com":
        match = _GH_RAW_PATH_RE.match(path)
    else:
        return None
    if match is None:
        return None
    owner, repo, branch, rest = match.groups()
    return f"/{owner}/{repo}/blob/{branch}/{rest}"


def canonical_url(url: str) -> str:
    """The canonical form of `url`: the key for dedup, incremental fetching and aliases.

    Lowercases scheme and host, drops the fragment, default ports and tracking parameters,
    percent-encodes the path, and maps GitHub raw files to their blob page (the URL a
    person opens). Values that are not http(s) URLs are returned stripped, unchanged.
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if host == "www.github.com":
        host = "github.com"
    try:
        port = parts.port
    except ValueError:
        port = None  # a malformed port is dropped rather than failing the whole batch
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    blob = _github_blob_path(host, path)
    if blob is not None:
        return urlunsplit(("https", "github.com", blob, "", ""))
    query = _clean_query(host, parts.query)
    return urlunsplit((scheme, _netloc(host, port, scheme), path, query, ""))


def github_raw_url(url: str) -> str | None:
    """The raw.githubusercontent.com URL of a GitHub blob page, or None for other URLs."""
    parts = urlsplit(canonical_url(url))
    if parts.hostname != "github.com":
        return None
    match = _GH_BLOB_RE.match(parts.path)
    if match is None:
        return None
    owner, repo, branch, rest = match.groups()
    return f"https://raw.githubusercontent.com/{owner}/{repo}/{branch}/{rest}"


def url_name(url: str) -> str:
    """A readable name for a URL: the file name without extension (the folder's name for a
    README or index file), or the host."""
    parts = urlsplit(url)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    while segments:
        stem = re.sub(r"\.(md|markdown|html?|txt)$", "", segments.pop(), flags=re.IGNORECASE)
        if stem.strip() and stem.strip().lower() not in ("readme", "index"):
            return stem.strip()
    return parts.hostname or url
