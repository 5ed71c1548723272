"""The contact-list report: an uploaded file in, three files out (clean rows, duplicates, rejected rows).

Every input row lands in exactly one of the three, and the page says how many went where. Cleaning runs chunk
by chunk with "12,000 of 100,000 rows" on the status line; Cancel ends after the chunk being cleaned and the
files hold the rows looked at, with the count of rows not looked at said plainly. With "Save as" the clean rows
become a list (through ``ledger.py``) that the next file is checked against.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ..context import RunContext
from ..errors import ParameterError
from ..hygiene.clean import Mapping, MappingError, Options, Outcome, clean_rows
from ..hygiene.dedup import stored_keys
from ..hygiene.lists import save_list
from ..hygiene.read import Source, UnreadableFile, read_source
from ..hygiene.rules import suggest_mapping
from ..results import Notice
from ..words import counted
from .base import ReportQuery, WritePlan

HEADERS = {"row": "Row in the file"}  # the other columns are the file's own and the cleaned values, named plainly
ROLES = {"phone": "phone", "email": "e-mail", "inn": "INN", "name": "name"}


def clean_contact_list(ctx: RunContext, source: Path | str = "", phone_column: str = "", email_column: str = "",
                       inn_column: str = "", name_column: str = "", split_by_kind: bool = False,
                       check_stored: bool = True, save_as: str = "") -> ReportQuery | WritePlan:
    """Clean an uploaded contact list; with ``save_as``, keep its clean rows as a list to check later files against."""
    path = Path(source)
    try:
        file = read_source(path)
    except UnreadableFile as unreadable:
        raise ParameterError("source", path.name, str(unreadable).rstrip(".")) from None
    mapping = _mapping(file, {"phone": phone_column, "email": email_column, "inn": inn_column, "name": name_column})
    stored = stored_keys(ctx.db) if check_stored else None

    def progress(done: int, total: int) -> None:
        ctx.say(f"{done:,} of {total:,} rows")

    outcome = clean_rows(file, mapping, Options(split_by_kind=split_by_kind, check_stored=check_stored), stored,
                         progress=progress, cancelled=ctx.cancelled)
    if outcome.stopped:
        ctx.cancelled.clear()  # Cancel was honoured between chunks: the page shows the rows looked at, not "Cancelled"
    result = _result(path, file, mapping, outcome)
    if not save_as.strip() or outcome.stopped or not outcome.clean.num_rows:
        return result
    name = save_as.strip()

    def commit(ctx: RunContext) -> ReportQuery:
        saved = save_list(ctx.writer, name, outcome.clean, user=ctx.user)
        return replace(result, facts=[*result.facts, saved.message])

    return WritePlan(what=f"contact list «{name}», {counted(outcome.clean.num_rows, 'row')}", target=f"contact_list:{name}",
                     commit=commit, rows=outcome.clean.num_rows, parameters={"save_as": name, "file": path.name})


def _mapping(file: Source, given: dict[str, str]) -> Mapping:
    """The columns the person named, else those the header suggests; a name not in the file is refused."""
    header = file.table.column_names
    guessed = suggest_mapping(header)
    chosen: dict[str, Any] = {}
    for role, typed in given.items():
        typed = typed.strip()
        if typed and typed not in header:
            raise ParameterError(f"{role}_column", typed, f"the file has no such column; its columns are: "
                                                          f"{', '.join(header[:30])}")
        chosen[role] = typed or guessed.get(role)
    if not any(chosen[role] for role in ("phone", "email", "inn")):
        raise ParameterError("phone_column", "", "no column of the file looks like a phone, an e-mail or an INN; name "
                                                 "one of them in the form")
    try:
        return Mapping(**chosen)
    except MappingError as refused:
        raise ParameterError("phone_column", "", str(refused).rstrip(".")) from None


def _result(path: Path, file: Source, mapping: Mapping, outcome: Outcome) -> ReportQuery:
    duplicates = ReportQuery(name="contacts_duplicates", title="Duplicates", sql="", data=outcome.duplicates,
                             label="Duplicates", headers=HEADERS, row_noun=("duplicate", "duplicates"))
    rejected = ReportQuery(name="contacts_rejected", title="Rejected rows", sql="", data=outcome.rejected,
                           label="Rejected rows", headers=HEADERS, row_noun=("rejected row", "rejected rows"))
    chosen = {"phone": mapping.phone, "email": mapping.email, "inn": mapping.inn, "name": mapping.name}
    used = ", ".join(f"{ROLES[role]} «{column}»" for role, column in chosen.items() if column)
    facts = [f"{outcome.total:,} rows in {path.name} ({file.encoding}"
             + (f", separated by «{file.delimiter}»" if file.delimiter.strip() else "") + f"); columns {used}.",
             f"{counted(outcome.clean.num_rows, 'clean row')}, {counted(outcome.duplicates.num_rows, 'duplicate')}, "
             f"{counted(outcome.rejected.num_rows, 'rejected row')}"
             + (f"; {outcome.not_looked_at:,} not looked at." if outcome.not_looked_at else ".")]
    notices = []
    if outcome.stopped:
        notices.append(Notice("yellow", f"Stopped: {outcome.looked_at:,} of {outcome.total:,} rows looked at; "
                                        f"{outcome.not_looked_at:,} were not looked at and are in none of the files."))
    return ReportQuery(name="contacts_clean", title=f"Contact list {path.name}: clean rows", sql="", data=outcome.clean,
                       label="Clean rows", headers=HEADERS, also=(duplicates, rejected), facts=facts, notices=tuple(notices),
                       row_noun=("clean row", "clean rows"))


