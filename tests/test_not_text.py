"""A binary file renamed .csv is refused as "not a text file" wherever a file is read."""

from __future__ import annotations

import zlib

import pytest

from geo.data.activity import read_activity
from geo.data.ingest import check_file
from geo.data.readers import peek
from geo.data.sniff import looks_binary
from geo.data.tables import read_raw
from geo.errors import DataError
from geo.targeting.suppression import suppression_from_bytes

# a real PNG with a few e-mail-looking bytes inside, as a phone photo renamed .csv would be
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
       + zlib.compress(bytes(range(256)) * 40) + b"ann@example.com bob@example.com")


@pytest.mark.parametrize("read", [
    lambda: peek(PNG, name="photo.csv"),
    lambda: check_file(PNG, "customers", name="photo.csv"),
    lambda: suppression_from_bytes(PNG, "photo.csv"),
    lambda: read_activity(PNG, name="photo.csv"),
])
def test_binary_data_is_not_a_text_file(read):
    with pytest.raises(DataError, match="photo.csv: not a text file"):
        read()


def test_read_raw_refuses_a_binary_file(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(PNG)
    with pytest.raises(DataError, match="not a text file"):
        read_raw(path)


def test_text_in_any_supported_encoding_is_text():
    for text in ("a;b\n1;ä\n".encode("cp1252"), "a,b\n1,é\n".encode("utf-16"),
                 "\ufeffa,b\n1,2\n".encode("utf-8"), b"a\tb\f\r\n"):
        assert not looks_binary(text)
    assert suppression_from_bytes(b"Ann@Example.com\n", "list.txt").tolist() == ["ann@example.com"]
