"""URL canonicalization and the pure pre-request checks (bad URLs, internal addresses)."""

from __future__ import annotations

import pytest

from ingest.urls import address_problem, canonical_url, github_raw_url, url_problem

CASES = [
    # fragments, default ports, scheme and host case, trailing dot
    ("HTTP://Example.COM:80/a#frag", "http://example.com/a"),
    ("https://example.com.:443/a/?x=1#y", "https://example.com/a/?x=1"),
    ("https://example.com:8443", "https://example.com:8443/"),
    # tracking parameters go, content parameters stay in their order
    (
        "https://zhuanlan.zhihu.com/p/123?utm_source=wechat&utm_medium=social&utm_oi=9",
        "https://zhuanlan.zhihu.com/p/123",
    ),
    ("https://juejin.cn/post/7?from=search&page=2&spm=a.b.c", "https://juejin.cn/post/7?page=2"),
    ("https://a.cn/x?share_token=t&scene=1&id=5&chksm=zz", "https://a.cn/x?id=5"),
    ("https://a.cn/x?fbclid=1&gclid=2&q=rag+search", "https://a.cn/x?q=rag+search"),
    (
        "https://blog.csdn.net/u/article/details/1?ops_request_misc=a&request_id=b&biz_id=0",
        "https://blog.csdn.net/u/article/details/1",
    ),
    # WeChat: exactly __biz, mid, idx, sn, in that order
    (
        "https://mp.weixin.qq.com/s?sn=S&chksm=C&idx=1&mid=M&__biz=B&scene=21#wechat_redirect",
        "https://mp.weixin.qq.com/s?__biz=B&mid=M&idx=1&sn=S",
    ),
    ("https://mp.weixin.qq.com/s/AbC-dEf?scene=1", "https://mp.weixin.qq.com/s/AbC-dEf"),
    # percent-escapes: one spelling
    ("https://a.cn/%7euser/%e4%b8%ad", "https://a.cn/~user/%E4%B8%AD"),
    ("https://a.cn/中文 页", "https://a.cn/%E4%B8%AD%E6%96%87%20%E9%A1%B5"),
    # IDN hosts in punycode
    ("https://例子.中国/a", "https://xn--fsqu00a.xn--fiqs8s/a"),
    # GitHub raw files map to their blob page
    (
        "https://raw.githubusercontent.com/o/r/main/docs/a.md",
        "https://github.com/o/r/blob/main/docs/a.md",
    ),
    ("https://WWW.github.com/o/r/blob/main/a.md", "https://github.com/o/r/blob/main/a.md"),
    # not http(s), or unparseable: returned stripped, unchanged
    (" javascript:alert(1) ", "javascript:alert(1)"),
    ("http://[::1", "http://[::1"),
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_canonical_url_is_idempotent(url: str, expected: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_github_raw_url() -> None:
    blob = "https://github.com/o/r/blob/main/a.md#L3"
    assert github_raw_url(blob) == "https://raw.githubusercontent.com/o/r/main/a.md"
    assert github_raw_url("https://github.com/o/r") is None
    assert github_raw_url("http://[::1") is None


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://a.cn/x",
        "http://",
        "http://[::1",
        "http://a.cn:99999/",
        "http://exa mple.com/",
        " http://a.cn/",
        "http://a.cn/\x00",
        "",
    ],
)
def test_url_problem_names_bad_urls(url: str) -> None:
    problem = url_problem(url)
    assert problem is not None and "\n" not in problem


@pytest.mark.parametrize(
    "url", ["https://a.cn/x?q=1", "http://[::1]:8080/", "https://例子.中国/", "http://1.2.3.4/"]
)
def test_url_problem_passes_good_urls(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # cloud metadata
        "fd00:ec2::254",  # AWS metadata over IPv6
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",  # carrier-grade NAT
        "fe80::1%eth0",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "2002:a9fe:a9fe::1",  # 6to4 wrapping 169.254.169.254
        "64:ff9b::a9fe:a9fe",  # NAT64 wrapping 169.254.169.254
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    problem = address_problem(address, allow_loopback=True, allow_private=False)
    assert problem is not None and "allow_private" in problem
    assert address_problem(address, allow_loopback=False, allow_private=True) is None


def test_loopback_needs_its_own_permission() -> None:
    for address in ("127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"):
        assert "allow_loopback" in (
            address_problem(address, allow_loopback=False, allow_private=True) or ""
        )
        assert address_problem(address, allow_loopback=True, allow_private=False) is None
    assert address_problem("93.184.216.34", allow_loopback=False, allow_private=False) is None
    assert address_problem("2606:2800:220:1::1", allow_loopback=False, allow_private=False) is None


def test_github_raw_files_obey_the_blob_pages_robots_rules() -> None:
    from ingest.fetch_support import robots_subject

    raw = "https://raw.githubusercontent.com/o/r/main/docs/a.md"
    assert robots_subject(raw) == "https://github.com/o/r/blob/main/docs/a.md"
    assert robots_subject("https://zhuanlan.zhihu.com/p/1") == "https://zhuanlan.zhihu.com/p/1"
