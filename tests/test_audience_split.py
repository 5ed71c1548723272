"""The split and the hold-out: one hash everywhere (NumPy, ClickHouse 18.16, chDB), fair shares, versions kept."""

from __future__ import annotations

import numpy as np
import pytest

from analytics import Database
from analytics.audiences import bucket_sql, buckets, salt_for
from analytics.audiences import holdout as holdouts
from analytics.audiences.buckets import bucket_of, murmur3_32
from analytics.audiences.steps import split
from analytics.db.sql import identifier

# (user_id, salt) → bucket, computed once and pinned: a change of hash, byte order or modulus fails here first.
VECTORS = [
    (0, 0, 1676), (1, 0, 1556), (1000003, 0, 3085), (2**64 - 1, 0, 712), (1_000_001, salt_for("push_x"), 8792),
    (123456789012345, salt_for("holdout"), 8457), (42, 12345678901234567, 3769), (2**63, 2**64 - 1, 1247),
]
MURMUR = [(0, 1669671676), (1000003, 503833085), (2000006, 838455040), (3000009, 2925879830)]  # from ClickHouse itself


def test_murmur_equals_clickhouse_on_known_values() -> None:
    values = np.array([value for value, _ in MURMUR], dtype=np.uint64)
    assert murmur3_32(values).tolist() == [hashed for _, hashed in MURMUR]


def test_python_buckets_match_the_pinned_vectors() -> None:
    for user_id, salt, bucket in VECTORS:
        assert int(buckets(np.array([user_id], dtype=np.uint64), salt)[0]) == bucket, (user_id, salt)


def test_sql_buckets_match_the_pinned_vectors(db: Database) -> None:
    for user_id, salt, bucket in VECTORS:
        sql = "SELECT " + bucket_sql(identifier("u", ["u"])) + " FROM (SELECT toUInt64(%(u)s) AS u)"
        assert db.scalar(sql, {"u": user_id, "salt": salt}) == bucket, (db.kind, user_id, salt)


def test_sql_and_python_agree_on_every_user(db: Database) -> None:
    salt = salt_for("agreement")
    sql = "SELECT user_id, " + bucket_sql(identifier("user_id", ["user_id"])) + " AS bucket FROM users ORDER BY user_id"
    table = db.query_arrow(sql, {"salt": salt})
    expected = buckets(table.column("user_id").to_numpy(), salt)
    assert table.num_rows > 1000
    assert np.array_equal(table.column("bucket").to_numpy().astype(np.uint16), expected)


def test_control_share_is_within_three_standard_deviations_on_100k_users() -> None:
    users = np.arange(5_000_000, 5_100_000, dtype=np.uint64)
    for percent in (10.0, 50.0, 3.0):
        control = split(users, salt_for(f"share-{percent}"), percent)
        share = percent / 100
        sigma = np.sqrt(len(users) * share * (1 - share))
        assert abs(control.sum() - len(users) * share) < 3 * sigma, percent


def test_the_same_input_gives_the_same_groups_and_salts_separate_them() -> None:
    users = np.random.default_rng(7).integers(1, 2**63, 50_000, dtype=np.uint64)
    first, again = split(users, salt_for("a"), 10), split(users.copy(), salt_for("a"), 10)
    other = split(users, salt_for("b"), 10)
    assert np.array_equal(first, again)
    overlap = (first & other).sum() / first.sum()
    assert 0.05 < overlap < 0.15  # another salt is an independent draw: about 10% of one control is in the other


def test_holdout_members_are_the_same_in_sql_and_python(db: Database) -> None:
    version = holdouts.HoldoutVersion(9, holdouts.SALT, 5.0, 0, 500)
    sql, params = holdouts.members_sql(version)
    in_sql = db.query_arrow(sql, params).column(0).to_numpy()
    users = db.query_arrow("SELECT user_id FROM users").column(0).to_numpy()
    in_python = np.sort(users[version.contains(users)])
    assert np.array_equal(in_sql, in_python)
    assert 0.03 < len(in_sql) / len(users) < 0.07


def test_a_changed_holdout_is_a_new_version_and_every_version_stays_queryable(scratch_store: Database) -> None:
    first = holdouts.current(scratch_store, 5, by="anna")
    assert holdouts.current(scratch_store, 5, by="boris") == first  # unchanged share: the same version
    grown = holdouts.current(scratch_store, 8, by="anna")
    assert grown.version == first.version + 1 and grown.bucket_to == 800
    assert [v.percent for v in holdouts.versions(scratch_store)] == [5.0, 8.0]
    users = np.arange(1, 200_001, dtype=np.uint64)
    assert not (first.contains(users) & ~grown.contains(users)).any()  # growing keeps everyone held out before
    assert holdouts.versions(scratch_store)[0] == first


@pytest.mark.parametrize("percent", [0.5, 16, -1])
def test_a_holdout_outside_1_to_15_percent_is_refused(scratch_store: Database, percent: float) -> None:
    with pytest.raises(Exception, match="between 1% and 15%"):
        holdouts.current(scratch_store, percent, by="anna")


def test_the_vectorized_buckets_equal_the_plain_python_reference() -> None:
    users = np.random.default_rng(3).integers(0, 2**64 - 1, 2_000, dtype=np.uint64, endpoint=True)
    for salt in (0, salt_for("x"), 2**64 - 1):
        assert buckets(users, salt).tolist() == [bucket_of(int(user), salt) for user in users]


def test_analytics_holdout_lists_the_versions(scratch_store: Database) -> None:
    import subprocess
    import sys

    holdouts.current(scratch_store, 5, by="anna")
    holdouts.current(scratch_store, 7, by="anna")
    done = subprocess.run([sys.executable, "-m", "analytics.cli", "holdout", "--url", scratch_store.url],
                          capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[0].startswith("version 1: 5% of users (buckets 0-499 under salt")
    assert done.stdout.splitlines()[1].startswith("version 2: 7% of users (buckets 0-699")
