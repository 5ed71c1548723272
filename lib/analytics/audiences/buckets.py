"""Which of 10,000 buckets a user falls in under a salt: the same number in NumPy, ClickHouse 18.16 and chDB.

A bucket is ``murmurHash3_32(bitXor(user_id, salt)) mod 10000``: ClickHouse hashes the eight
little-endian bytes of the UInt64, and :func:`buckets` does the same arithmetic over whole NumPy
arrays (no Python loop), so a split decided here can be re-checked by anyone in SQL
(:func:`bucket_sql`) and a racing second writer computes identical groups. The salt is a
UInt64: derived from the sub_id (:func:`salt_for`) unless given, and stored with the audience.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..db.sql import Identifier, compose

BUCKETS = 10_000
_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
_M1, _M2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)


def salt_for(text: str) -> int:
    """A UInt64 salt derived from text (a sub_id): the first 8 bytes of its SHA-256, big-endian."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _rotl(values: np.ndarray, bits: int) -> np.ndarray:
    return (values << np.uint32(bits)) | (values >> np.uint32(32 - bits))


def murmur3_32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3 x86_32 (seed 0) of each UInt64's 8 little-endian bytes, as ClickHouse's ``murmurHash3_32(UInt64)``."""
    values = np.ascontiguousarray(values, dtype=np.uint64)
    with np.errstate(over="ignore"):
        hashed = np.zeros(values.shape, dtype=np.uint32)
        for block in ((values & np.uint64(0xFFFFFFFF)).astype(np.uint32), (values >> np.uint64(32)).astype(np.uint32)):
            block = _rotl(block * _C1, 15) * _C2
            hashed = _rotl(hashed ^ block, 13) * np.uint32(5) + np.uint32(0xE6546B64)
        hashed ^= np.uint32(8)
        hashed ^= hashed >> np.uint32(16)
        hashed *= _M1
        hashed ^= hashed >> np.uint32(13)
        hashed *= _M2
        hashed ^= hashed >> np.uint32(16)
    return hashed


def buckets(user_ids: np.ndarray, salt: int) -> np.ndarray:
    """The bucket (0..9999) of every user under ``salt``, as uint16."""
    mixed = np.asarray(user_ids, dtype=np.uint64) ^ np.uint64(salt)
    return (murmur3_32(mixed) % np.uint32(BUCKETS)).astype(np.uint16)


def bucket_sql(user_id: Identifier, salt_param: str = "salt") -> str:
    """The same bucket in SQL, for a checked column and a bound ``%(salt)s`` parameter."""
    if not salt_param.isidentifier():
        raise ValueError(f"not a parameter name: {salt_param!r}")
    return compose("modulo(murmurHash3_32(bitXor(toUInt64({u}), toUInt64(%(" + salt_param + ")s))), 10000)", u=user_id)


def in_ranges(bucket: np.ndarray, ranges: list[tuple[int, int]]) -> np.ndarray:
    """Whether each bucket lies in one of the half-open ranges [start, stop)."""
    inside = np.zeros(bucket.shape, dtype=bool)
    for start, stop in ranges:
        inside |= (bucket >= start) & (bucket < stop)
    return inside
