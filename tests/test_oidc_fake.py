"""The loopback OIDC provider behaves like a real one toward Authlib (the library st.login uses)."""

from __future__ import annotations

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.jose import JsonWebKey, jwt
from authlib.jose.errors import BadSignatureError
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.fakes.oidc import FakeOIDC

REDIRECT = "http://127.0.0.1:8599/oauth2callback"


def code_flow(idp: FakeOIDC, *, secret: str = "test-secret", verifier: str = "v" * 48,
              nonce: str = "n-123") -> dict:
    """Authorise (as a browser would, without following the redirect) and exchange the code."""
    meta = httpx.get(idp.metadata_url).json()
    client = OAuth2Client(idp.client_id, secret, scope="openid email profile",
                          redirect_uri=REDIRECT, code_challenge_method="S256")
    url, state = client.create_authorization_url(meta["authorization_endpoint"], nonce=nonce,
                                                 code_verifier=verifier)
    back = httpx.get(url)
    assert back.status_code == 302 and back.headers["location"].startswith(REDIRECT)
    return client.fetch_token(meta["token_endpoint"], authorization_response=back.headers["location"],
                              code_verifier=verifier, state=state)


def test_code_flow_gives_an_rs256_id_token_that_verifies_against_the_jwks():
    with FakeOIDC(redirect_uris=[REDIRECT]) as idp:
        idp.sign_in_as("ada@acme.test", name="Ada Admin")
        token = code_flow(idp)
        keys = JsonWebKey.import_key_set(httpx.get(f"{idp.url}/jwks").json())
        claims = jwt.decode(token["id_token"], keys)
        claims.validate()
        assert jwt.decode(token["id_token"], keys).header["alg"] == "RS256"
        assert {k: claims[k] for k in ("iss", "aud", "email", "email_verified", "name", "nonce")} == {
            "iss": idp.url, "aud": "geo-app", "email": "ada@acme.test", "email_verified": True,
            "name": "Ada Admin", "nonce": "n-123"}
        assert "d" not in httpx.get(f"{idp.url}/jwks").json()["keys"][0]   # no private half
        with FakeOIDC() as other:                                  # another provider's key
            with pytest.raises(BadSignatureError):
                jwt.decode(token["id_token"], JsonWebKey.import_key(other.public_jwks()["keys"][0]))


def test_a_wrong_secret_a_reused_code_and_a_bad_verifier_are_refused():
    with FakeOIDC(redirect_uris=[REDIRECT]) as idp:
        idp.sign_in_as("ada@acme.test")
        with pytest.raises(Exception, match="invalid_client"):
            code_flow(idp, secret="wrong")
        meta = httpx.get(idp.metadata_url).json()
        verifier = "w" * 48
        url = (f"{meta['authorization_endpoint']}?response_type=code&client_id=geo-app"
               f"&redirect_uri={REDIRECT}&scope=openid&state=s"
               f"&code_challenge={create_s256_code_challenge(verifier)}&code_challenge_method=S256")
        code = httpx.get(url).headers["location"].split("code=")[1].split("&")[0]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                "code_verifier": "not-the-verifier"}
        auth = ("geo-app", "test-secret")
        assert httpx.post(meta["token_endpoint"], data=form, auth=auth).status_code == 400
        form["code_verifier"] = verifier    # the code was spent by the failed attempt
        assert httpx.post(meta["token_endpoint"], data=form, auth=auth).status_code == 400
        assert httpx.get(url.replace("127.0.0.1:8599", "evil.test")).status_code == 400
        assert idp.calls("token") == ["bad client", "bad pkce", "bad grant"]
