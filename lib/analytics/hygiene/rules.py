"""STAND-IN (branch hyclean only): the minimal rules the cleaning code needs to run.

The real module is written in parallel and replaces this file at merge; nothing here is meant to last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.ru import inn as stdnum_inn


def tidy(column: pa.Array) -> pa.Array:
    """STAND-IN: trim and collapse spaces; '' becomes null."""
    text = pc.replace_substring_regex(pc.utf8_trim_whitespace(column.cast(pa.string())), r"\s+", " ")
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


@dataclass(frozen=True)
class Checked:
    """STAND-IN: the normalised value (or null), the problem (or null), and for phones the kind."""

    value: pa.Array
    problem: pa.Array
    kind: pa.Array | None = None


def _per_unique(column: pa.Array, check) -> tuple[list, list, list]:  # type: ignore[no-untyped-def]
    cache: dict[str, tuple] = {}
    values, problems, kinds = [], [], []
    for text in tidy(column).to_pylist():
        if text is None:
            found: tuple = (None, None, None)
        else:
            found = cache.get(text) or cache.setdefault(text, check(text))
        values.append(found[0])
        problems.append(found[1])
        kinds.append(found[2])
    return values, problems, kinds


_KINDS = {phonenumbers.PhoneNumberType.MOBILE: "mobile", phonenumbers.PhoneNumberType.FIXED_LINE: "landline",
          phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile"}


def phones(column: pa.Array, region: str = "RU") -> Checked:
    """STAND-IN: E.164 phones, classed."""
    def check(text: str) -> tuple:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None, "phone: not a number", None
        if not phonenumbers.is_valid_number(number):
            return None, "phone: not a number", None
        return (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None,
                _KINDS.get(phonenumbers.number_type(number), "other"))
    values, problems, kinds = _per_unique(column, check)
    return Checked(pa.array(values, pa.string()), pa.array(problems, pa.string()), pa.array(kinds, pa.string()))


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def emails(column: pa.Array) -> Checked:
    """STAND-IN: lower-cased e-mails of the right shape."""
    def check(text: str) -> tuple:
        return (text.lower(), None, None) if _EMAIL.match(text) else (None, "e-mail: not an address", None)
    values, problems, _ = _per_unique(column, check)
    return Checked(pa.array(values, pa.string()), pa.array(problems, pa.string()))


def inns(column: pa.Array) -> Checked:
    """STAND-IN: INN digits with a right checksum."""
    def check(text: str) -> tuple:
        digits = re.sub(r"\D", "", text)
        if len(digits) not in (10, 12):
            return None, "INN: not 10 or 12 digits", None
        return (digits, None, None) if stdnum_inn.is_valid(digits) else (None, "INN: checksum wrong", None)
    values, problems, _ = _per_unique(column, check)
    return Checked(pa.array(values, pa.string()), pa.array(problems, pa.string()))


def suggest_mapping(header: list[str]) -> dict[str, str | None]:
    """STAND-IN: roles by substrings of the header."""
    roles = {"phone": ("тел", "phone"), "email": ("mail", "почт"), "inn": ("инн", "inn"), "name": ("имя", "name", "фио")}
    return {role: next((name for name in header if any(word in name.lower() for word in words)), None)
            for role, words in roles.items()}
