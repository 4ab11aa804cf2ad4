"""Response headers: the site's security headers and the download headers.

Contract: ``SITE_HEADERS`` are the headers nginx adds to every route (kept in
step with nginx/security-headers.conf, and asserted by tests on both);
``API_HEADERS`` go on every JSON answer; ``download_headers(name, size, type)`` build
the headers of a retrieve answer, with a Content-Disposition per RFC 6266 and
RFC 8187 that no file name can break out of.
"""

import unicodedata
from urllib.parse import quote

SITE_CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
SITE_HEADERS = {
    "Content-Security-Policy": SITE_CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": ("camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
                           "browsing-topics=(), clipboard-write=(self)"),
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
API_HEADERS = {**SITE_HEADERS, "Cache-Control": "no-store"}
_ASCII_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-()[]+,=@")


def download_headers(name: str, size: int, content_type: str = "application/octet-stream") -> dict[str, str]:
    return {
        **API_HEADERS,
        "Content-Type": content_type,
        "Content-Length": str(size),
        "Content-Disposition": content_disposition(name),
        "Content-Security-Policy": "sandbox",
    }


def content_disposition(name: str) -> str:
    fallback = "".join(ch if ch in _ASCII_SAFE else "_"
                       for ch in unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode())
    fallback = fallback.strip(" ._") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
