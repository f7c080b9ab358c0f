"""Reading a CRL's entries with database aggregates (registry.db.crl_entries.entries) gives exactly the bytes,
in the same order, that reading them row by row gives: full CRLs (small, and large = id ranges, on
several connections on PostgreSQL), shards, with and without the expired-entry cutoff."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3

import pytest
from sqlalchemy import delete, func, insert, select

from registry.db import crl_entries
from registry.db.models import Authority, Certificate, Revocation
from registry.domain.states import CertificateStatus
from registry.pki import crl
from registry.pki.keys import Algorithm
from registry.services import crl_publish
from registry.services.context import ServiceContext
from registry.services.crls import files as crl_files
from tests.support.data import ADMIN, NOW

SHARDS = 5


def _load(ctx: ServiceContext) -> dict[str, int]:
    """~300 revocations of two issuers, interleaved, over 5 shards, a third of them expired before
    NOW, with gaps in the ids (released holds)."""
    with ctx.transaction() as s:
        ids = {
            name: i
            for name, i in s.execute(
                select(Authority.name, Authority.id).where(Authority.name.in_(("sm2-issuing", "ecdsa-issuing")))
            )
        }
        conn = s.connection()
        for i in range(300):
            issuer = ids["sm2-issuing"] if i % 4 else ids["ecdsa-issuing"]
            sn = int.from_bytes(os.urandom(16), "big") >> 1 | (1 << 126)
            not_after = NOW + dt.timedelta(days=(-30 if i % 3 == 0 else 300))
            cid = conn.execute(
                insert(Certificate).values(
                    issuer_id=issuer,
                    serial=format(sn, "x"),
                    kind="holder",
                    subject="t",
                    algorithm=Algorithm.SM2,
                    shard=sn % SHARDS,
                    not_before=NOW - dt.timedelta(days=400),
                    not_after=not_after,
                    der=b"",
                    key_fingerprint="",
                    status=CertificateStatus.REVOKED,
                    created_at=NOW,
                )
            ).inserted_primary_key[0]
            reason = [crl.CrlReason.KEY_COMPROMISE, crl.CrlReason.CERTIFICATE_HOLD, None][i % 3]
            invalidity = NOW - dt.timedelta(days=2) if i % 5 == 0 else None
            conn.execute(
                insert(Revocation).values(
                    certificate_id=cid,
                    issuer_id=issuer,
                    shard=sn % SHARDS,
                    reason=int(reason or 0),
                    revoked_at=NOW - dt.timedelta(days=1),
                    invalidity_date=invalidity,
                    not_after=not_after,
                    entry_der=crl.encode_entry(sn, NOW - dt.timedelta(days=1), reason, invalidity),
                )
            )
        gone = list(
            s.scalars(
                select(Revocation.id).order_by(Revocation.id).offset(40).limit(300).where(Revocation.id % 17 == 0)
            )
        )
        conn.execute(delete(Revocation).where(Revocation.id.in_(gone)))
    return ids


def _row_by_row(
    conn,
    issuer_id: int,
    shard: int | None,
    cutoff: dt.datetime | None,  # type: ignore[no-untyped-def]
    order_by_id: bool = False,
) -> tuple[bytes, int]:
    """The row-by-row read the aggregates replaced: the same statement, one bytes object per row."""
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = f"SELECT entry_der FROM revocations{' NOT INDEXED' if sqlite and shard is None else ''} WHERE issuer_id = {mark}"
    params: list[object] = [issuer_id]
    if shard is not None:
        sql += f" AND shard = {mark}"
        params.append(shard)
    if cutoff is not None:
        to_db = Revocation.__table__.c.not_after.type.bind_processor(conn.dialect)
        sql += f" AND not_after >= {mark}"
        params.append(to_db(cutoff) if to_db else cutoff)
    if order_by_id:
        sql += " ORDER BY id"
    return crl_entries.fetch(conn.connection.driver_connection.cursor(), sql, params)


@pytest.mark.parametrize("ranges", [False, True], ids=["one-read", "id-ranges"])
def test_aggregated_entries_equal_the_row_by_row_read(ctx: ServiceContext, monkeypatch, ranges: bool) -> None:  # type: ignore[no-untyped-def]
    ids = _load(ctx)
    if ranges:  # the large-CRL path on a small table: many ranges, dealt to 4 connections on PostgreSQL
        monkeypatch.setattr(crl_entries, "PARALLEL_MIN_ROWS", 1)
        monkeypatch.setattr(crl_entries, "PG_CHUNK_IDS", 7)
        monkeypatch.setattr(crl_entries, "SQLITE_CHUNK_IDS", 7)
    seen = 0
    with ctx.reader() as s:
        crl_entries.snapshot(s)
        conn = s.connection()
        for issuer_id in ids.values():
            for cutoff in (None, NOW):
                full = crl_entries.entries(conn, issuer_id, None, cutoff)
                assert full == _row_by_row(conn, issuer_id, None, cutoff)
                assert full == _row_by_row(conn, issuer_id, None, cutoff, order_by_id=True)
                if cutoff is None:
                    seen += full[1]
                for shard in range(SHARDS):
                    assert crl_entries.entries(conn, issuer_id, shard, cutoff) == _row_by_row(
                        conn, issuer_id, shard, cutoff
                    )
            # the cutoff leaves out exactly the expired certificates
            kept = crl_entries.entries(conn, issuer_id, None, NOW)[1]
            expired = s.scalar(
                select(func.count())
                .select_from(Revocation)
                .where(Revocation.issuer_id == issuer_id, Revocation.not_after < NOW)
            )
            assert kept == crl_entries.entries(conn, issuer_id, None, None)[1] - expired and expired > 0
        assert seen == s.scalar(select(func.count()).select_from(Revocation))


def test_an_issuer_without_entries_reads_as_empty(ctx: ServiceContext, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(crl_entries, "PARALLEL_MIN_ROWS", 1)
    with ctx.reader() as s:
        crl_entries.snapshot(s)
        issuer_id = s.scalar(select(Authority.id).where(Authority.name == "sm2-issuing"))
        assert crl_entries.entries(s.connection(), issuer_id, None, NOW) == (b"", 0)
        assert crl_entries.entries(s.connection(), issuer_id, 3, None) == (b"", 0)


def test_a_sqlite_database_not_in_utf8_is_read_row_by_row() -> None:
    """group_concat hands blobs through as text, which a UTF-16 database would transcode."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    con.execute("PRAGMA encoding = 'UTF-16le'")
    con.execute("CREATE TABLE revocations (id INTEGER PRIMARY KEY, issuer_id INT, shard INT, entry_der BLOB)")
    entries = [crl.encode_entry(n * 977, NOW, crl.CrlReason.KEY_COMPROMISE) for n in range(1, 50)]
    con.executemany(
        "INSERT INTO revocations (issuer_id, shard, entry_der) VALUES (1, ?, ?)",
        [(i % 3, e) for i, e in enumerate(entries)],
    )
    where = "FROM revocations NOT INDEXED WHERE issuer_id = ?"
    assert crl_entries.sqlite_entries(con, "revocations", where, [1], full=True) == (b"".join(entries), 49)


def test_the_number_of_a_published_file_is_read_from_a_mapping(ctx: ServiceContext, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """write_atomically compares numbers with crl_number_of_file, which maps the file and peeks."""
    import mmap

    published = {p.path: p for p in crl_publish.publish(ctx, ADMIN)}
    path = ctx.settings.publish_dir / "sm2-issuing.crl"
    data = path.read_bytes()
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert crl.peek(mapped) == crl.peek(data) == crl.peek(memoryview(data)) == crl.peek(bytearray(data))
    assert crl_files.crl_number_of_file(path) == published["sm2-issuing.crl"].number
    for name, content in (
        ("empty.crl", b""),
        ("garbage.crl", b"garbage"),
        ("cut.crl", data[:60]),
        ("trailing.crl", data + b"\x00"),
    ):
        (tmp_path / name).write_bytes(content)
        assert crl_files.crl_number_of_file(tmp_path / name) is None, name
    assert crl_files.crl_number_of_file(tmp_path / "absent.crl") is None
