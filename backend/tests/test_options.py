"""Upload options: defaults, bounds and the messages for what is refused."""

import pytest

from anon_hosting import options
from anon_hosting.crypto.passphrase import MAX_PASSPHRASE_BYTES
from anon_hosting.errors import BadRequest

DEFAULT, MAXIMUM = 3600, 86400


def parse(**raw):
    return options.parse(raw, DEFAULT, MAXIMUM)


def test_missing_or_empty_options_take_the_defaults():
    assert parse() == parse(expires_in="", max_downloads="", passphrase="") == options.Options(DEFAULT, None, None)


def test_values_are_kept_and_expiry_is_capped():
    assert parse(expires_in="60", max_downloads="3", passphrase="s3cret") == options.Options(60, 3, "s3cret")
    assert parse(expires_in=str(MAXIMUM * 10)).expires_in == MAXIMUM
    assert parse(max_downloads=str(options.MAX_DOWNLOADS)).max_downloads == options.MAX_DOWNLOADS


@pytest.mark.parametrize(("field", "value", "message"), [
    ("expires_in", "0", "expires_in must be a positive whole number."),
    ("expires_in", "-5", "expires_in must be a positive whole number."),
    ("expires_in", "1.5", "expires_in must be a positive whole number."),
    ("expires_in", "٣", "expires_in must be a positive whole number."),  # Arabic-Indic 3: isdigit() says yes
    ("max_downloads", "x", "max_downloads must be a positive whole number."),
    ("max_downloads", "1001", "max_downloads can be at most 1000."),
    ("passphrase", "é" * (MAX_PASSPHRASE_BYTES // 2 + 1), "The passphrase is too long."),
])
def test_what_is_refused_says_why(field, value, message):
    with pytest.raises(BadRequest) as refused:
        parse(**{field: value})
    assert refused.value.message == message


def test_a_passphrase_to_unlock_is_checked_the_same_way():
    assert options.passphrase("") is None
    assert options.passphrase("p") == "p"
    with pytest.raises(BadRequest):
        options.passphrase("x" * (MAX_PASSPHRASE_BYTES + 1))
