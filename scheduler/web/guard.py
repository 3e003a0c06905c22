"""Who may see and do what: the access token, CSRF protection, read-only mode, headers.

* **Token.** With a token, every request (but the static files) must carry it: as
  ``Authorization: Bearer TOKEN``, or as the cookie set when a browser first opens a page
  with ``?token=TOKEN`` (HttpOnly, SameSite=Strict; it holds an HMAC of the token, not the
  token). Without a token the server is bound to loopback (``scheduler web`` refuses
  otherwise) and accepts only loopback host names, so a DNS-rebinding page cannot read it.
* **CSRF.** Every browser gets a random session cookie; forms carry an HMAC of it that
  the server checks, and a POST must come from the dashboard's own origin (``Origin``,
  else ``Referer``). Requests authenticated with the Bearer header carry no ambient
  credentials and skip both checks.
* **Read-only.** Every POST is refused.
* **Headers.** A strict Content-Security-Policy (scripts and styles from the dashboard
  only, no inline script), framing denied, no MIME sniffing, referrers kept in-site.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from html import escape
from urllib.parse import quote, urlencode, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "scheduler_session"
AUTH_COOKIE = "scheduler_auth"
CSRF_FIELD = "csrf"

_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"  # kept as they are in a path and query

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


def is_loopback(host: str) -> bool:
    """Is ``host`` (a name or address, IPv6 with or without brackets) this machine only?"""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _digest(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _same_secret(supplied: str, expected: str) -> bool:
    """Constant-time equality of a secret sent by a client, whatever its characters (on
    text, ``compare_digest`` accepts ASCII only)."""
    return hmac.compare_digest(supplied.encode("utf-8", "surrogatepass"), expected.encode())


class Guard:
    """The checks of one dashboard: token (or None), read-only switch, CSRF secret."""

    def __init__(self, token: str | None, read_only: bool) -> None:
        self.token = token
        self.read_only = read_only
        self._secret = (
            _digest(token.encode(), "scheduler-web-csrf").encode()
            if token
            else secrets.token_bytes(32)
        )
        self._auth_cookie = _digest(token.encode(), "scheduler-web-auth") if token else ""

    def csrf_token(self, session: str) -> str:
        """The form token of browser session ``session``."""
        return _digest(self._secret, session)

    def form_allowed(self, request: Request, form: dict[str, str]) -> bool:
        """May this POST act: same origin and the right CSRF token (or a Bearer token)?"""
        if request.scope.get("state", {}).get("bearer"):
            return True
        session = request.cookies.get(SESSION_COOKIE, "")
        supplied = form.get(CSRF_FIELD, "")
        return (
            bool(session)
            and _same_secret(supplied, self.csrf_token(session))
            and same_origin(request)
        )

    def refusal(self, request: Request) -> Response | None:
        """The response refusing ``request`` before it reaches a page, or None."""
        if self.token is None and not is_loopback(_host_name(request)):
            return _page(400, "Unknown host", "This dashboard answers to localhost only.")
        if self.token is not None and not self._authenticated(request):
            if request.method == "GET" and self._token_matches(request.query_params.get("token")):
                return self._sign_in(request)
            return _page(
                401,
                "Access token needed",
                "Open this dashboard with ?token=YOUR_TOKEN once, or send the header "
                "Authorization: Bearer YOUR_TOKEN.",
            )
        if request.method == "POST" and self.read_only:
            return _page(403, "Read-only", "This dashboard was started with --read-only.")
        bearer = request.scope["state"].get("bearer")
        if request.method == "POST" and not bearer and not same_origin(request):
            return _page(403, "Cross-site request refused", "This form did not come from here.")
        return None

    def _authenticated(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and self._token_matches(header[7:].strip()):
            request.scope["state"]["bearer"] = True
            return True
        cookie = request.cookies.get(AUTH_COOKIE, "")
        return bool(cookie) and _same_secret(cookie, self._auth_cookie)

    def _token_matches(self, supplied: str | None) -> bool:
        return (
            supplied is not None and self.token is not None and _same_secret(supplied, self.token)
        )

    def _sign_in(self, request: Request) -> Response:
        """Set the auth cookie and go on to the page without the token in its address
        (a same-site refresh, so the SameSite=Strict cookie goes with it)."""
        query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
        target = local_path(request.url.path + (f"?{query}" if query else ""))
        response = _page(200, "Signed in", "Opening the dashboard...", refresh_to=target)
        response.set_cookie(
            AUTH_COOKIE,
            self._auth_cookie,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response


def local_path(target: str | None) -> str:
    """``target`` if it is a path on this site, percent-encoded so that no browser reads it
    as another site (browsers drop tabs and newlines, and read ``\\`` as ``/``); else "/"."""
    if not target or "\\" in target:
        return "/"
    quoted = quote(target, safe=_URL_SAFE)
    return quoted if quoted.startswith("/") and not quoted.startswith("//") else "/"


def _host_name(request: Request) -> str:
    """The host name of the request's own ``Host`` header; "" if it has none that parses
    (not the server's address, which Starlette falls back to)."""
    try:
        return urlsplit("//" + request.headers.get("host", "")).hostname or ""
    except ValueError:
        return ""


def same_origin(request: Request) -> bool:
    """Does the request's ``Origin`` (else ``Referer``) name the host it was sent to?"""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    try:
        netloc = urlsplit(source).netloc
    except ValueError:  # not a URL ("http://[")
        return False
    return netloc.lower() == request.headers.get("host", "").lower()


def _page(status: int, title: str, text: str, refresh_to: str | None = None) -> HTMLResponse:
    refresh = (
        f'<meta http-equiv="refresh" content="0;url={escape(refresh_to)}">' if refresh_to else ""
    )
    link = f'<p><a href="{escape(refresh_to)}">Continue</a></p>' if refresh_to else ""
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/static/style.css"><title>{escape(title)}</title></head>'
        f'<body><main class="notice"><h1>{escape(title)}</h1><p>{escape(text)}</p>{link}'
        f"</main></body></html>"
    )
    return HTMLResponse(body, status_code=status)


class GuardMiddleware:
    """ASGI middleware: refuse what the guard refuses, give each browser a session
    cookie, add the security headers to every response."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        request = Request(scope)
        is_static = scope["path"].startswith("/static/")
        new_session = None
        if not request.cookies.get(SESSION_COOKIE) and not is_static:
            new_session = secrets.token_urlsafe(24)
            scope["state"]["session"] = new_session
        else:
            scope["state"]["session"] = request.cookies.get(SESSION_COOKIE, "")
        sender = _with_headers(send, new_session, request.url.scheme == "https", is_static)
        refusal = None if is_static else self.guard.refusal(request)
        if refusal is not None:
            await refusal(scope, receive, sender)
            return
        await self.app(scope, receive, sender)


def _with_headers(
    send: Send, session: str | None, secure: bool, is_static: bool
) -> Callable[[Message], Awaitable[None]]:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers[name] = value
            if not is_static:
                headers["cache-control"] = "no-store"
            if session is not None:
                headers.append("set-cookie", _session_cookie(session, secure))
        await send(message)

    return sender


def _session_cookie(session: str, secure: bool) -> str:
    cookie = f"{SESSION_COOKIE}={session}; HttpOnly; Path=/; SameSite=Strict"
    return cookie + "; Secure" if secure else cookie
