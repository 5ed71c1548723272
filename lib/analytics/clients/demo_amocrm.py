"""The demo amoCRM account: a sales team's three months of leads, the same from the same seed.

What the demo needs a real account to answer (contracts §3.3, §3.5):

* 8 managers with Russian names (``rights``: one administrator, one who joined mid-way, one switched off near
  the end); two pipelines, "Продажи" (main, 5 working stages) and "Партнёры" (3), each with "Неразобранное"
  first and 142 "Успешно реализовано" / 143 "Закрыто и не реализовано" last;
* about 3,000 leads over the ~3 months before :data:`analytics.warehouse.demo.DEMO_END`, on weekdays more than
  at weekends, in working hours. Each moves through its pipeline's stages (hours in "Неразобранное", days to
  weeks later on), is lost at each stage with that stage's odds and reasons ("Дорого", "Выбрали конкурента",
  "Нет ответа", "Не целевой"), and about a quarter are won; a few are deleted (spam from the site's form);
* contacts (phones and e-mails in multitext fields, some values keyed ``enum``, others ``enum_code``) and
  companies (with an "ИНН" field that has no ``field_code``: mostly valid check digits, a few not) linked to
  the leads; returning customers' leads reuse their company and contact.

The account is a history, not a snapshot: each lead keeps the moment it entered each stage (and when it was
deleted). :meth:`DemoAccount.state_at` is what the API lists at a moment: nothing created later, each lead in its
stage of then, ``updated_at`` its last change before it; :meth:`DemoAccount.advance_to` shows that state on a
running :class:`FakeAmoCRM`. A lead changes only when it moves (or is deleted), so every version a loader stores
says exactly when the lead entered the stage it shows: the funnel's time in stage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..warehouse.demo import DEMO_END
from .amocrm import DEMO
from .local_amocrm import FakeAmoCRM

__all__ = ["DEMO", "DemoAccount", "demo_account", "start_demo_amocrm"]
TOKEN = "demo-amocrm-token"
SEED = 42
DAY = 86_400
DAYS = 92  # about three months before the demo's last day
ACCOUNT_ID = 31_415_926
WON, LOST = 142, 143
REASONS = {"Дорого": 4_101, "Выбрали конкурента": 4_102, "Нет ответа": 4_103, "Не целевой": 4_104}
PHONE_FIELD, EMAIL_FIELD, INN_FIELD = 501_001, 501_003, 501_010
ENUM_IDS = {"WORK": 801, "MOB": 803, "PRIV": 813}


@dataclass(frozen=True)
class Stage:
    id: int
    name: str
    days: float  # median time a lead spends here before it moves on or is lost
    passes: float  # share of the leads leaving this stage that move on (the others are lost)
    reasons: Mapping[str, float]  # why the lost ones were lost


@dataclass(frozen=True)
class Pipeline:
    id: int
    name: str
    share: float  # of all leads
    price: float  # median budget, roubles
    stages: tuple[Stage, ...]  # "Неразобранное" first, then the working stages; won and lost follow


EARLY = {"Не целевой": 0.55, "Нет ответа": 0.45}
PIPELINES = (
    Pipeline(7_654_321, "Продажи", 0.8, 120_000, (
        Stage(61_000_001, "Неразобранное", 0.1, 0.9, EARLY),
        Stage(61_000_002, "Первичный контакт", 1.0, 0.8, {"Нет ответа": 0.6, "Не целевой": 0.3, "Дорого": 0.1}),
        Stage(61_000_003, "Квалификация", 2.0, 0.82, {"Не целевой": 0.3, "Дорого": 0.3, "Нет ответа": 0.2,
                                                       "Выбрали конкурента": 0.2}),
        Stage(61_000_004, "Презентация", 4.0, 0.8, {"Дорого": 0.4, "Выбрали конкурента": 0.35, "Нет ответа": 0.25}),
        Stage(61_000_005, "Коммерческое предложение", 5.0, 0.78, {"Дорого": 0.5, "Выбрали конкурента": 0.4,
                                                                  "Нет ответа": 0.1}),
        Stage(61_000_006, "Согласование договора", 7.0, 0.85, {"Дорого": 0.4, "Выбрали конкурента": 0.5,
                                                               "Нет ответа": 0.1}),
    )),
    Pipeline(7_654_322, "Партнёры", 0.2, 300_000, (
        Stage(62_000_001, "Неразобранное", 0.2, 0.85, EARLY),
        Stage(62_000_002, "Заявка", 2.0, 0.8, {"Не целевой": 0.5, "Нет ответа": 0.5}),
        Stage(62_000_003, "Переговоры", 6.0, 0.75, {"Дорого": 0.4, "Выбрали конкурента": 0.4, "Нет ответа": 0.2}),
        Stage(62_000_004, "Подписание", 8.0, 0.88, {"Дорого": 0.5, "Выбрали конкурента": 0.5}),
    )),
)

# name, e-mail, lead weight, administrator, joined after this many days, switched off this many days before the end
MANAGERS = [
    ("Анна Смирнова", "a.smirnova", 0.3, True, 0, None),
    ("Дмитрий Кузнецов", "d.kuznetsov", 1.2, False, 0, None),
    ("Екатерина Попова", "e.popova", 1.0, False, 0, None),
    ("Игорь Васильев", "i.vasiliev", 0.9, False, 0, None),
    ("Мария Соколова", "m.sokolova", 1.1, False, 0, None),
    ("Алексей Морозов", "a.morozov", 0.8, False, 0, None),
    ("Ольга Новикова", "o.novikova", 1.0, False, 40, None),
    ("Сергей Волков", "s.volkov", 0.7, False, 0, 21),
]
MALE = ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл", "Михаил",
        "Никита", "Павел", "Роман", "Евгений", "Владимир"]
FEMALE = ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина", "Светлана", "Юлия",
          "Анастасия", "Дарья", "Ксения", "Марина", "Виктория"]
SURNAMES = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Лебедев", "Козлов", "Новиков", "Морозов", "Волков",
            "Соловьёв", "Васильев", "Зайцев", "Павлов", "Семёнов", "Голубев", "Виноградов", "Богданов", "Воробьёв",
            "Фёдоров", "Михайлов", "Беляев", "Тарасов", "Белов", "Орлов"]
FIRMS = ["Север", "Техно", "Альфа", "Гранит", "Меридиан", "Сибирь", "Форвард", "Орион", "Эверест", "Балтика", "Волга",
         "Кристалл", "Атлант", "Инфо", "Эко", "Урал", "Нева", "Вектор"]
TRADES = ["Строй", "Логистик", "Трейд", "Сервис", "Системс", "Пром", "Групп", "Софт", "Маркет", "Проект", "Снаб"]
PRODUCTS = ["Годовая подписка", "Внедрение", "Пилотный проект", "Расширение лицензий", "Обучение команды"]
DOMAINS = ["mail.ru", "yandex.ru", "gmail.com", "bk.ru", "inbox.ru"]
LATIN = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                 ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t",
                  "u", "f", "kh", "ts", "ch", "sh", "sch", "", "y", "", "e", "yu", "ya"], strict=True))


@dataclass(frozen=True)
class Lead:
    id: int
    name: str
    price: int
    pipeline_id: int
    responsible_user_id: int
    created_by: int
    contacts: tuple[tuple[int, bool], ...]  # (contact id, is main), in the order the API lists them
    company_id: int | None
    moves: tuple[tuple[int, int], ...]  # (moment, status id) the lead entered, from its creation on
    loss_reason: str | None
    deleted_at: int | None


@dataclass(frozen=True)
class Party:
    """A contact or a company: its API model at creation, and a later edit (another phone) if it had one."""

    model: dict[str, Any]
    edited_at: int | None = None
    extra_phone: str = ""


@dataclass
class DemoAccount:
    seed: int
    start: int  # Unix seconds: the first lead is created after this
    end: int  # Unix seconds: the state the account ends in (midnight after the demo's last day)
    users: list[tuple[dict[str, Any], int, int | None]]  # (model, joined at, switched off at)
    leads: list[Lead] = field(default_factory=list)
    contacts: list[Party] = field(default_factory=list)
    companies: list[Party] = field(default_factory=list)

    def pipelines(self) -> list[dict[str, Any]]:
        return [_pipeline_model(pipeline, sort) for sort, pipeline in enumerate(PIPELINES, start=1)]

    def state_at(self, moment: int) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
        """(the lists by entity, the trash) as the API answers them at ``moment``."""
        leads, trash = [], []
        for lead in self.leads:
            if lead.moves[0][0] > moment:
                break  # leads are in creation order
            if lead.deleted_at is not None and lead.deleted_at <= moment:
                trash.append({"id": lead.id, "updated_at": lead.deleted_at, "updated_by": lead.responsible_user_id,
                              "is_deleted": True})
            else:
                leads.append(_lead_model(lead, moment))
        return {"leads": leads, "contacts": _parties(self.contacts, moment),
                "companies": _parties(self.companies, moment),
                "users": [_user_at(model, left, moment) for model, joined, left in self.users if joined <= moment]}, trash

    def advance_to(self, fake: FakeAmoCRM, moment: int) -> None:
        """Make ``fake`` answer as this account did at ``moment``."""
        fake.show(*self.state_at(moment))

    def fake(self, moment: int | None = None) -> FakeAmoCRM:
        """A local server (not started: ``with``) answering as this account at ``moment`` (default: its end)."""
        served = FakeAmoCRM(pipelines=self.pipelines(), access_token=TOKEN, refresh_token="")
        self.advance_to(served, self.end if moment is None else moment)
        return served

    def moments(self, every: dt.timedelta) -> list[int]:
        """Load moments: every ``every`` from the start, then the end."""
        step = int(every.total_seconds())
        return [*range(self.start + step, self.end, step), self.end]


def demo_account(seed: int = SEED, end: dt.date = DEMO_END, days: int = DAYS) -> DemoAccount:
    """The account whose last day is ``end``: the same from the same seed."""
    final = int(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp())
    return _Generator(seed, final - days * DAY, final).run()


def start_demo_amocrm(environ: MutableMapping[str, str]) -> FakeAmoCRM:
    """Serve the demo account at its end on loopback for this process and its kernels (``environ`` gets its URL
    and token): the same account ``analytics demo-data`` loads, so a load of changes finds the store up to date."""
    served = demo_account().fake().__enter__()
    # A long-lived token: OAuth settings of a real account in .env would have the kernels renew tokens with it
    # (an empty value in the environment wins over .env).
    environ.update({**served.settings(), "ANALYTICS_AMOCRM_CLIENT_ID": ""})
    return served


class _Generator:
    def __init__(self, seed: int, start: int, end: int) -> None:
        self.rng, self.start, self.end = np.random.default_rng(seed), start, end
        self.account = DemoAccount(seed, start, end, [])
        self.company_contacts: dict[int, list[int]] = {}  # the contacts of each company, for returning customers

    def run(self) -> DemoAccount:
        self.account.users = self.users()
        for created in self.creation_moments():
            self.lead(int(created))
        return self.account

    # --- managers --------------------------------------------------------------------------------------
    def users(self) -> list[tuple[dict[str, Any], int, int | None]]:
        found = []
        for number, (name, login, _, admin, joined, left) in enumerate(MANAGERS):
            model = {"id": 9_100_001 + number, "name": name, "email": f"{login}@demo-crm.ru", "lang": "ru",
                     "rights": _rights(admin)}
            found.append((model, self.start + joined * DAY, None if left is None else self.end - left * DAY))
        return found

    def manager(self, moment: int) -> int:
        weights = np.array([weight if joined <= moment and (left is None or left > moment) else 0.0
                            for (_, _, weight, *_), (_, joined, left) in zip(MANAGERS, self.account.users, strict=True)])
        chosen = self.rng.choice(len(MANAGERS), p=weights / weights.sum())
        return int(self.account.users[chosen][0]["id"])

    # --- leads -----------------------------------------------------------------------------------------
    def creation_moments(self) -> np.ndarray:
        """About 3,000 moments: more each week, fewer at weekends, in working hours (Moscow is UTC+3)."""
        moments = []
        days = (self.end - self.start) // DAY
        for day in range(days):
            base = self.start + day * DAY
            weekday = dt.datetime.fromtimestamp(base, dt.UTC).weekday()
            mean = (34 + 13 * day / days) * (1.0 if weekday < 5 else 0.3)
            hours = np.clip(self.rng.normal(10.0, 3.0, self.rng.poisson(mean)), 4.0, 18.5)
            moments += list(base + (hours * 3600).astype(int))
        return np.sort(np.array(moments))

    def lead(self, created: int) -> None:
        rng = self.rng
        pipeline = PIPELINES[0] if rng.random() < PIPELINES[0].share else PIPELINES[1]
        from_form = rng.random() < 0.6
        responsible = self.manager(created)
        company_id, contacts = self.parties(created, responsible)
        moves, reason = self.moves(pipeline, created, first=0 if from_form else 1)
        deleted = None
        if rng.random() < (0.05 if from_form else 0.01):
            deleted = created + int(rng.lognormal(np.log(DAY), 1.0))
            moves = [move for move in moves if move[0] < deleted]
            reason = reason if moves[-1][1] == LOST else None
        lead_id = 21_000_001 + len(self.account.leads)
        product = PRODUCTS[rng.integers(len(PRODUCTS))]
        client = self.account.companies[company_id - 48_000_001].model["name"] if company_id else \
            self.account.contacts[contacts[0][0] - 35_000_001].model["name"]
        price = int(round(pipeline.price * rng.lognormal(0.0, 0.6), -3))
        self.account.leads.append(Lead(lead_id, f"{product}: {client}", price, pipeline.id, responsible,
                                       0 if from_form else responsible, contacts, company_id, tuple(moves), reason,
                                       deleted))

    def moves(self, pipeline: Pipeline, created: int, first: int) -> tuple[list[tuple[int, int]], str | None]:
        """The stages the lead enters (from ``first``) and when, until it is won or lost."""
        rng, stages = self.rng, pipeline.stages
        moves, moment = [(created, stages[first].id)], created
        for index in range(first, len(stages)):
            stage = stages[index]
            moment = _working_hours(moment + max(600, int(rng.lognormal(np.log(stage.days * DAY), 0.9))), rng)
            if rng.random() >= stage.passes:
                names = list(stage.reasons)
                reason = names[rng.choice(len(names), p=np.array(list(stage.reasons.values())))]
                return [*moves, (moment, LOST)], reason
            moves.append((moment, stages[index + 1].id if index + 1 < len(stages) else WON))
        return moves, None

    # --- contacts and companies ------------------------------------------------------------------------
    def parties(self, created: int, responsible: int) -> tuple[int | None, tuple[tuple[int, bool], ...]]:
        """The lead's company (6 in 10 leads; a returning one in 1 of 4) and its contacts, main one marked."""
        rng = self.rng
        company_id = None
        if rng.random() < 0.6:
            known = list(self.company_contacts)
            if known and rng.random() < 0.25:
                company_id = known[rng.integers(len(known))]
                main = self.company_contacts[company_id][rng.integers(len(self.company_contacts[company_id]))]
            else:
                company_id = self.company(created - 60, responsible)
                main = self.contact(created - 30, responsible, company_id)
        else:
            main = self.contact(created - 30, responsible, None)
        linked = [(main, True)]
        if rng.random() < 0.15:
            linked.append((self.contact(created - 20, responsible, company_id), False))
            if rng.random() < 0.5:
                linked.reverse()  # the API does not promise the main contact first
        return company_id, tuple(linked)

    def contact(self, created: int, responsible: int, company_id: int | None) -> int:
        rng = self.rng
        contact_id = 35_000_001 + len(self.account.contacts)
        female = rng.random() < 0.5
        first = (FEMALE if female else MALE)[rng.integers(15)]
        last = SURNAMES[rng.integers(len(SURNAMES))] + ("а" if female else "")
        phones = [(_phone(rng), "MOB" if rng.random() < 0.7 else "WORK")]
        emails = [] if rng.random() < 0.3 else [(_email(first, last, rng), "PRIV" if rng.random() < 0.6 else "WORK")]
        model = {"id": contact_id, "name": f"{first} {last}", "first_name": first, "last_name": last,
                 "responsible_user_id": responsible, "created_by": responsible, "updated_by": responsible,
                 "created_at": created, "updated_at": created, "is_deleted": False, "closest_task_at": None,
                 "custom_fields_values": _reachable(phones, emails, rng), "account_id": ACCOUNT_ID,
                 "_embedded": {"tags": [], "companies": [{"id": company_id}] if company_id else []}}
        edited = created + int(rng.lognormal(np.log(10 * DAY), 0.8)) if rng.random() < 0.1 else None
        self.account.contacts.append(Party(model, edited, _phone(rng) if edited else ""))
        if company_id:
            self.company_contacts[company_id].append(contact_id)
        return contact_id

    def company(self, created: int, responsible: int) -> int:
        rng = self.rng
        company_id = 48_000_001 + len(self.account.companies)
        sole = rng.random() < 0.15
        if sole:
            name = f"ИП {SURNAMES[rng.integers(len(SURNAMES))]} {MALE[rng.integers(15)][0]}. {MALE[rng.integers(15)][0]}."
        else:
            form = ("ООО", "АО", "ПАО")[rng.choice(3, p=[0.8, 0.15, 0.05])]
            name = f"{form} «{FIRMS[rng.integers(len(FIRMS))]}{TRADES[rng.integers(len(TRADES))]}»"
        fields = _reachable([(_phone(rng, work=True), "WORK")], [] if rng.random() < 0.4 else
                            [(f"info{company_id % 10_000}@{DOMAINS[rng.integers(len(DOMAINS))]}", "WORK")], rng) or []
        if rng.random() < 0.9:
            fields.append({"field_id": INN_FIELD, "field_name": "ИНН", "field_code": None, "field_type": "text",
                           "values": [{"value": _inn(rng, 12 if sole else 10, valid=rng.random() > 0.07)}]})
        model = {"id": company_id, "name": name, "responsible_user_id": responsible, "created_by": responsible,
                 "updated_by": responsible, "created_at": created, "updated_at": created, "is_deleted": False,
                 "closest_task_at": None, "custom_fields_values": fields or None, "account_id": ACCOUNT_ID,
                 "_embedded": {"tags": []}}
        self.account.companies.append(Party(model))
        self.company_contacts[company_id] = []
        return company_id


# --- the API's models ------------------------------------------------------------------------------------
def _lead_model(lead: Lead, moment: int) -> dict[str, Any]:
    entered, status = [move for move in lead.moves if move[0] <= moment][-1]
    closed = status in (WON, LOST)
    lost = status == LOST and lead.loss_reason is not None
    embedded: dict[str, Any] = {"tags": [], "companies": [{"id": lead.company_id}] if lead.company_id else [],
                                "contacts": [{"id": contact, "is_main": main} for contact, main in lead.contacts]}
    if lost:
        embedded["loss_reason"] = [{"id": REASONS[lead.loss_reason], "name": lead.loss_reason}]  # type: ignore[index]
    return {"id": lead.id, "name": lead.name, "price": lead.price, "responsible_user_id": lead.responsible_user_id,
            "group_id": 0, "status_id": status, "pipeline_id": lead.pipeline_id,
            "loss_reason_id": REASONS[lead.loss_reason] if lost else None,  # type: ignore[index]
            "created_by": lead.created_by, "updated_by": lead.responsible_user_id, "created_at": lead.moves[0][0],
            "updated_at": entered, "closed_at": entered if closed else None, "closest_task_at": None,
            "is_deleted": False, "custom_fields_values": None, "score": None, "account_id": ACCOUNT_ID,
            "labor_cost": None, "_embedded": embedded}


def _parties(parties: list[Party], moment: int) -> list[dict[str, Any]]:
    found = []
    for party in parties:
        if party.model["created_at"] > moment:
            break
        if party.edited_at is None or party.edited_at > moment:
            found.append(party.model)
            continue
        fields = [dict(item) for item in party.model["custom_fields_values"]]
        phones = fields[0]  # the phone field comes first
        phones["values"] = [*phones["values"], {"value": party.extra_phone, "enum_id": ENUM_IDS["WORK"],
                                                "enum_code": "WORK"}]
        found.append({**party.model, "custom_fields_values": fields, "updated_at": party.edited_at})
    return found


def _user_at(model: dict[str, Any], left: int | None, moment: int) -> dict[str, Any]:
    if left is None or left > moment:
        return model
    return {**model, "rights": {**model["rights"], "is_active": False}}


def _rights(admin: bool) -> dict[str, Any]:
    every = {"view": "A", "edit": "A", "add": "A", "delete": "A", "export": "A" if admin else "D"}
    return {"leads": every, "contacts": every, "companies": every, "tasks": {"edit": "A", "delete": "A"},
            "mail_access": True, "catalog_access": admin, "status_rights": [], "is_admin": admin, "is_free": False,
            "is_active": True, "group_id": None, "role_id": None}


def _pipeline_model(pipeline: Pipeline, sort: int) -> dict[str, Any]:
    def status(status_id: int, name: str, order: int, kind: int, color: str) -> dict[str, Any]:
        return {"id": status_id, "name": name, "sort": order, "is_editable": status_id not in (WON, LOST) and kind != 1,
                "pipeline_id": pipeline.id, "color": color, "type": kind, "account_id": ACCOUNT_ID}

    unsorted, *working = pipeline.stages
    statuses = [status(unsorted.id, unsorted.name, 10, 1, "#c1c1c1")]
    statuses += [status(stage.id, stage.name, 20 + 10 * number, 0, "#99ccff") for number, stage in enumerate(working)]
    statuses += [status(WON, "Успешно реализовано", 10_000, 0, "#CCFF66"),
                 status(LOST, "Закрыто и не реализовано", 11_000, 0, "#D5D8DB")]
    return {"id": pipeline.id, "name": pipeline.name, "sort": sort, "is_main": sort == 1, "is_unsorted_on": True,
            "is_archive": False, "account_id": ACCOUNT_ID, "_embedded": {"statuses": statuses}}


def _reachable(phones: list[tuple[str, str]], emails: list[tuple[str, str]],
               rng: np.random.Generator) -> list[dict[str, Any]] | None:
    """PHONE and EMAIL multitext fields; each value's kind under ``enum`` or ``enum_code`` (amoCRM uses both)."""
    def values(found: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return [{"value": value, "enum_id": ENUM_IDS[kind], ("enum" if rng.random() < 0.5 else "enum_code"): kind}
                for value, kind in found]

    fields = [{"field_id": PHONE_FIELD, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
               "values": values(phones)}]
    if emails:
        fields.append({"field_id": EMAIL_FIELD, "field_name": "Email", "field_code": "EMAIL", "field_type": "multitext",
                       "values": values(emails)})
    return fields


def _phone(rng: np.random.Generator, *, work: bool = False) -> str:
    """A Russian number in one of the ways people type them."""
    code = f"{rng.choice([495, 499, 812, 343, 383])}" if work else f"9{rng.integers(10, 100)}"
    digits = f"{rng.integers(1_000_000, 10_000_000)}"
    shape = rng.integers(4)
    if shape == 0:
        return f"+7 ({code}) {digits[:3]}-{digits[3:5]}-{digits[5:]}"
    if shape == 1:
        return f"8{code}{digits}"
    if shape == 2:
        return f"+7{code}{digits}"
    return f"8 {code} {digits[:3]} {digits[3:5]} {digits[5:]}"


def _email(first: str, last: str, rng: np.random.Generator) -> str:
    login = f"{_latin(first)}.{_latin(last)}"
    address = f"{login}{rng.integers(1, 99) if rng.random() < 0.3 else ''}@{DOMAINS[rng.integers(len(DOMAINS))]}"
    return address.title() if rng.random() < 0.05 else address  # some people type capitals; the loader lowers them


def _latin(word: str) -> str:
    return "".join(LATIN.get(letter, letter) for letter in word.lower())


def _inn(rng: np.random.Generator, digits: int, *, valid: bool) -> str:
    """A tax id (10 digits for a company, 12 for a sole trader) whose check digits hold, or, if not ``valid``, fail."""
    body = [int(digit) for digit in rng.integers(0, 10, digits - (1 if digits == 10 else 2))]
    body[0] = body[0] or 7
    weights = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]
    for _ in range(1 if digits == 10 else 2):
        used = weights[-len(body):]
        body.append(sum(weight * digit for weight, digit in zip(used, body, strict=True)) % 11 % 10)
    if not valid:
        body[-1] = (body[-1] + 1) % 10
    return "".join(map(str, body))


def _working_hours(moment: int, rng: np.random.Generator) -> int:
    """A move done by a person: at night or at a weekend it waits for the next working morning (Moscow time)."""
    when = dt.datetime.fromtimestamp(moment, dt.UTC)
    if when.weekday() < 5 and 6 <= when.hour < 17:
        return moment
    day = when.date() + dt.timedelta(days=1 if when.hour >= 17 else 0)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    start = int(dt.datetime.combine(day, dt.time(6), dt.UTC).timestamp())
    return start + int(rng.integers(0, 4 * 3600))
