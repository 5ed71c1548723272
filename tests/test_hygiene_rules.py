"""The hygiene rules over Arrow columns: spaces, phones, e-mails, INN and the suggested column mapping."""

from __future__ import annotations

import pyarrow as pa
import pytest

from analytics.hygiene import rules
from analytics.hygiene.rules import emails, inns, phones, suggest_mapping, tidy

VALID_INNS = ["7707083893", "500100732259"]


def _single_digit_changes(number: str) -> list[str]:
    """Every string that differs from ``number`` in exactly one digit."""
    return [number[:i] + digit + number[i + 1:]
            for i in range(len(number)) for digit in "0123456789" if digit != number[i]]


@pytest.mark.parametrize("number", VALID_INNS)
def test_a_valid_inn_passes(number: str) -> None:
    checked = inns(pa.array([number]))
    assert checked.value.to_pylist() == [number]
    assert checked.problem.to_pylist() == [None]
    assert checked.kind is None


@pytest.mark.parametrize("number", VALID_INNS)
def test_every_single_digit_change_of_a_valid_inn_fails(number: str) -> None:
    changed = _single_digit_changes(number)
    checked = inns(pa.array(changed))
    assert len(changed) == 9 * len(number)
    assert checked.value.null_count == len(changed)
    assert set(checked.problem.to_pylist()) == {"INN: checksum wrong"}


@pytest.mark.parametrize(("text", "value", "problem"), [
    ("7707-083 893", "7707083893", None),
    (" 5001 0073 2259 ", "500100732259", None),
    ("770708389", None, "INN: must be 10 or 12 digits"),
    ("77070838931", None, "INN: must be 10 or 12 digits"),
    ("77070838ab", None, "INN: must be 10 or 12 digits"),
    ("７７０７０８３８９３", None, "INN: must be 10 or 12 digits"),  # full-width digits are not ASCII digits
    (None, None, None),
    ("   ", None, None),
])
def test_inn_forms(text: str | None, value: str | None, problem: str | None) -> None:
    checked = inns(pa.array([text], pa.string()))
    assert (checked.value[0].as_py(), checked.problem[0].as_py()) == (value, problem)


@pytest.mark.parametrize(("text", "value", "kind"), [
    ("8 (912) 345-67-89", "+79123456789", "mobile"),
    ("+7 912 3456789", "+79123456789", "mobile"),
    ("79123456789", "+79123456789", "mobile"),
    ("8-495-123-45-67", "+74951234567", "landline"),
    ("+49 30 12345678", "+493012345678", "landline"),  # Berlin
    ("+49 1512 3456789", "+4915123456789", "mobile"),
    ("+7 701 123 4567", "+77011234567", "mobile"),  # Kazakhstan shares +7: kept, not made Russian
    ("8 800 555-35-35", "+78005553535", "other"),  # toll-free
])
def test_phones_become_e164_with_their_class(text: str, value: str, kind: str) -> None:
    checked = phones(pa.array([text]))
    assert checked.value.to_pylist() == [value]
    assert checked.problem.to_pylist() == [None]
    assert checked.kind is not None and checked.kind.to_pylist() == [kind]


@pytest.mark.parametrize(("text", "problem"), [
    ("abc", "phone: not a number"),
    ("нет телефона", "phone: not a number"),
    ("12", "phone: too short"),
    ("+7 912", "phone: too short"),
    ("8 912 345 67 89 12 34 56", "phone: too long"),
    ("+7 000 000 00 00", "phone: not a valid number"),
])
def test_bad_phones_say_why(text: str, problem: str) -> None:
    checked = phones(pa.array([text]))
    assert (checked.value[0].as_py(), checked.problem[0].as_py()) == (None, problem)
    assert checked.kind is not None and checked.kind[0].as_py() is None


@pytest.mark.parametrize("text", [None, "", "   ", "\u00a0"])
def test_an_empty_phone_is_no_value_and_no_problem(text: str | None) -> None:
    checked = phones(pa.array([text], pa.string()))
    assert checked.value.to_pylist() == [None]
    assert checked.problem.to_pylist() == [None]
    assert checked.kind is not None and checked.kind.to_pylist() == [None]


def test_the_region_places_numbers_without_a_country_code() -> None:
    checked = phones(pa.array(["030 12345678"]), region="DE")
    assert checked.value.to_pylist() == ["+493012345678"]


def test_phonenumbers_sees_each_distinct_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    parse = rules.phonenumbers.parse

    def counting(text: str, region: str):  # noqa: ANN202 - a stand-in with phonenumbers' own signature
        seen.append(text)
        return parse(text, region)

    monkeypatch.setattr(rules.phonenumbers, "parse", counting)
    column = pa.array(["8 912 345-67-89", " 8 912  345-67-89", "8-495-123-45-67", None, "+49 30 12345678",
                       "+49 30  12345678"] * 1000)
    checked = phones(column)
    assert seen == ["+49 30 12345678"]  # Russian numbers are decided in Arrow; the rest once per distinct value
    assert checked.value.to_pylist()[:6] == ["+79123456789", "+79123456789", "+74951234567", None, "+493012345678",
                                             "+493012345678"]
    assert len(checked.value) == 6000


def test_russian_numbers_decided_in_arrow_are_what_phonenumbers_says(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    rng = random.Random(7)
    written = []
    for _ in range(20_000):  # any ten digits, written the usual ways: valid, invalid, mobile, landline, toll-free
        digits = "".join(rng.choice("0123456789") for _ in range(10))
        written.append(rng.choice([f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}", f"+7 {digits}",
                                   f"7{digits}", digits, f"8.{digits[:3]}.{digits[3:]}"]))
    column = pa.array(written)
    fast = phones(column)
    slow = rules._per_distinct(column, lambda text: rules._one_phone(text, "RU"), with_kind=True)
    assert fast.value.equals(slow.value) and fast.problem.equals(slow.problem) and fast.kind.equals(slow.kind)


def test_phones_accept_chunked_and_null_typed_columns() -> None:
    chunked = pa.chunked_array([pa.array(["79123456789"]), pa.array([None], pa.string())])
    assert phones(chunked).value.to_pylist() == ["+79123456789", None]
    assert phones(pa.nulls(3)).problem.to_pylist() == [None, None, None]


@pytest.mark.parametrize(("text", "value", "problem"), [
    ("Ivan.Petrov@Mail.RU", "ivan.petrov@mail.ru", None),
    ("  ivan+list@example.co.uk ", "ivan+list@example.co.uk", None),
    ("иван@почта.рф", "иван@почта.рф", None),
    ("ivan@mail,ru", None, "e-mail: not an address"),
    ("ivan mail.ru", None, "e-mail: not an address"),
    ("ivan@mail", None, "e-mail: not an address"),
    ("@mail.ru", None, "e-mail: not an address"),
    ("ivan@@mail.ru", None, "e-mail: not an address"),
    ("ivan..petrov@mail.ru", None, "e-mail: not an address"),
    (".ivan@mail.ru", None, "e-mail: not an address"),
    ("a@mail.ru; b@mail.ru", None, "e-mail: not an address"),
    ("ivan@-mail.ru", None, "e-mail: not an address"),
    (None, None, None),
    ("", None, None),
])
def test_emails(text: str | None, value: str | None, problem: str | None) -> None:
    checked = emails(pa.array([text], pa.string()))
    assert (checked.value[0].as_py(), checked.problem[0].as_py()) == (value, problem)
    assert checked.kind is None


@pytest.mark.parametrize(("text", "tidied"), [
    ("  Иван   Петров ", "Иван Петров"),
    ("Иван\u00a0\u00a0Петров", "Иван Петров"),
    ("ООО\t«Ромашка»\n", "ООО «Ромашка»"),
    ("\u202f\u2007x\u3000y", "x y"),
    ("a\u200bb", "ab"),
    ("", None),
    ("   \u00a0", None),
    (None, None),
])
def test_tidy(text: str | None, tidied: str | None) -> None:
    assert tidy(pa.array([text], pa.string())).to_pylist() == [tidied]


def test_tidy_keeps_the_length_and_string_type() -> None:
    result = tidy(pa.chunked_array([pa.array(["a ", " b"], pa.large_string())]))
    assert result.type == pa.string()
    assert result.to_pylist() == ["a", "b"]


@pytest.mark.parametrize(("header", "expected"), [
    (["ФИО", "Телефон", "E-mail", "ИНН"], {"phone": "Телефон", "email": "E-mail", "inn": "ИНН", "name": "ФИО"}),
    (["Name", "Phone", "Email", "INN"], {"phone": "Phone", "email": "Email", "inn": "INN", "name": "Name"}),
    (["Наименование", "тел.", "Эл. почта", "ИНН/КПП"],
     {"phone": "тел.", "email": "Эл. почта", "inn": "ИНН/КПП", "name": "Наименование"}),
    (["Компания", "Мобильный", "Почта"], {"phone": "Мобильный", "email": "Почта", "inn": None, "name": "Компания"}),
    (["Почтовый индекс", "Адрес", "Комментарий"], {"phone": None, "email": None, "inn": None, "name": None}),
    (["Имя", "Телефон (2)", "Телефон"], {"phone": "Телефон (2)", "email": None, "inn": None, "name": "Имя"}),
    (["Компания", "Имя контакта", "Телефон"], {"phone": "Телефон", "email": None, "inn": None, "name": "Имя контакта"}),
    ([], {"phone": None, "email": None, "inn": None, "name": None}),
])
def test_suggest_mapping(header: list[str], expected: dict[str, str | None]) -> None:
    assert suggest_mapping(header) == expected
