"""The export layer's subscriber hash is the identity key's (the scan of every module is in
tests/test_keys.py)."""

from __future__ import annotations

import hashlib

from geo.export.mailchimp import subscriber_hash
from geo.keys import email_key
from tests.fakes.mailchimp import md5


def test_mailchimp_member_id_is_md5_of_the_identity_key():
    # Mailchimp documents the subscriber hash as MD5 of the lower-cased address
    expected = hashlib.md5(b"ann@example.com").hexdigest()
    assert subscriber_hash(" Ann@Example.COM ") == expected == md5("ANN@example.com")
    assert email_key(" Ann@Example.COM ") == "ann@example.com"
