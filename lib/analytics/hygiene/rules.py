"""Each hygiene rule as a function over one Arrow column: spaces, phones, e-mails, Russian tax IDs (INN).

A rule returns a ``Checked``: the normalised value, the problem in plain words (the words the rejected
file shows a manager) and, for phones, the class. Rules are column-wise because a list can have a million
rows: the slow libraries (``phonenumbers``, ``python-stdnum``) see each *distinct* value once and the
answers are spread back over the rows with ``pc.take``; everything else is an Arrow compute kernel.
An empty cell is not a problem of the rule: it gives a null value and a null problem, and the pipeline
decides whether a row needs that column at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult
from stdnum.ru import inn as stdnum_inn

__all__ = ["Checked", "emails", "inns", "phones", "suggest_mapping", "tidy"]

# RE2 (Arrow's regex engine): \s is ASCII only, so the Unicode spaces (NBSP, thin and figure spaces, the
# ideographic space) are named; zero-width characters are dropped, not turned into a space inside a word.
_SPACES = r"[\s\p{Zs}\x{2028}\x{2029}]+"
_ZERO_WIDTH = r"[\x{200B}\x{200C}\x{200D}\x{2060}\x{FEFF}]"

# The shape of an address, not a promise that it receives mail: one @, a local part without spaces or
# the characters that need quoting, a domain of letter/digit labels (Cyrillic ones too: почта.рф) and a
# top-level domain of at least two letters. Consecutive or edge dots in the local part are refused apart.
_EMAIL = (r"^[^@\s\"(),:;<>\[\]\\]+"
          r"@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+[\p{L}][\p{L}\p{N}-]*[\p{L}\p{N}]$")
_BAD_DOTS = r"(^\.|\.\.|\.@)"

_PHONE_KINDS = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
}
_PARSE_PROBLEMS = {
    NumberParseException.NOT_A_NUMBER: "phone: not a number",
    NumberParseException.INVALID_COUNTRY_CODE: "phone: unknown country code",
    NumberParseException.TOO_SHORT_AFTER_IDD: "phone: too short",
    NumberParseException.TOO_SHORT_NSN: "phone: too short",
    NumberParseException.TOO_LONG: "phone: too long",
}
_POSSIBLE_PROBLEMS = {
    ValidationResult.TOO_SHORT: "phone: too short",
    ValidationResult.TOO_LONG: "phone: too long",
    ValidationResult.INVALID_COUNTRY_CODE: "phone: unknown country code",
    ValidationResult.INVALID_LENGTH: "phone: wrong number of digits",
}

# Header words per role, best first: a header whose words contain an earlier entry wins over one that
# contains a later entry; ties go to the leftmost column. Whole words only, so "Почтовый индекс" is
# not an e-mail column and "Телефон менеджера" still is a phone column.
_ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "phone": ("телефон", "phone", "мобильный", "mobile", "сотовый", "тел", "моб", "tel", "телефоны",
              "phones", "номер телефона", "whatsapp"),
    "email": ("e-mail", "email", "эл почта", "электронная почта", "почта", "e mail", "mail", "емейл",
              "имейл", "емэйл"),
    "inn": ("инн", "inn", "tax id", "taxid", "tin"),
    "name": ("фио", "имя", "full name", "name", "наименование", "название", "компания", "организация",
             "company", "контакт", "contact", "клиент", "client"),
}


@dataclass(frozen=True)
class Checked:
    """What one rule made of a column: value, problem and (phones only) class, each aligned with the input.

    ``value`` is the normalised string or null (empty cell or a problem); ``problem`` is null when the
    cell is fine or empty, else the rule in plain words; ``kind`` is ``None`` for rules without classes.
    """

    value: pa.Array
    problem: pa.Array
    kind: pa.Array | None = None


def tidy(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Trim, collapse every run of whitespace (NBSP and other Unicode spaces too) to one space, '' -> null.

    Spreadsheets and CRMs export NBSPs and double spaces that make equal values look different to a
    duplicate check; an empty string and a missing cell mean the same to a person, so both become null.
    """
    strings = _as_string_array(column)
    without_zero_width = pc.replace_substring_regex(strings, _ZERO_WIDTH, "")
    collapsed = pc.replace_substring_regex(without_zero_width, _SPACES, " ")
    trimmed = pc.utf8_trim(collapsed, " ")
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def phones(column: pa.Array | pa.ChunkedArray, region: str = "RU") -> Checked:
    """Phones in E.164 (``+79123456789``) classed mobile / landline / other, via ``phonenumbers``.

    ``region`` is where numbers without a country code are from: with "RU", ``8 (912) 345-67-89`` and
    ``79123456789`` are Russian, while ``+49 ...`` stays German and a Kazakh ``+7 701 ...`` stays Kazakh.
    A number ``phonenumbers`` cannot place as valid is a problem, not a guess: a wrong phone in a CRM
    costs more than a rejected row a manager can fix. "other" is everything neither surely mobile nor
    surely landline (toll-free, VoIP, premium, numbers that can be either).

    Most cells of a Russian list are Russian numbers written one of a few ways, and nearly all are distinct, so
    calling ``phonenumbers`` once per distinct value is still once per row. Those are decided in Arrow first
    (:func:`_russian_in_arrow`) by the very patterns ``phonenumbers`` validates with; only the rest (foreign
    numbers, odd writing, mistakes) goes through ``phonenumbers`` one distinct value at a time.
    """
    tidied = tidy(column)
    fast = _russian_in_arrow(tidied) if region == "RU" else None
    if fast is None:
        return _per_distinct(tidied, lambda text: _one_phone(text, region), with_kind=True)
    decided, value, kind = fast
    slow = _per_distinct(pc.if_else(decided, pa.scalar(None, pa.string()), tidied),
                         lambda text: _one_phone(text, region), with_kind=True)
    assert slow.kind is not None
    return Checked(value=pc.if_else(decided, value, slow.value), problem=slow.problem,
                   kind=pc.if_else(decided, kind, slow.kind))


def _russian_in_arrow(tidied: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array] | None:
    """(decided, E.164, kind) for cells that are surely a valid Russian mobile or landline number.

    A cell qualifies when, without spaces, brackets, dashes and dots, it is ten digits with ``+7``, ``7``, ``8``
    or nothing before them, and those ten digits match exactly one of ``phonenumbers``' own Russian patterns
    (mobile or fixed line): the same answer ``phonenumbers`` gives, found by RE2 over the whole column.
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("RU")
    if metadata is None or metadata.mobile is None or metadata.fixed_line is None:
        return None
    digits = pc.replace_substring_regex(tidied, r"[ ()\-.]", "")
    national = pc.struct_field(pc.extract_regex(digits, r"^(?:\+7|8|7)?(?P<n>\d{10})$"), "n")
    mobile = pc.fill_null(pc.match_substring_regex(national, f"^(?:{metadata.mobile.national_number_pattern})$"), False)
    fixed = pc.fill_null(pc.match_substring_regex(national, f"^(?:{metadata.fixed_line.national_number_pattern})$"),
                         False)
    decided = pc.xor(mobile, fixed)
    value = pc.binary_join_element_wise("+7", national, "")
    kind = pc.if_else(mobile, pa.scalar("mobile"), pa.scalar("landline"))
    return decided, value, kind


def emails(column: pa.Array | pa.ChunkedArray) -> Checked:
    """E-mail addresses lower-cased and checked for shape (an @, a domain with a dot), all in Arrow kernels.

    Lower-casing is what makes ``Ivan@Mail.ru`` and ``ivan@mail.ru`` one contact; the shape check catches
    the usual typing slips (``ivan@mail,ru``, ``ivan mail.ru``, two addresses in a cell), not dead mailboxes.
    """
    lowered = pc.utf8_lower(tidy(column))
    shaped = pc.and_(pc.match_substring_regex(lowered, _EMAIL),
                     pc.invert(pc.match_substring_regex(lowered, _BAD_DOTS)))
    fine = pc.fill_null(shaped, True)
    problem = pc.if_else(fine, pa.scalar(None, pa.string()), pa.scalar("e-mail: not an address"))
    return Checked(value=pc.if_else(fine, lowered, pa.scalar(None, pa.string())), problem=problem)


def inns(column: pa.Array | pa.ChunkedArray) -> Checked:
    """Russian tax IDs (INN): 10 digits for a company, 12 for a person, checksum via ``python-stdnum``.

    Spaces and dashes are stripped first (``7707-083-893``); anything else that is not a digit is a
    problem. Each distinct value is checked once.
    """
    compact = pc.replace_substring_regex(tidy(column), r"[ \-]", "")
    return _per_distinct(compact, _one_inn, with_kind=False)


def suggest_mapping(header: list[str]) -> dict[str, str | None]:
    """Which column holds the phone, e-mail, INN and name, guessed from header words (Russian and English).

    Only a suggestion for the form, which the manager can change; a role no header names is ``None``
    rather than a guess, and one column never gets two roles.
    """
    words = [_header_words(name) for name in header]
    taken: set[int] = set()
    mapping: dict[str, str | None] = {}
    for role, keywords in _ROLE_WORDS.items():
        index = _best_column(words, keywords, taken)
        mapping[role] = None if index is None else header[index]
        if index is not None:
            taken.add(index)
    return mapping


def _as_string_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous ``pa.string()`` array, whatever string-like or null type the column came as."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], pa.string())
    if column.type != pa.string():
        column = column.cast(pa.string())
    return column


def _per_distinct(column: pa.Array | pa.ChunkedArray, check: Callable[[str], tuple[str | None, str | None, str | None]],
                  *, with_kind: bool) -> Checked:
    """Run ``check`` once per distinct non-null value of the tidied column and spread the answers back."""
    encoded = pc.dictionary_encode(tidy(column))
    answers = [check(text) for text in encoded.dictionary.to_pylist()]
    indices = encoded.indices

    def spread(position: int) -> pa.Array:
        return pc.take(pa.array([answer[position] for answer in answers], pa.string()), indices)

    return Checked(value=spread(0), problem=spread(1), kind=spread(2) if with_kind else None)


def _one_phone(text: str, region: str) -> tuple[str | None, str | None, str | None]:
    """(E.164, problem, kind) for one distinct phone text."""
    if not any(char.isdigit() for char in text):
        return None, "phone: not a number", None
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as error:
        return None, _PARSE_PROBLEMS.get(error.error_type, "phone: not a number"), None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible not in (ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        return None, _POSSIBLE_PROBLEMS.get(possible, "phone: not a valid number"), None
    if not phonenumbers.is_valid_number(number):
        return None, "phone: not a valid number", None
    kind = _PHONE_KINDS.get(phonenumbers.number_type(number), "other")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None, kind


def _one_inn(text: str) -> tuple[str | None, str | None, str | None]:
    """(INN, problem, None) for one distinct INN text, spaces and dashes already gone."""
    if not (text.isascii() and text.isdigit()) or len(text) not in (10, 12):
        return None, "INN: must be 10 or 12 digits", None
    if not stdnum_inn.is_valid(text):
        return None, "INN: checksum wrong", None
    return text, None, None


def _header_words(name: str) -> str:
    """A header as lower-case words separated by single spaces, framed by spaces for whole-word search."""
    lowered = name.lower().replace("ё", "е")
    lowered = re.sub(r"\be-mail\b", "email", lowered)
    words = re.sub(r"[^\w]+", " ", lowered).split()
    return " " + " ".join(words) + " "


def _best_column(words: list[str], keywords: tuple[str, ...], taken: set[int]) -> int | None:
    """Index of the untaken header matching the earliest keyword (leftmost on ties), or ``None``."""
    for keyword in keywords:
        needle = _header_words(keyword)
        for index, header in enumerate(words):
            if index not in taken and needle in header:
                return index
    return None
