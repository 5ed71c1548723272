"""A generated contact list with known answers, for the tests and ``benchmarks/hygiene.py``.

The file is what managers upload: Windows-1251, ';'-delimited, Russian names, phones written every way people
write them (``8 (912) 345-67-89``, ``+7 912 3456789``, ``79123456789``, ``8-495-123-45-67``), e-mails, company
INNs with right checksums, and some garbage. About 10% of the rows are planted duplicates: half repeat an earlier
row of the file (the same phone written differently, the same e-mail in other case, the same INN), half match a
stored CRM contact (:attr:`Sample.contacts`, written by :func:`store_contacts` as the loader would). The
generator keeps the truth: which row is a duplicate of what, and which rows must be rejected.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from stdnum.ru import inn as stdnum_inn

from ..crm.tables import CONTACTS, LEDGER, ensure_tables
from ..db import Database

HEADER = ["ФИО", "Телефон", "Эл. почта", "ИНН", "Город"]
_FIRST = ["Анна", "Иван", "Мария", "Пётр", "Ольга", "Сергей", "Елена", "Дмитрий", "Наталья", "Алексей", "Юлия", "Максим"]
_LAST = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров"]
_CITIES = ["Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск", ""]
_FILE_MOBILE = ["912", "903", "926", "985", "916"]
_GARBAGE_PHONES = ["звонить вечером", "12345", "нет", "+7 000", "тел. уточнить"]


@dataclass
class Sample:
    """The written file and its truth: row → what it duplicates ("row 17", "CRM contact 5"), rows to reject."""

    path: Path
    rows: int
    duplicate_of: dict[int, str] = field(default_factory=dict)
    rejected: set[int] = field(default_factory=set)
    contacts: list[dict] = field(default_factory=list)

    @property
    def in_file(self) -> int:
        return sum(1 for what in self.duplicate_of.values() if what.startswith("row "))


def _mobile(prefix: str, number: int) -> str:
    return f"9{prefix[1:]}{number:07d}" if prefix.startswith("9") else f"{prefix}{number:07d}"


def _written(digits: str, style: int) -> str:
    """Ten national digits as a person writes them."""
    a, b, c, d = digits[:3], digits[3:6], digits[6:8], digits[8:]
    return [f"8 ({a}) {b}-{c}-{d}", f"+7 {a} {b}{c}{d}", f"7{digits}", f"8{digits}", f"+7({a}){b}-{c}{d}",
            f"8-{a}-{b}-{c}-{d}"][style % 6]


def _inn(number: int) -> str:
    body = f"77{number:07d}"
    return body + stdnum_inn.calc_company_check_digit(body)


def generate(path: Path, rows: int = 100_000, *, seed: int = 1, stored_extra: int = 0) -> Sample:
    """Write the file; plant ~5% in-file and ~5% stored duplicates and ~3% garbage rows; ``stored_extra`` unrelated
    stored contacts are added to :attr:`Sample.contacts` (a store as big as a real CRM's)."""
    rng = random.Random(seed)
    sample = Sample(path, rows)
    planted = rows // 19
    created = dt.datetime(2025, 3, 2, 10, 0)
    for k in range(planted + stored_extra):
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        sample.contacts.append({
            "id": k + 1, "name": name, "phone": _written(_mobile("915", k), k),
            "phones": _written(_mobile("915", k), k) + "; " + _written(_mobile("917", k), k + 1),
            "email": f"stored{k}@mail.ru", "emails": f"stored{k}@mail.ru; alt{k}@corp.ru",
            "created_at": created + dt.timedelta(minutes=k)})
    unused = list(range(planted))
    rng.shuffle(unused)
    earlier: list[tuple[int, str | None, str | None, str | None]] = []  # (row, phone digits, e-mail, INN) of unique rows
    lines = []
    for index in range(rows):
        row = index + 2
        name = f"{rng.choice(_LAST)} {rng.choice(_FIRST)}"
        city = rng.choice(_CITIES)
        roll = rng.random()
        phone = email = inn = ""
        if roll < 0.05 and earlier:
            first, digits, mail, tax = earlier[rng.randrange(len(earlier))]
            if tax:
                inn, phone = tax, _written(f"495{9_000_000 + index:07d}", index)
            elif mail and (digits is None or rng.random() < 0.5):
                email = mail.upper() if rng.random() < 0.5 else mail.capitalize()
            else:
                assert digits is not None
                phone = _written(digits, index + 3)
            sample.duplicate_of[row] = f"row {first}"
        elif roll < 0.10 and unused:
            k = unused.pop()
            way = rng.randrange(3)
            if way == 0:
                phone = _written(_mobile("915", k), k + 2)
            elif way == 1:
                phone = _written(_mobile("917", k), k + 4)
            else:
                email = f"ALT{k}@Corp.RU"
            sample.duplicate_of[row] = f"CRM contact {k + 1}"
        elif roll < 0.13:
            way = rng.randrange(4)
            if way == 0:
                phone = rng.choice(_GARBAGE_PHONES)
            elif way == 1:
                phone, email = _written(_mobile("912", 9_000_000 + index % 999_999), index), "не указан"
            elif way == 2:
                tax = _inn(5_000_000 + index)
                inn, phone = tax[:-1] + str((int(tax[-1]) + 1) % 10), _written(f"495{8_000_000 + index:07d}", index)
            sample.rejected.add(row)
        elif rng.random() < 0.75:
            digits = _mobile(_FILE_MOBILE[index % 5], index)
            phone = _written(digits, rng.randrange(6))
            mail = f"user{index}@example.ru" if rng.random() < 0.7 else None
            email = mail or ""
            earlier.append((row, digits, mail, None))
        else:
            tax = _inn(index)
            inn, phone = tax, _written(f"495{index:07d}", index)
            email = f"office{index}@firm.ru" if rng.random() < 0.3 else ""
            earlier.append((row, None, None, tax))
        lines.append([name, f"  {phone} " if index % 17 == 0 else phone, email, inn, city])
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(lines)
    path.write_bytes(text.getvalue().encode("cp1251"))
    return sample


def store_contacts(writer: Database, contacts: list[dict]) -> None:
    """Write ``contacts`` into ``crm_contacts`` as one committed batch, as the amoCRM loader does."""
    ensure_tables(writer)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    write_id = LEDGER.write_id()
    count = len(contacts)
    columns = {name: [contact.get(name) for contact in contacts] for name in ("id", "name", "phone", "phones",
                                                                              "email", "emails", "created_at")}
    table = CONTACTS.arrow({**columns, "updated_at": columns["created_at"], "responsible_user_id": [0] * count,
                            "company_id": [0] * count, "is_deleted": [0] * count, "write_id": [write_id] * count,
                            "loaded_at": [now] * count})
    LEDGER.add_rows(writer, CONTACTS, pa.Table.from_batches(table.to_batches(50_000)), write_id, "contacts")
    batch = LEDGER.next_version(writer, {"entity": "contacts"})
    LEDGER.commit(writer, {"entity": "contacts", "batch": batch, "write_id": write_id, "load_id": write_id,
                           "mode": "full", "page": 0, "cursor_updated_at": 0, "cursor_id": 0, "window_page": 0,
                           "since": 0, "done": 1, "reported": count, "rows": count, "started_at": now,
                           "committed_at": now, "committed_by": "sample"})
