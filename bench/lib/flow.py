#!/usr/bin/env python3
"""Browser-side set-up for the bench scenarios (standard library only).

  flow.py login-form BASE                       -> JSON {cookie, csrf}: a CSRF cookie + field for POST /login
  flow.py session BASE --user U --password P --client-id ID --client-secret S --redirect-uri R --scope SC
                                                -> JSON {cookie}: a live session (consent already remembered)
  flow.py refresh-tokens BASE ... --count N     -> N refresh tokens, one per line (code flows with PKCE)
  flow.py check BASE ...                        -> one full flow (authorize -> token -> userinfo), prints a summary

Every request goes to BASE (loopback) with a short timeout; redirects are followed by hand, never off BASE.
"""

import argparse
import base64
import hashlib
import html.parser
import http.cookies
import json
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

AUTHORIZE = "/api/v2/oauth/authorize"
TOKEN = "/api/v2/oauth/token"
USERINFO = "/api/v2/oauth/userinfo"
LOGIN = "/login"
TIMEOUT = 10


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: D401 - never follow
        return None


OPENER = urllib.request.build_opener(NoRedirect)


class Forms(html.parser.HTMLParser):
    """Collects every <form>: its action and its named inputs/buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "buttons": []})
        elif self.forms and tag == "input" and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value") or ""))


class Browser:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.cookies = {}

    def cookie_header(self):
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method, path, form=None, headers=None):
        url = path if path.startswith("http") else self.base + path
        if not url.startswith(self.base):
            raise SystemExit(f"refusing to leave {self.base}: {url}")
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = self.cookie_header()
        if data is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=data, method=method, headers=h)
        try:
            resp = OPENER.open(req, timeout=TIMEOUT)
        except urllib.error.HTTPError as e:
            resp = e
        body = resp.read().decode("utf-8", "replace")
        for sc in resp.headers.get_all("Set-Cookie") or []:
            c = http.cookies.SimpleCookie()
            c.load(sc)
            for k, m in c.items():
                if m["max-age"] == "0" or m.value == "":
                    self.cookies.pop(k, None)
                else:
                    self.cookies[k] = m.value
        return resp.status, resp.headers, body


def forms_of(body):
    p = Forms()
    p.feed(body)
    return p.forms


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def basic(client_id, secret):
    raw = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def login_form(b):
    status, _, body = b.request("GET", LOGIN)
    if status != 200:
        raise SystemExit(f"GET {LOGIN}: {status}")
    for f in forms_of(body):
        if "csrf_token" in f["fields"]:
            return f
    raise SystemExit("login page has no csrf_token field")


def authorize_code(b, a, scope):
    """Runs the browser part of a code flow; returns (code, verifier). Logs in / consents when asked."""
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(8)
    q = urllib.parse.urlencode({
        "response_type": "code", "client_id": a.client_id, "redirect_uri": a.redirect_uri, "scope": scope,
        "state": state, "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    method, path, form = "GET", f"{AUTHORIZE}?{q}", None
    for _ in range(12):
        status, headers, body = b.request(method, path, form)
        if status in (301, 302, 303, 307, 308):
            loc = urllib.parse.urljoin(b.base + "/", headers["Location"])
            if loc.startswith(a.redirect_uri):
                params = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
                if "code" not in params:
                    raise SystemExit(f"authorization failed: {params}")
                if params.get("state", [""])[0] != state:
                    raise SystemExit("state mismatch")
                return params["code"][0], verifier
            method, path, form = "GET", loc, None
            continue
        if status not in (200, 401):
            raise SystemExit(f"{method} {path}: unexpected {status}: {body[:300]}")
        forms = forms_of(body)
        login = next((f for f in forms if "password" in f["fields"] and "username" in f["fields"]), None)
        consent = next((f for f in forms if any(n == "decision" for n, _ in f["buttons"])), None)
        if login and status == 401:
            raise SystemExit("login refused (wrong bench password?)")
        if login:
            form = dict(login["fields"], username=a.user, password=a.password)
            method, path = "POST", login["action"] or LOGIN
        elif consent:
            form = dict(consent["fields"], decision="approve")
            method, path = "POST", consent["action"]
        else:
            raise SystemExit(f"{path}: a page with neither a login nor a consent form: {body[:300]}")
    raise SystemExit("too many steps in the authorization flow")


def token(b, a, form):
    status, _, body = b.request("POST", TOKEN, form, {"Authorization": basic(a.client_id, a.client_secret)})
    if status != 200:
        raise SystemExit(f"token endpoint: {status}: {body[:300]}")
    return json.loads(body)


def code_flow(b, a, scope):
    code, verifier = authorize_code(b, a, scope)
    return token(b, a, {"grant_type": "authorization_code", "code": code, "redirect_uri": a.redirect_uri,
                        "code_verifier": verifier})


def cmd_login_form(a):
    b = Browser(a.base)
    f = login_form(b)
    print(json.dumps({"cookie": b.cookie_header(), "csrf": f["fields"]["csrf_token"]}))


def cmd_session(a):
    b = Browser(a.base)
    tokens = code_flow(b, a, a.scope)  # logs in and remembers consent
    if "access_token" not in tokens:
        raise SystemExit(f"no access token: {tokens}")
    session = {k: v for k, v in b.cookies.items() if k == "tessera_session"}
    if not session:
        raise SystemExit(f"no session cookie after login (cookies: {sorted(b.cookies)})")
    print(json.dumps({"cookie": "; ".join(f"{k}={v}" for k, v in session.items())}))


def cmd_refresh_tokens(a):
    b = Browser(a.base)
    out = []
    for _ in range(a.count):
        t = code_flow(b, a, a.scope)
        if "refresh_token" not in t:
            raise SystemExit(f"no refresh token for scope {a.scope!r}: {sorted(t)}")
        out.append(t["refresh_token"])
    print("\n".join(out))


def cmd_check(a):
    b = Browser(a.base)
    t = code_flow(b, a, a.scope)
    status, _, body = b.request("GET", USERINFO, None, {"Authorization": f"Bearer {t['access_token']}"})
    print(json.dumps({"token_keys": sorted(t), "userinfo_status": status, "userinfo": json.loads(body)}))
    if status != 200:
        raise SystemExit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["login-form", "session", "refresh-tokens", "check"])
    ap.add_argument("base")
    ap.add_argument("--user", default="bench")
    ap.add_argument("--password", default="")
    ap.add_argument("--client-id", default="")
    ap.add_argument("--client-secret", default="")
    ap.add_argument("--redirect-uri", default="http://127.0.0.1:9/cb")
    ap.add_argument("--scope", default="openid profile email")
    ap.add_argument("--count", type=int, default=1)
    a = ap.parse_args()
    {"login-form": cmd_login_form, "session": cmd_session, "refresh-tokens": cmd_refresh_tokens,
     "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
