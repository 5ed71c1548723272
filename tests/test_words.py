"""Counts and plurals as a person writes them."""

from analytics.words import counted, plural


def test_plural_follows_the_count() -> None:
    assert plural(1, "winner") == "winner"
    assert plural(0, "winner") == "winners"
    assert plural(2, "person", "people") == "people"


def test_counted_has_thousands_separators() -> None:
    assert counted(12345, "person", "people") == "12,345 people"
    assert counted(1, "card") == "1 card"
