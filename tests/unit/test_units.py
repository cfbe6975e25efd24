from decimal import Decimal, localcontext

import pytest
from hypothesis import given, strategies as st

from gonka_tui.core.errors import InputError
from gonka_tui.core.units import MAX_AMOUNT, format_gnk, format_ngonka, parse_amount


@pytest.mark.parametrize("text,expected", [
    ("1.5gnk", 1_500_000_000), ("1.5GNK", 1_500_000_000), ("1.5 GNK", 1_500_000_000),
    ("1500000000ngonka", 1_500_000_000), ("0.000000001gnk", 1), ("1gonka", 10**9),
    ("2ugonka", 2000), ("1.5mgonka", 1_500_000), ("  7ngonka ", 7), ("123456789.123456789gnk", 123456789123456789),
])
def test_parse(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text,message", [
    ("1.5", "no denom"), ("15", "no denom"), ("", "empty"), ("-1gnk", "negative"),
    ("1.0000000001gnk", "more than 9 decimals"), ("1.5ngonka", "no decimals"), ("1atom", "unknown denom"),
    ("0gnk", "more than zero"), ("0ngonka", "more than zero"), ("1.2.3gnk", "not an amount"), ("1e9ngonka", "not an amount"),
    ("gnk", "not an amount"), (f"{MAX_AMOUNT + 1}ngonka", "too large"), ("１gnk", "not an amount"),
])
def test_parse_refuses(text, message):
    with pytest.raises(InputError, match=message):
        parse_amount(text)


def test_zero_fee_is_valid_where_allowed():
    assert parse_amount("0ngonka", allow_zero=True) == 0
    assert parse_amount("0gnk", allow_zero=True) == 0


@pytest.mark.parametrize("ngonka,text", [
    (0, "0 GNK"), (1, "0.000000001 GNK"), (1_500_000_000, "1.5 GNK"), (10**18, "1,000,000,000 GNK"),
    (1_234_567_890_000, "1,234.56789 GNK"),
])
def test_format(ngonka, text):
    assert format_gnk(ngonka) == text


def test_format_without_denom_or_grouping():
    assert format_gnk(1_234_500_000_000, denom=False, group=False) == "1234.5"
    assert format_ngonka(5) == "5ngonka"


@given(st.integers(min_value=1, max_value=MAX_AMOUNT))
def test_roundtrip_gnk(n):
    assert parse_amount(format_gnk(n, group=False).replace(" GNK", "gnk")) == n
    assert parse_amount(format_ngonka(n)) == n


@given(st.integers(min_value=0, max_value=10**30))
def test_format_is_exact(n):
    with localcontext() as ctx:
        ctx.prec = 100
        assert Decimal(format_gnk(n, denom=False, group=False)) * 10**9 == n


@given(st.text(max_size=40))
def test_parse_never_crashes(text):
    try:
        value = parse_amount(text)
    except InputError:
        return
    assert 0 < value <= MAX_AMOUNT
