"""URL normalization (one canonical form per article, so dedup and incremental runs agree)
and the pure checks the fetcher applies before any request (bad URLs, SSRF addresses)."""

from __future__ import annotations

import ipaddress
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
        "igshid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
    }
)
# Per-site tracking parameters too generic in name to drop everywhere.
_TRACKING_BY_HOST = {"blog.csdn.net": frozenset({"ops_request_misc", "request_id", "biz_id"})}
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
    try:
        parts = urlsplit(value.strip())
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _is_tracking(name: str, host: str) -> bool:
    lowered = name.lower()
    return (
        lowered in _TRACKING_EXACT
        or lowered.startswith(_TRACKING_PREFIXES)
        or lowered in _TRACKING_BY_HOST.get(host, ())
    )


def _clean_query(host: str, query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if host == "mp.weixin.qq.com":
        keep = {k: v for k, v in pairs if k in _WECHAT_KEEP}
        return urlencode([(k, keep[k]) for k in _WECHAT_KEEP if k in keep])
    kept = [(k, v) for k, v in pairs if not _is_tracking(k, host)]
    return urlencode(kept, safe=_QUERY_SAFE)


_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalize_escapes(path: str) -> str:
    """Uppercase percent-escapes and decode the ones of unreserved characters (RFC 3986 6.2.2)."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _ESCAPE_RE.sub(fix, path)


def _host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    if host == "www.github.com":
        return "github.com"
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")  # one spelling for IDN hosts: punycode
    except UnicodeError:
        return host


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
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return url  # e.g. "http://[::1": the fetcher reports it as a bad URL
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not hostname:
        return url
    host = _host(hostname)
    try:
        port = parts.port
    except ValueError:
        port = None  # a malformed port is dropped rather than failing the whole batch
    path = _normalize_escapes(quote(parts.path or "/", safe=_PATH_SAFE))
    blob = _github_blob_path(host, path)
    if blob is not None:
        return urlunsplit(("https", "github.com", blob, "", ""))
    query = _clean_query(host, parts.query)
    return urlunsplit((scheme, _netloc(host, port, scheme), path, query, ""))


_BAD_HOST_RE = re.compile(r"[\s<>\"{}|\\^`%/?#@]")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be fetched at all (scheme, host, syntax), or None when it can."""
    if not url or url != url.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return f"malformed URL {url!r}"
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        return f"malformed URL {url!r}: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"not an http(s) URL: {url[:200]}"
    if not host:
        return f"no host in URL: {url}"
    if _BAD_HOST_RE.search(host):
        return f"malformed host {host!r} in {url}"
    return None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: internal, not "private"


def address_problem(address: str, *, allow_loopback: bool, allow_private: bool) -> str | None:
    """Why the fetcher must not connect to `address` (an IP), or None when it may (SSRF)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 smuggled inside IPv6 is judged as the IPv4 address it reaches.
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.is_loopback:
        return None if allow_loopback else "loopback (set fetch.allow_loopback to allow)"
    internal = ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_multicast
    internal = internal or ip in _SHARED
    if (internal or ip.is_unspecified) and not allow_private:
        return "a private, link-local or metadata address (set fetch.allow_private to allow)"
    return None


def github_raw_url(url: str) -> str | None:
    """The raw.githubusercontent.com URL of a GitHub blob page, or None for other URLs."""
    try:
        parts = urlsplit(canonical_url(url))
        if parts.hostname != "github.com":
            return None
    except ValueError:
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
