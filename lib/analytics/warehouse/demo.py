"""A deterministic demo warehouse for a loyalty-card wallet app (see DOMAIN.md).

Everything comes from one seeded generator, so the same seed gives the same rows on
the embedded store and on a server. Shapes a report or a detector should meet in real
life are built in: growth, weekly and daily seasonality, long-tailed partner sizes,
skewed per-user activity, Cyrillic text, card numbers with leading zeros. Injected
anomalies and experiment effects are labeled and written beside the data
(``demo_anomalies``, ``demo_experiment_effects``) so monitoring and A/B summaries can be scored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..db import Database
from ..errors import ParameterError
from .schema import DEMO_TRUTH, WAREHOUSE

DEMO_END = dt.date(2026, 11, 15)
DAY = 86_400


@dataclass(frozen=True)
class Scale:
    days: int
    users: int
    partners: int
    cards: int
    events: int
    pushes: int
    push_audience: int  # mean recipients of one push


SCALES = {
    "small": Scale(days=60, users=3_000, partners=30, cards=8_000, events=120_000, pushes=40, push_audience=400),
    "default": Scale(days=180, users=200_000, partners=60, cards=500_000, events=5_200_000, pushes=300,
                     push_audience=5_000),
    "large": Scale(days=365, users=1_000_000, partners=60, cards=2_500_000, events=30_000_000, pushes=600,
                   push_audience=20_000),
}

PARTNER_NAMES = [
    "Пятёрочка", "Перекрёсток", "ВкусВилл", "«Лента»", "Магнит", "Ашан", "SPAR", "Азбука вкуса", "METRO",
    "О'КЕЙ", "М.Видео", "Эльдорадо", "DNS", "Спортмастер", "Декатлон", "Детский мир", "Л'Этуаль",
    "Рив Гош", "Золотое яблоко", "Подружка", "ООО \"Ромашка\"", "Аптека «Ригла»", "36,6", "Столички",
    "Лукойл", "Газпромнефть", "Shell", "Шоколадница", "Coffee Like", "Burger King", "Теремок",
    "Леруа Мерлен", "OBI", "Hoff", "IKEA Family", "Gloria Jeans", "O'STIN", "Ostin Kids", "Befree",
    "Zarina", "Снежная Королева", "Kari", "Ecco", "Читай-город", "Буквоед", "Летуаль Beauty",
    "Сбер Спасибо", "Аэрофлот Бонус", "РЖД Бонус", "Много.ру", "Ozon", "Wildberries", "Самокат",
    "Яндекс Лавка", "Кофемания", "Додо Пицца", "Вкусно — и точка", "Rostic's", "Fix Price", "Светофор",
]
CATEGORIES = ["Продукты", "Электроника", "Спорт", "Детские товары", "Косметика", "Аптеки", "АЗС", "Кафе",
              "Дом и сад", "Одежда", "Книги", "Путешествия", "Маркетплейсы"]
DEVICES = ["iPhone 15", "iPhone 13", "iPhone 11", "iPhone SE", "Samsung Galaxy A54", "Samsung Galaxy S23",
           "Xiaomi Redmi Note 12", "Xiaomi Poco X5", "HONOR X8", "realme C55", "TECNO Spark 10", "Huawei nova 9"]
CARRIERS = ["МТС", "МегаФон", "Билайн", "Tele2", "Yota", "Тинькофф Мобайл"]
REGIONS = ["Москва", "Санкт-Петербург", "Московская область", "Краснодарский край", "Свердловская область",
           "Новосибирская область", "Республика Татарстан", "Нижегородская область", "Ростовская область",
           "Самарская область", "Челябинская область", "Республика Башкортостан", "Приморский край",
           "Калининградская область", "Ханты-Мансийский АО — Югра"]
EVENTS = {  # event: share of all events
    "app_open": 0.28, "card_show": 0.22, "offer_view": 0.12, "scenario_step": 0.12, "card_add": 0.05,
    "push_open": 0.04, "error": 0.04, "promo_action": 0.03, "card_issue": 0.02, "support_request": 0.005,
    "unsubscribe": 0.005,
}
PARTNER_EVENTS = {"card_show", "card_add", "card_issue", "offer_view", "promo_action"}
SCENARIOS = {"onboarding": 0.4, "card_add_flow": 0.4, "promo_chain": 0.2}
PROMO_CHAINS = 0.004  # whole walks of the promo chain (the weekly raffle's participants), per event
ERROR_CODES = {"E_NETWORK": 0.45, "E_TIMEOUT": 0.25, "E_CARD_SCAN": 0.15, "E_AUTH": 0.1, "E_500": 0.05}
HOURLY = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 3.5, 3.8, 4, 4.2, 5, 4.8, 4.2, 4, 4.2, 4.8, 5.8, 6.2,
                   6, 5, 3.5, 2])
WEEKLY = np.array([1.0, 0.98, 0.97, 1.0, 1.08, 1.2, 1.14])  # Monday .. Sunday
EXPERIMENTS = {  # experiment: {event: true relative effect on the test group}
    "new_onboarding": {"app_open": 0.10, "card_issue": 0.15, "unsubscribe": 0.0, "support_request": 0.0},
    "push_timing": {"app_open": 0.0, "card_issue": 0.0, "unsubscribe": 0.0, "support_request": 0.0},
}
PUSH_TITLES = ["Скидка 20% в «{p}»", "Новые предложения недели 🎁", "Ваша карта «{p}» готова",
               "Двойные баллы в {p} до воскресенья", "Не забудьте про бонусы!", "Кешбэк 10% — только сегодня"]

Progress = Callable[[str], None]


def generate(scale: str = "small", seed: int = 42, end: dt.date = DEMO_END, *, anomalies: bool = True) -> dict[str, pa.Table]:
    """All demo tables (warehouse and ground truth) as Arrow tables, from ``seed``.

    ``anomalies=False`` gives the same warehouse without the injected anomalies: the quiet data
    on which a detector's false alerts are counted.
    """
    if scale not in SCALES:
        raise ParameterError("scale", scale, f"one of {', '.join(SCALES)}")
    return _Generator(SCALES[scale], np.random.default_rng(seed), end, anomalies).run()


def load(db: Database, scale: str = "small", seed: int = 42, *, progress: Progress | None = None,
         anomalies: bool = True, end: dt.date = DEMO_END, only: tuple[str, ...] = (),
         events_since: dt.date | None = None) -> dict[str, int]:
    """Generate the demo data (its last day ``end``) and (re)create every demo table in ``db`` (or those in
    ``only``: a monitoring backtest needs the events and their labels, not five million cards; ``events_since``:
    nor events older than its history reaches). Returns rows per table."""
    say = progress or (lambda message: None)
    say(f"Generating the {scale} demo warehouse (seed {seed})")
    tables = generate(scale, seed, end, anomalies=anomalies)
    if events_since is not None:
        events = tables["events"]
        tables["events"] = events.filter(pc.greater_equal(events["event_date"], pa.scalar(events_since, pa.date32())))
    counts = {}
    for name, spec in {**WAREHOUSE, **DEMO_TRUTH}.items():
        if only and name not in only:
            continue
        say(f"Loading {name}: {tables[name].num_rows:,} rows")
        db.drop_table(name)
        db.create_table(spec)
        counts[name] = db.insert(name, tables[name])
    return counts


def _strings(codes: np.ndarray, values: list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(values, pa.string())).dictionary_decode()


def _choice(rng: np.random.Generator, weights: dict[str, float], size: int) -> np.ndarray:
    shares = np.array(list(weights.values()), dtype=float)
    return rng.choice(len(shares), size=size, p=shares / shares.sum())


def _seconds(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[s]"))


class _Generator:
    def __init__(self, scale: Scale, rng: np.random.Generator, end: dt.date, anomalies: bool = True) -> None:
        self.scale = scale
        self.with_anomalies = anomalies
        self.rng = rng
        self.start = np.datetime64(end - dt.timedelta(days=scale.days - 1), "s")
        self.end = np.datetime64(end + dt.timedelta(days=1), "s")  # exclusive
        zipf = 1.0 / np.arange(1, scale.partners + 1) ** 1.1
        self.partner_weights = zipf / zipf.sum()

    def run(self) -> dict[str, pa.Table]:
        tables = {"partners": self.partners(), "users": self.users()}
        tables["cards"] = self.cards()
        tables["experiment_assignments"] = self.assignments()
        events, anomalies = self.events()
        tables["events"] = events
        tables["pushes"], tables["push_deliveries"] = self.pushes()
        tables["demo_anomalies"] = anomalies
        tables["demo_experiment_effects"] = self.effects()
        return tables

    def partner_ids(self, size: int) -> np.ndarray:
        return (self.rng.choice(self.scale.partners, size=size, p=self.partner_weights) + 1).astype(np.uint32)

    # --- dimensions ---------------------------------------------------------------------------
    def partners(self) -> pa.Table:
        n, rng = self.scale.partners, self.rng
        names = [PARTNER_NAMES[i % len(PARTNER_NAMES)] + ("" if i < len(PARTNER_NAMES) else f" {i // len(PARTNER_NAMES) + 1}")
                 for i in range(n)]
        created = self.start.astype("datetime64[D]") - rng.integers(30, 1500, n).astype("timedelta64[D]")
        return pa.table({
            "partner_id": pa.array(np.arange(1, n + 1), pa.uint32()),
            "name": pa.array(names, pa.string()),
            "category": _strings(rng.integers(0, len(CATEGORIES), n), CATEGORIES),
            "is_active": pa.array((rng.random(n) < 0.9).astype(np.uint8)),
            "created_at": pa.array(created),
        })

    def users(self) -> pa.Table:
        n, rng, period = self.scale.users, self.rng, self.scale.days * DAY
        before = rng.random(n) < 0.4
        # growth: registrations during the period get denser towards its end
        offsets = np.where(before, -rng.integers(1, 365 * DAY, n), (np.sqrt(rng.random(n)) * period).astype(np.int64))
        order = np.argsort(offsets, kind="stable")
        self.registered = (self.start + offsets[order].astype("timedelta64[s]"))
        self.activity = rng.lognormal(0.0, 1.2, n)
        self.user_ids = np.arange(1_000_001, 1_000_001 + n, dtype=np.uint64)
        device = rng.integers(0, len(DEVICES), n)
        self.is_ios = np.array([DEVICES[i].startswith("iPhone") for i in device])[np.arange(n)]
        self.push_enabled = rng.random(n) < 0.7
        birth = np.clip(rng.normal(1988, 11, n), 1945, 2010).astype(np.uint16)
        birth[rng.random(n) < 0.07] = 0
        return pa.table({
            "user_id": pa.array(self.user_ids),
            "amplitude_id": pa.array((rng.permutation(n) + 500_000_000).astype(np.uint64)),
            "registered_at": _seconds(self.registered),
            "gender": _strings(rng.choice(3, n, p=[0.46, 0.44, 0.10]), ["female", "male", ""]),
            "birth_year": pa.array(birth),
            "device_model": _strings(device, DEVICES),
            "os": _strings(self.is_ios.astype(int), ["Android", "iOS"]),
            "carrier": _strings(rng.choice(len(CARRIERS), n, p=[0.3, 0.25, 0.2, 0.15, 0.06, 0.04]), CARRIERS),
            "region": _strings(_choice(rng, {r: 1 / (i + 1) for i, r in enumerate(REGIONS)}, n), REGIONS),
            "push_enabled": pa.array(self.push_enabled.astype(np.uint8)),
        })

    def cards(self) -> pa.Table:
        n, rng = self.scale.cards, self.rng
        owner = rng.choice(self.scale.users, size=n, p=self.activity / self.activity.sum())
        since = np.maximum(self.registered[owner], self.start - np.timedelta64(120, "D"))
        added = since + (rng.random(n) * (self.end - since).astype(np.int64)).astype("timedelta64[s]")
        plastic = rng.random(n) < 0.35
        issued = added - np.where(plastic, rng.integers(DAY, 400 * DAY, n), rng.integers(5, 600, n)).astype("timedelta64[s]")
        deleted = added + (rng.random(n) * (self.end - added).astype(np.int64)).astype("timedelta64[s]")
        deleted_mask = rng.random(n) >= 0.12
        return pa.table({
            "card_id": pa.array(np.arange(1, n + 1, dtype=np.uint64)),
            "user_id": pa.array(self.user_ids[owner]),
            "partner_id": pa.array(self.partner_ids(n)),
            "card_number": pa.array(self.card_numbers(n), pa.string()),
            "barcode": pa.array(self.barcodes(n), pa.string()),
            "origin": _strings(plastic.astype(int), ["virtual", "plastic"]),
            "issued_at": _seconds(issued),
            "added_at": _seconds(added),
            "deleted_at": pa.array(deleted.astype("datetime64[s]"), mask=deleted_mask),
        })

    def card_numbers(self, n: int) -> list[str]:
        """16-19 digits; one in ten starts with zeros, so it must never become a number."""
        digits = self.rng.integers(0, 10, (n, 19), dtype=np.uint8) + ord("0")
        digits[:, 0] = self.rng.integers(1, 10, n) + ord("0")
        leading = self.rng.random(n) < 0.1
        digits[leading, 0] = ord("0")
        digits[leading, 1] = ord("0")
        lengths = self.rng.integers(16, 20, n)
        raw = digits.view("S19").ravel()
        return [number[:length].decode() for number, length in zip(raw, lengths, strict=True)]

    def barcodes(self, n: int) -> list[str]:
        """EAN-13 with a valid check digit; some start with 0."""
        digits = self.rng.integers(0, 10, (n, 13), dtype=np.int64)
        digits[:, 0] = np.where(self.rng.random(n) < 0.7, 4, 0)
        digits[:, 1] = np.where(digits[:, 0] == 4, 6, digits[:, 1])
        weights = np.tile([1, 3], 6)
        digits[:, 12] = (10 - (digits[:, :12] * weights).sum(axis=1) % 10) % 10
        raw = (digits.astype(np.uint8) + ord("0")).view("S13").ravel()
        return [code.decode() for code in raw]

    def assignments(self) -> pa.Table:
        rng, n = self.rng, self.scale.users
        self.experiment_groups: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        parts = []
        window = self.scale.days * DAY
        for index, experiment in enumerate(EXPERIMENTS):
            members = np.flatnonzero(rng.random(n) < 0.3)
            start = self.start + np.timedelta64(int(window * (0.3 + 0.1 * index)), "s")
            delay = rng.integers(0, 14 * DAY, members.size).astype("timedelta64[s]")
            assigned = np.maximum(self.registered[members], start) + delay
            keep = assigned < self.end
            members, assigned = members[keep], assigned[keep]
            test = rng.random(members.size) < 0.5
            self.experiment_groups[experiment] = (members[test], assigned[test])
            parts.append(pa.table({
                "experiment": pa.array([experiment] * members.size, pa.string()),
                "user_id": pa.array(self.user_ids[members]),
                "variant": _strings(test.astype(int), ["control", "test"]),
                "assigned_at": _seconds(assigned),
            }))
        return pa.concat_tables(parts)

    # --- events ------------------------------------------------------------------------------------
    def events(self) -> tuple[pa.Table, pa.Table]:
        rng, days = self.rng, self.scale.days
        day_index = np.arange(days)
        weekday = (self.start.astype("datetime64[D]").astype(np.int64) + 3 + day_index) % 7  # 1970-01-01 was Thursday
        shape = (1 + 0.5 * day_index / days) * WEEKLY[weekday] * rng.normal(1, 0.03, days)
        per_day = rng.multinomial(self.scale.events, shape / shape.sum())
        day = np.repeat(day_index, per_day)
        n = day.size
        # who: users registered before the day ends, in proportion to their activity
        registered_day = ((self.registered - self.start).astype(np.int64) // DAY)
        eligible = np.searchsorted(registered_day, day_index, side="right")
        cumulative = np.cumsum(self.activity)
        ceiling = cumulative[np.maximum(eligible[day] - 1, 0)]
        user = np.minimum(np.searchsorted(cumulative, rng.random(n) * ceiling), eligible[day] - 1).clip(0)
        seconds = day * DAY + rng.choice(24, n, p=HOURLY / HOURLY.sum()) * 3600 + rng.integers(0, 3600, n)
        columns = {
            "seconds": seconds, "user": user, "event": _choice(rng, EVENTS, n),
            "scenario": _choice(rng, SCENARIOS, n), "step": np.minimum(rng.geometric(0.35, n), 5),
            "error": _choice(rng, ERROR_CODES, n), "partner": self.partner_ids(n),
        }
        columns, anomalies = self.inject_anomalies(columns)
        columns = self.apply_experiments(columns)
        chains = self.promo_chains(day_index, shape, eligible)
        columns = {name: np.concatenate([values, chains[name]]) for name, values in columns.items()}
        return self.event_table(columns), anomalies

    def promo_chains(self, day_index: np.ndarray, shape: np.ndarray, eligible: np.ndarray) -> dict[str, np.ndarray]:
        """Users walking the promo chain's steps 1 to 5 in order, hours apart; one in ten stops on the way.

        Drawn from a generator of its own, so the rest of the data is the same as without chains.
        """
        rng = np.random.default_rng(self.rng.bit_generator.seed_seq.spawn(1)[0])
        per_day = rng.multinomial(int(self.scale.events * PROMO_CHAINS), shape / shape.sum())
        day = np.repeat(day_index, per_day)
        user = (rng.random(day.size) * np.maximum(eligible[day], 1)).astype(np.int64)
        start = day * DAY + rng.choice(24, day.size, p=HOURLY / HOURLY.sum()) * 3600 + rng.integers(0, 3600, day.size)
        gaps = np.cumsum(rng.exponential(2 * 3600, (day.size, 5)).astype(np.int64), axis=1)
        stops = np.where(rng.random(day.size) < 0.1, rng.integers(1, 5, day.size), 5)  # steps done
        done = np.arange(5)[None, :] < stops[:, None]
        seconds = (start[:, None] + gaps - gaps[:, :1])[done]
        keep = seconds < self.scale.days * DAY
        n = int(keep.sum())
        return {"seconds": seconds[keep], "user": np.repeat(user, stops)[keep],
                "event": np.full(n, list(EVENTS).index("scenario_step")),
                "scenario": np.full(n, list(SCENARIOS).index("promo_chain")),
                "step": np.tile(np.arange(1, 6), day.size)[done.ravel()][keep], "error": np.zeros(n, dtype=np.int64),
                "partner": np.zeros(n, dtype=np.uint32)}

    def inject_anomalies(self, c: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], pa.Table]:
        days, rng = self.scale.days, self.rng
        event_names = list(EVENTS)
        code = {name: event_names.index(name) for name in event_names}
        day = c["seconds"] // DAY
        first = self.start.astype("datetime64[D]")
        plan = [  # kind, event, scenario, step, first day, last day, factor, description
            ("drop", "card_show", "", 0, int(days * 0.55), int(days * 0.55) + 2, 0.4,
             "card_show fell to 40% for three days (a broken card screen)"),
            ("spike", "error", "", 0, int(days * 0.7), int(days * 0.7), 5.0,
             "errors rose fivefold for a day (E_500 from the backend)"),
            ("broken_step", "scenario_step", "card_add_flow", 3, int(days * 0.8), int(days * 0.8) + 1, 0.05,
             "step 3 of card_add_flow almost never reached for two days"),
            ("level_shift", "app_open", "", 0, int(days * 0.9), days - 1, 1.3,
             "app_open up 30% from this day on (a new widget)"),
            ("drop", "offer_view", "", 0, days - 3, days - 1, 0.1,
             "offer_view fell to 10% for the last three days (the offers screen stopped loading)"),
        ] if self.with_anomalies else []
        keep = np.ones(day.size, dtype=bool)
        extra = []
        for _kind, event, scenario, step, start, stop, factor, _ in plan:
            window = (day >= start) & (day <= stop) & (c["event"] == code[event])
            if scenario:
                window &= (c["scenario"] == list(SCENARIOS).index(scenario)) & (c["step"] == step)
            rows = np.flatnonzero(window)
            if factor < 1:
                keep[rows[rng.random(rows.size) >= factor]] = False
            else:
                copies = np.repeat(rows, int(factor) - 1) if factor >= 2 else rows[rng.random(rows.size) < factor - 1]
                extra.append(copies)
        selected = np.concatenate([np.flatnonzero(keep)] + extra)
        c = {name: values[selected] for name, values in c.items()}
        spike = (selected.size - sum(map(len, extra)) <= np.arange(selected.size))
        shifted = spike & (c["event"] == code["error"])
        c["error"] = np.where(shifted, list(ERROR_CODES).index("E_500"), c["error"])
        c["seconds"] = np.where(spike, np.minimum(c["seconds"] + rng.integers(1, 900, selected.size),
                                                 (c["seconds"] // DAY + 1) * DAY - 1), c["seconds"])
        truth = pa.table({
            "anomaly_id": pa.array(np.arange(1, len(plan) + 1), pa.uint32()),
            "kind": [p[0] for p in plan], "event": [p[1] for p in plan], "scenario": [p[2] for p in plan],
            "step": pa.array([p[3] for p in plan], pa.uint8()),
            "start_date": pa.array(first + np.array([p[4] for p in plan]).astype("timedelta64[D]")),
            "end_date": pa.array(first + np.array([p[5] for p in plan]).astype("timedelta64[D]")),
            "factor": pa.array([p[6] for p in plan], pa.float64()), "description": [p[7] for p in plan],
        })
        return c, truth

    def apply_experiments(self, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Test-group users do more of the affected events after assignment, by the true effect."""
        event_names = list(EVENTS)
        extra = []
        for experiment, effects in EXPERIMENTS.items():
            members, assigned = self.experiment_groups[experiment]
            assigned_at = np.full(self.scale.users, np.iinfo(np.int64).max)
            assigned_at[members] = (assigned - self.start).astype(np.int64)
            for event, effect in effects.items():
                if effect <= 0:
                    continue
                rows = np.flatnonzero((c["event"] == event_names.index(event)) & (c["seconds"] >= assigned_at[c["user"]]))
                extra.append(rows[self.rng.random(rows.size) < effect])
        if not extra:
            return c
        copies = np.concatenate(extra)
        c = {name: np.concatenate([values, values[copies]]) for name, values in c.items()}
        added = np.arange(c["seconds"].size) >= c["seconds"].size - copies.size
        jitter = self.rng.integers(1, 600, c["seconds"].size)
        c["seconds"] = np.where(added, np.minimum(c["seconds"] + jitter, (c["seconds"] // DAY + 1) * DAY - 1), c["seconds"])
        return c

    def event_table(self, c: dict[str, np.ndarray]) -> pa.Table:
        order = np.argsort(c["seconds"], kind="stable")
        c = {name: values[order] for name, values in c.items()}
        n = c["seconds"].size
        event_names = list(EVENTS)
        event = c["event"]
        times = self.start + c["seconds"].astype("timedelta64[s]")
        is_scenario = event == event_names.index("scenario_step")
        is_error = event == event_names.index("error")
        partner_event = np.isin(event, [event_names.index(name) for name in PARTNER_EVENTS])
        releases = c["seconds"] // (21 * DAY)
        lag = np.minimum(self.rng.geometric(0.6, n) - 1, releases)
        versions = [f"5.{minor}.{patch}" for minor in range(0, 40) for patch in (0,)]
        return pa.table({
            "event_time": _seconds(times),
            "event_date": pa.array(times.astype("datetime64[D]")),
            "user_id": pa.array(self.user_ids[c["user"]]),
            "event": _strings(event, event_names),
            "partner_id": pa.array(np.where(partner_event, c["partner"], 0).astype(np.uint32)),
            "scenario": _strings(np.where(is_scenario, c["scenario"] + 1, 0), [""] + list(SCENARIOS)),
            "step": pa.array(np.where(is_scenario, c["step"], 0).astype(np.uint8)),
            "error_code": _strings(np.where(is_error, c["error"] + 1, 0), [""] + list(ERROR_CODES)),
            "platform": _strings(self.is_ios[c["user"]].astype(int), ["android", "ios"]),
            "app_version": _strings(releases - lag, versions),
        })

    # --- pushes --------------------------------------------------------------------------------------
    def pushes(self) -> tuple[pa.Table, pa.Table]:
        rng, n = self.rng, self.scale.pushes
        period = self.scale.days * DAY
        created = np.sort(self.start + (rng.random(n) * period).astype("timedelta64[s]"))
        own = rng.random(n) < 0.3
        partner = np.where(own, 0, self.partner_ids(n)).astype(np.uint32)
        names = PARTNER_NAMES
        titles = [PUSH_TITLES[t].format(p=names[(p - 1) % len(names)] if p else "приложении")
                  for t, p in zip(rng.integers(0, len(PUSH_TITLES), n), partner, strict=True)]
        push_ids = np.arange(10_001, 10_001 + n, dtype=np.uint64)
        days = created.astype("datetime64[D]").astype(str)
        sub_ids = [f"{d.replace('-', '')}_{p}_{i}" for d, p, i in zip(days, partner, push_ids, strict=True)]
        pushes = pa.table({
            "push_id": pa.array(push_ids), "sub_id": pa.array(sub_ids, pa.string()), "partner_id": pa.array(partner),
            "title": pa.array(titles, pa.string()), "created_at": _seconds(created),
        })
        enabled = np.flatnonzero(self.push_enabled)
        parts = []
        for push_id, sent in zip(push_ids, created, strict=True):
            audience = enabled[self.registered[enabled] < sent]
            size = min(audience.size, int(rng.lognormal(np.log(self.scale.push_audience), 0.6)))
            who = np.sort(rng.choice(audience, size=size, replace=False))
            sent_at = sent + rng.integers(0, 600, size).astype("timedelta64[s]")
            delivered_at = sent_at + rng.integers(1, 300, size).astype("timedelta64[s]")
            delivered = rng.random(size) < 0.92
            opened = delivered & (rng.random(size) < 0.09)
            opened_at = delivered_at + rng.exponential(7200, size).astype("timedelta64[s]")
            parts.append(pa.table({
                "push_id": pa.array(np.full(size, push_id, dtype=np.uint64)),
                "user_id": pa.array(self.user_ids[who]),
                "sent_at": _seconds(sent_at),
                "delivered_at": pa.array(delivered_at.astype("datetime64[s]"), mask=~delivered),
                "opened_at": pa.array(opened_at.astype("datetime64[s]"), mask=~opened),
            }))
        return pushes, pa.concat_tables(parts)

    def effects(self) -> pa.Table:
        rows = [(experiment, event, effect) for experiment, effects in EXPERIMENTS.items()
                for event, effect in effects.items()]
        return pa.table({
            "experiment": [row[0] for row in rows], "event": [row[1] for row in rows],
            "relative_effect": pa.array([row[2] for row in rows], pa.float64()),
            "description": [f"test users do {row[2]:+.0%} more {row[1]} after assignment" if row[2]
                            else f"no true effect on {row[1]}" for row in rows],
        })
