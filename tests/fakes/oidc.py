"""A loopback OpenID Connect provider for tests: discovery, JWKS, authorize, token, end-session.

It signs ID tokens with RS256 (a fresh RSA key per instance), checks the client
id and secret (HTTP Basic or form), the registered redirect URI, single-use
codes and PKCE (S256), and puts the nonce of the authorisation request in the
token, as a real provider does. Who signs in is chosen by the test
(`FakeOIDC.sign_in_as`): the authorise endpoint answers at once with a code for
that identity, like a provider where the user already has a session.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from authlib.jose import JsonWebKey, jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeOIDC:
    """An OIDC provider on ``127.0.0.1`` (start with ``with FakeOIDC(...) as idp:``).

    Parameters
    ----------
    client_id, client_secret
        The one registered client.
    redirect_uris
        Accepted redirect URIs (exact match); None accepts any loopback URI.
    """

    def __init__(self, client_id: str = "geo-app", client_secret: str = "test-secret",
                 redirect_uris: list[str] | None = None) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uris = redirect_uris
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        self.kid = secrets.token_hex(4)
        self._key = JsonWebKey.import_key(pem, {"kty": "RSA", "kid": self.kid})
        self.claims: dict[str, Any] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str]] = []     # (endpoint, detail) in order
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- set-up -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Issuer URL, e.g. ``http://127.0.0.1:PORT``."""
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def metadata_url(self) -> str:
        """The discovery document's URL (``server_metadata_url`` in the secrets)."""
        return f"{self.url}/.well-known/openid-configuration"

    def sign_in_as(self, email: str, *, name: str = "Test User", verified: bool = True,
                   **extra: Any) -> None:
        """Make the next authorisations sign in this identity."""
        self.claims = {"sub": hashlib.sha256(email.encode()).hexdigest()[:16], "email": email,
                       "email_verified": verified, "name": name, **extra}

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS the provider publishes (public half only)."""
        return {"keys": [{**self._key.as_dict(is_private=False), "kid": self.kid, "use": "sig",
                          "alg": "RS256"}]}

    def id_token(self, claims: dict[str, Any], nonce: str | None) -> str:
        """An RS256-signed ID token for ``claims`` (issuer, audience, times and nonce added)."""
        now = int(time.time())
        payload = {"iss": self.url, "aud": self.client_id, "iat": now, "exp": now + 600,
                   "auth_time": now, **claims}
        if nonce:
            payload["nonce"] = nonce
        token: bytes = jwt.encode({"alg": "RS256", "kid": self.kid}, payload, self._key)
        return token.decode()

    def start(self) -> FakeOIDC:
        """Serve on a free loopback port in a daemon thread."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake._get(self)

            def do_POST(self) -> None:  # noqa: N802
                fake._post(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOIDC:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def calls(self, endpoint: str) -> list[str]:
        """Details of the calls to ``endpoint`` (``authorize``, ``token``, ``jwks``...)."""
        return [d for e, d in self.log if e == endpoint]

    # --- endpoints --------------------------------------------------------------------------
    def _discovery(self) -> dict[str, Any]:
        return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                "end_session_endpoint": f"{self.url}/logout",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
                "code_challenge_methods_supported": ["S256"]}

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self.log.append(("discovery", ""))
            return self._json(h, 200, self._discovery())
        if url.path == "/jwks":
            self.log.append(("jwks", ""))
            return self._json(h, 200, self.public_jwks())
        if url.path == "/authorize":
            return self._authorize(h, q)
        if url.path == "/logout":
            self.log.append(("logout", q.get("post_logout_redirect_uri", "")))
            target = q.get("post_logout_redirect_uri")
            if target:
                return self._redirect(h, target)
            return self._json(h, 200, {"logged_out": True})
        return self._json(h, 404, {"error": "not_found"})

    def _authorize(self, h: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        redirect = q.get("redirect_uri", "")
        ok_uri = (redirect in self.redirect_uris if self.redirect_uris is not None
                  else redirect.startswith(("http://127.0.0.1:", "http://localhost:")))
        if q.get("client_id") != self.client_id or not ok_uri:
            self.log.append(("authorize", "refused"))
            return self._json(h, 400, {"error": "invalid_request",
                                       "error_description": "unknown client or redirect_uri"})
        if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
            return self._json(h, 400, {"error": "invalid_scope"})
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = {"claims": dict(self.claims), "nonce": q.get("nonce"),
                                 "redirect_uri": redirect,
                                 "challenge": q.get("code_challenge"),
                                 "method": q.get("code_challenge_method")}
        self.log.append(("authorize", self.claims.get("email", "")))
        self._redirect(h, f"{redirect}?{urlencode({'code': code, 'state': q.get('state', '')})}")

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        if urlparse(h.path).path != "/token":
            return self._json(h, 404, {"error": "not_found"})
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0)).decode()
        form = {k: v[0] for k, v in parse_qs(body).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            self.log.append(("token", "bad client"))
            return self._json(h, 401, {"error": "invalid_client"})
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if (form.get("grant_type") != "authorization_code" or grant is None
                or grant["redirect_uri"] != form.get("redirect_uri")):
            self.log.append(("token", "bad grant"))
            return self._json(h, 400, {"error": "invalid_grant"})
        if grant["challenge"]:
            verifier = form.get("code_verifier", "")
            if _b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
                self.log.append(("token", "bad pkce"))
                return self._json(h, 400, {"error": "invalid_grant",
                                           "error_description": "PKCE verification failed"})
        self.log.append(("token", grant["claims"].get("email", "")))
        self._json(h, 200, {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                            "expires_in": 600,
                            "id_token": self.id_token(grant["claims"], grant["nonce"])})

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, status: int, obj: object) -> None:
        data = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def _redirect(h: BaseHTTPRequestHandler, location: str) -> None:
        h.send_response(302)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()
