"""Object storage (UC-04): buckets and objects on Swift, one Swift account per project.

Rules held here (the driver only talks to Swift):
- bucket names: 3–63 of ``a-z 0-9 -``, starting and ending with a letter or digit; checked
  before anything is sent to Swift (422 ``storage.bucket_name_invalid``); a name already used
  in the project → 409 ``storage.bucket_exists``. Other projects' buckets are invisible (404).
- object keys: any UTF-8 up to 1024 bytes, not empty, no NUL (422).
- quotas: ``buckets`` (count) and ``bucket_bytes`` (bytes over all the project's buckets),
  enforced here, deterministically: an upload reserves its Content-Length (or, chunked, the
  room left) under the project's advisory lock before a byte goes to Swift; stored bytes plus
  uploads in flight can never exceed the limit (403 ``storage.quota_exceeded``).
- ``storage.max_object_bytes`` caps one object (413).
- Swift unreachable → 503 ``storage.unavailable``; nothing is lost or half-recorded.
- every operation records the Swift requests it made (``storage_activity``) for the console.

CONTRACT (filled in by the storage service; pages and API handlers rely on these signatures):

    create_bucket(project_id, name) -> dict                   # bucket dict, see below
    list_buckets(project_id, limit=500, cursor=None) -> dict  # {"items": [bucket dict], "next"}, newest first
    get_bucket(project_id, name) -> dict                      # NotFoundError when not this project's
    delete_bucket(project_id, name, force=False) -> None      # 409 storage.bucket_not_empty unless force
    list_objects(project_id, name, prefix="", delimiter=None, cursor=None, limit=500) -> dict
        # {"items": [object dict], "prefixes": ["photos/2024/"], "next": cursor str | None}
    put_object(project_id, name, key, body, length, content_type) -> dict   # object dict
    head_object(project_id, name, key) -> dict                # object dict; NotFoundError
    open_object(project_id, name, key, range_header=None, if_none_match=None) -> ObjectDownload
    delete_object(project_id, name, key) -> None              # NotFoundError when missing
    share(project_id, name, key, expires_in) -> dict          # {"path": "/shared/…?temp_url_sig=…",
                                                              #  "expires_at": datetime, "expires_in": int}
    open_shared(account, name, key, query_string, range_header=None, if_none_match=None) -> ObjectDownload
    usage(project_id, conn=None) -> {"buckets": n, "bucket_bytes": n}   # from the database, no Swift call
    summary(project_id) -> {"buckets": n, "bytes": n}          # dashboard card; asks Swift (fails when down)
    activity(project_id, name=None, limit=10) -> list[dict]   # {"operation", "bucket", "key", "at",
                                                              #  "calls": [{"method","path","status","ms"}]}
    last_calls() -> list[dict]                                # this thread's last operation's Swift calls

    bucket dict: {"id", "name", "object_count", "bytes", "created_at"}
    object dict: {"key", "size", "etag", "content_type", "last_modified"}
"""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import BinaryIO, Iterable, Iterator
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import psycopg
from psycopg.types.json import Jsonb

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.drivers.storage.base import (ContainerNotEmpty, NotFound, ObjectDownload, ObjectInfo,
                                            StorageDriver, StorageError, StorageUnavailable, TempUrlRejected)
from minicloud.errors import (ApiError, BadRequest, Conflict, Forbidden, NotFoundError, PayloadTooLarge, ServiceUnavailable,
                              ValidationFailed)
from minicloud.services.pagination import MAX_LIMIT, Keyset, decode_cursor, encode_cursor
from minicloud.services.storage_rules import (BodyBroken, CappedBody, OverLimit, guess_content_type, iso_time,
                                              key_problem, valid_bucket_name)

MAX_LIST_LIMIT = 1000
ACTIVITY_KEPT = 50
CALLS_KEPT = 100          # one force delete may make thousands of calls: keep the first ones
TEMP_URL_PARAMS = ("temp_url_sig", "temp_url_expires")
_BUCKET_COLUMNS = "id, project_id, name, account, object_count, bytes_used, created_at"
_BUCKET_ORDER = Keyset((("created_at", "time", "created_at"), ("id", "uuid", "id")), descending=True)


class StorageQuotaExceeded(Forbidden):
    code = "quota_exceeded"


def _object_dict(info: ObjectInfo) -> dict:
    return {"key": info.key, "size": info.size, "etag": info.etag, "content_type": info.content_type,
            "last_modified": iso_time(info.last_modified)}


def _bucket_dict(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "object_count": int(row["object_count"]),
            "bytes": int(row["bytes_used"]), "created_at": row["created_at"]}


class Storage:
    """Buckets and objects of projects; see the module docstring for the rules and the CONTRACT."""

    def __init__(self, db: Database, config: Config, driver: StorageDriver, quotas):
        self.db = db
        self.config = config
        self.driver = driver
        self.quotas = quotas
        self._local = threading.local()

    # -- settings -------------------------------------------------------------
    @property
    def max_object_bytes(self) -> int:
        return int(self.config.get("storage.max_object_bytes"))

    @property
    def share_max_seconds(self) -> int:
        return int(self.config.get("storage.share_max_seconds"))

    # -- Swift calls and what they are recorded as ----------------------------
    @contextmanager
    def _operation(self, project_id: uuid.UUID | None, operation: str, bucket: str | None = None,
                   key: str | None = None) -> Iterator[list]:
        """Collects the Swift calls made inside; records them (also when the operation fails)."""
        calls: list[dict] = []
        self._local.calls = calls
        try:
            yield calls
        finally:
            if project_id is not None:
                self._record(project_id, operation, bucket, key, calls)

    def _swift(self, fn, *args, **kwargs):
        """Call the driver; collect its Swift calls; Swift unreachable becomes 503 storage.unavailable."""
        try:
            return fn(*args, **kwargs)
        except StorageUnavailable:
            raise ServiceUnavailable("storage.unavailable", code="storage_unavailable") from None
        except (NotFound, ContainerNotEmpty, TempUrlRejected):
            raise
        except StorageError as exc:
            if exc.status == 416:
                raise
            if exc.status == 400:  # the body was shorter or longer than its Content-Length
                raise BadRequest("error.bad_request") from None
            raise ApiError("storage.swift_error", code="storage_error", status=502, status_code=exc.status) from None
        finally:
            collected = getattr(self._local, "calls", None)
            if collected is not None:
                collected.extend(call.as_dict() for call in (self.driver.last_calls or []))

    def _record(self, project_id, operation: str, bucket: str | None, key: str | None, calls: list[dict]) -> None:
        kept = calls[:CALLS_KEPT]
        if len(calls) > CALLS_KEPT:
            kept.append({"method": "…", "path": f"(+{len(calls) - CALLS_KEPT} more)", "status": None, "ms": 0})
        try:
            with self.db.connection() as conn:
                conn.execute("INSERT INTO storage_activity (project_id, bucket, operation, object_key, calls)"
                             " VALUES (%s, %s, %s, %s, %s)", (project_id, bucket, operation, key, Jsonb(kept)))
                conn.execute("DELETE FROM storage_activity WHERE project_id = %s AND id <= ("
                             " SELECT id FROM storage_activity WHERE project_id = %s ORDER BY id DESC"
                             " OFFSET %s LIMIT 1)", (project_id, project_id, ACTIVITY_KEPT))
        except (psycopg.Error, ApiError):
            pass  # the console's history is a convenience: never fail an operation over it

    def last_calls(self) -> list[dict]:
        return list(getattr(self._local, "calls", None) or [])

    def activity(self, project_id: uuid.UUID, name: str | None = None, limit: int = 10) -> list[dict]:
        sql = "SELECT operation, bucket, object_key, at, calls FROM storage_activity WHERE project_id = %s"
        params: list = [project_id]
        if name is not None:
            sql += " AND bucket = %s"
            params.append(name)
        rows = self.db.fetchall(sql + " ORDER BY id DESC LIMIT %s", (*params, limit))
        return [{"operation": r["operation"], "bucket": r["bucket"], "key": r["object_key"], "at": r["at"],
                 "calls": r["calls"]} for r in rows]

    # -- buckets ----------------------------------------------------------------
    def _bucket_row(self, project_id: uuid.UUID, name: str, conn=None) -> dict:
        sql = f"SELECT {_BUCKET_COLUMNS} FROM buckets WHERE project_id = %s AND name = %s"
        row = (conn.execute(sql, (project_id, name)).fetchone() if conn is not None
               else self.db.fetchone(sql, (project_id, name)))
        if row is None:
            raise NotFoundError("storage.bucket_not_found", name=name)
        return row

    def create_bucket(self, project_id: uuid.UUID, name: str) -> dict:
        if not valid_bucket_name(name):
            raise ValidationFailed({"name": "storage.bucket_name_invalid"}, key="storage.bucket_name_invalid")
        account = self.driver.account_for(uuid.UUID(str(project_id)).hex)
        with self._operation(project_id, "create_bucket", name):
            with self.db.connection() as conn:
                self.quotas.lock(conn, project_id)
                limit = self.quotas.limits_in(conn, project_id).get("buckets", 0)
                used = conn.execute("SELECT count(*) AS n FROM buckets WHERE project_id = %s",
                                    (project_id,)).fetchone()["n"]
                exists = conn.execute("SELECT 1 FROM buckets WHERE project_id = %s AND name = %s",
                                      (project_id, name)).fetchone()
                if exists:
                    raise Conflict("storage.bucket_exists", code="bucket_exists", name=name)
                if used + 1 > limit:
                    raise StorageQuotaExceeded("storage.bucket_quota_exceeded", limit=limit, details={
                        "exceeded": ["buckets"], "limits": {"buckets": limit}, "usage": {"buckets": used}})
                row = conn.execute(f"INSERT INTO buckets (project_id, name, account) VALUES (%s, %s, %s)"
                                   f" RETURNING {_BUCKET_COLUMNS}", (project_id, name, account)).fetchone()
                # Inside the transaction: if Swift fails, the row is rolled back with it.
                self._swift(self.driver.ensure_account, account)
                self._swift(self.driver.create_container, account, name)
        return _bucket_dict(row)

    def list_buckets(self, project_id: uuid.UUID, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        """A page of the project's buckets, newest first, with their figures from the database."""
        page = _BUCKET_ORDER.fetch(self.db, f"SELECT {_BUCKET_COLUMNS} FROM buckets", ["project_id = %(project)s"],
                                   {"project": project_id}, limit, cursor)
        return {"items": [_bucket_dict(r) for r in page["items"]], "next": page["next"]}

    def get_bucket(self, project_id: uuid.UUID, name: str) -> dict:
        """The bucket with its figures refreshed from Swift (exact on one node)."""
        row = self._bucket_row(project_id, name)
        with self._operation(project_id, "get_bucket", name):
            return _bucket_dict(self._refresh(row) or row)

    def _refresh(self, row: dict) -> dict | None:
        """Copy the container's object count and bytes into the row; None when Swift cannot say.

        Reading Swift and writing the row happen under the project's lock, so two refreshes
        (say, after two uploads ending together) can never leave the older figures behind."""
        with self.db.connection() as conn:
            self.quotas.lock(conn, row["project_id"])
            try:
                stats = self._swift(self.driver.container_stats, row["account"], row["name"])
            except NotFound:
                return None
            return conn.execute(
                "UPDATE buckets SET object_count = %s, bytes_used = %s, synced_at = now() WHERE id = %s"
                f" RETURNING {_BUCKET_COLUMNS}", (stats.object_count, stats.bytes_used, row["id"])).fetchone()

    def _refresh_quietly(self, row: dict) -> None:
        """After an upload or delete: refresh when Swift answers; otherwise the sync job catches up."""
        try:
            self._refresh(row)
        except (ApiError, StorageError):
            pass

    def delete_bucket(self, project_id: uuid.UUID, name: str, force: bool = False) -> None:
        row = self._bucket_row(project_id, name)
        account = row["account"]
        with self._operation(project_id, "delete_bucket", name):
            for _attempt in range(5):
                if force:
                    self._empty(account, name)
                try:
                    self._swift(self.driver.delete_container, account, name)
                    break
                except ContainerNotEmpty:
                    if not force:
                        raise Conflict("storage.bucket_not_empty", code="bucket_not_empty", name=name) from None
            else:
                raise Conflict("storage.bucket_not_empty", code="bucket_not_empty", name=name)
            self.db.execute("DELETE FROM buckets WHERE id = %s", (row["id"],))

    def _empty(self, account: str, name: str) -> None:
        """Delete every object, a listing page at a time."""
        while True:
            try:
                listing = self._swift(self.driver.list_objects, account, name, limit=MAX_LIST_LIMIT)
            except NotFound:
                return
            if not listing.objects:
                return
            for entry in listing.objects:
                self._swift(self.driver.delete_object, account, name, entry.key)

    # -- objects ------------------------------------------------------------------
    def list_objects(self, project_id: uuid.UUID, name: str, prefix: str = "", delimiter: str | None = None,
                     cursor: str | None = None, limit: int = MAX_LIMIT) -> dict:
        row = self._bucket_row(project_id, name)
        marker = (decode_cursor(cursor, ("text",)) or ("",))[0]
        limit = max(1, min(int(limit), MAX_LIMIT))
        with self._operation(project_id, "list_objects", name):
            try:
                listing = self._swift(self.driver.list_objects, row["account"], name, prefix=prefix or "",
                                      delimiter=delimiter or None, marker=marker, limit=limit)
            except NotFound:
                raise NotFoundError("storage.bucket_not_found", name=name) from None
        items = [{"key": e.key, "size": e.size, "etag": e.etag, "content_type": e.content_type,
                  "last_modified": iso_time(e.last_modified)} for e in listing.objects]
        nxt = encode_cursor([listing.next_marker]) if listing.next_marker else None
        return {"items": items, "prefixes": list(listing.prefixes), "next": nxt}

    @staticmethod
    def _check_key(key: str) -> None:
        problem = key_problem(key)
        if problem:
            raise ValidationFailed({"key": problem}, key=problem)

    def put_object(self, project_id: uuid.UUID, name: str, key: str, body: BinaryIO | Iterable[bytes],
                   length: int | None, content_type: str | None) -> dict:
        """Stream ``body`` (``length`` bytes, or chunked when None) into the object, within the quotas.

        The reservation is the whole length (an overwrite reserves its full size too; the bucket's
        figures are refreshed from Swift afterwards, so nothing is counted twice once it ends).
        """
        self._check_key(key)
        limit = self.max_object_bytes
        if length is not None and length > limit:
            raise PayloadTooLarge("storage.object_too_large", limit=limit)
        row = self._bucket_row(project_id, name)
        reserved, upload_id = self._reserve(project_id, row, key, length)
        cap, reason = (length, "size") if length is not None else (
            (limit, "size") if limit <= reserved else (reserved, "quota"))
        stream = CappedBody(body, cap, reason)
        info = None
        with self._operation(project_id, "put_object", name, key):
            try:
                info = self._swift(self.driver.put_object, row["account"], name, key, stream, length,
                                   guess_content_type(key, content_type))
            except OverLimit as over:
                if over.reason == "quota":
                    raise self._quota_error(reserved, None) from None
                raise PayloadTooLarge("storage.object_too_large", limit=limit) from None
            except BodyBroken:
                raise BadRequest("storage.upload_interrupted", code="upload_interrupted") from None
            except NotFound:
                raise NotFoundError("storage.bucket_not_found", name=name) from None
            finally:
                # Ends the reservation whatever happened (if even that fails, the sync pass frees it later).
                self._settle(row, upload_id, info)
        return _object_dict(info)

    def _settle(self, row: dict, upload_id: uuid.UUID, info: ObjectInfo | None) -> None:
        """After an upload: under the project's lock, the bucket's figures from Swift and the end of the
        reservation in one transaction (no other upload ever sees neither the new bytes nor the reservation)."""
        with self.db.connection() as conn:
            self.quotas.lock(conn, row["project_id"])
            try:
                stats = self._swift(self.driver.container_stats, row["account"], row["name"])
            except (ApiError, StorageError):
                stats = None
            if stats is not None:
                conn.execute("UPDATE buckets SET object_count = %s, bytes_used = %s, synced_at = now()"
                             " WHERE id = %s", (stats.object_count, stats.bytes_used, row["id"]))
            elif info is not None:  # Swift stored it but cannot tell the totals now: count it (sync corrects)
                conn.execute("UPDATE buckets SET object_count = object_count + 1, bytes_used = bytes_used + %s"
                             " WHERE id = %s", (info.size, row["id"]))
            conn.execute("DELETE FROM storage_uploads WHERE id = %s", (upload_id,))

    def _reserve(self, project_id: uuid.UUID, row: dict, key: str, length: int | None) -> tuple[int, uuid.UUID]:
        """Under the project's lock: refuse when the upload cannot fit, else record it in flight.

        Returns (bytes reserved, reservation id): ``length``, or for a chunked upload the room left.
        """
        with self.db.connection() as conn:
            self.quotas.lock(conn, project_id)
            limit = self.quotas.limits_in(conn, project_id).get("bucket_bytes", 0)
            stored = int(conn.execute("SELECT coalesce(sum(bytes_used), 0) AS n FROM buckets WHERE project_id = %s",
                                      (project_id,)).fetchone()["n"])
            in_flight = int(conn.execute("SELECT coalesce(sum(bytes), 0) AS n FROM storage_uploads"
                                         " WHERE project_id = %s", (project_id,)).fetchone()["n"])
            room = max(0, limit - stored - in_flight)
            if length is not None and length > room:
                raise self._quota_error(length, {"limit": limit, "stored": stored, "in_flight": in_flight})
            reserved = length if length is not None else min(room, self.max_object_bytes)
            upload_id = conn.execute("INSERT INTO storage_uploads (project_id, bucket_id, object_key, bytes)"
                                     " VALUES (%s, %s, %s, %s) RETURNING id",
                                     (project_id, row["id"], key, reserved)).fetchone()["id"]
        return reserved, upload_id

    @staticmethod
    def _quota_error(requested: int, figures: dict | None) -> StorageQuotaExceeded:
        details = {"exceeded": ["bucket_bytes"], "requested": requested}
        if figures:
            details.update({"limits": {"bucket_bytes": figures["limit"]},
                            "usage": {"bucket_bytes": figures["stored"], "in_flight": figures["in_flight"]}})
        return StorageQuotaExceeded("storage.bytes_quota_exceeded", details=details)

    def head_object(self, project_id: uuid.UUID, name: str, key: str) -> dict:
        self._check_key(key)
        row = self._bucket_row(project_id, name)
        with self._operation(project_id, "head_object", name, key):
            info = self._swift(self.driver.head_object, row["account"], name, key)
        if info is None:
            raise NotFoundError("storage.object_not_found")
        return _object_dict(info)

    def open_object(self, project_id: uuid.UUID, name: str, key: str, range_header: str | None = None,
                    if_none_match: str | None = None) -> ObjectDownload:
        self._check_key(key)
        row = self._bucket_row(project_id, name)
        with self._operation(project_id, "get_object", name, key):
            return self._open(key, self.driver.get_object, row["account"], name, key,
                              range_header=range_header, if_none_match=if_none_match)

    def _open(self, key: str, fn, *args, **kwargs) -> ObjectDownload:
        try:
            return self._swift(fn, *args, **kwargs)
        except NotFound:
            raise NotFoundError("storage.object_not_found") from None
        except TempUrlRejected:
            raise Forbidden("storage.share_invalid", code="share_invalid") from None
        except StorageError as exc:
            if exc.status == 416:
                raise ApiError("storage.range_not_satisfiable", code="range_not_satisfiable", status=416) from None
            raise

    def delete_object(self, project_id: uuid.UUID, name: str, key: str) -> None:
        self._check_key(key)
        row = self._bucket_row(project_id, name)
        with self._operation(project_id, "delete_object", name, key):
            existed = self._swift(self.driver.delete_object, row["account"], name, key)
            if existed:
                self._refresh_quietly(row)
        if not existed:
            raise NotFoundError("storage.object_not_found")

    # -- share links ----------------------------------------------------------------
    def share(self, project_id: uuid.UUID, name: str, key: str, expires_in: int) -> dict:
        longest = self.share_max_seconds
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or not 1 <= expires_in <= longest:
            raise ValidationFailed({"expires_in": ("storage.share_expiry_rule", {"max": longest})})
        self._check_key(key)
        row = self._bucket_row(project_id, name)
        expires_at = int(time.time()) + expires_in
        with self._operation(project_id, "share", name, key):
            # the account carries this process's temp-URL key (a request only the first time): links
            # keep working after the reseller key or temp_url_secret was changed and the server restarted
            self._swift(self.driver.ensure_account, row["account"])
            if self._swift(self.driver.head_object, row["account"], name, key) is None:
                raise NotFoundError("storage.object_not_found")
            signed = self.driver.temp_url(row["account"], name, key, expires_at)  # contacts nothing
        query = urlsplit(signed).query
        path = "/shared/{}/{}/{}?{}".format(quote(row["account"], safe=""), quote(name, safe=""),
                                            quote(key, safe="/"), query)
        return {"path": path, "expires_at": datetime.fromtimestamp(expires_at, timezone.utc),
                "expires_in": expires_in}

    def open_shared(self, account: str, name: str, key: str, query_string: str, range_header: str | None = None,
                    if_none_match: str | None = None) -> ObjectDownload:
        """Fetch a share link from Swift as an anonymous visitor: Swift checks the signature and expiry."""
        params = [(k, v) for k, v in parse_qsl(query_string, keep_blank_values=True) if k in TEMP_URL_PARAMS]
        if {k for k, _ in params} != set(TEMP_URL_PARAMS) or key_problem(key):
            raise Forbidden("storage.share_invalid", code="share_invalid")
        path = "/v1/{}/{}/{}?{}".format(quote(account, safe=""), quote(name, safe=""), quote(key, safe="/"),
                                        urlencode(params))
        owner = self.db.fetchone("SELECT project_id FROM buckets WHERE account = %s AND name = %s", (account, name))
        with self._operation(owner["project_id"] if owner else None, "shared_download", name, key):
            return self._open(key, self.driver.get_temp_url, path, range_header=range_header,
                              if_none_match=if_none_match)

    # -- figures ----------------------------------------------------------------------
    def usage(self, project_id: uuid.UUID, conn=None) -> dict:
        return self.quotas.storage_usage(project_id, conn)

    def summary(self, project_id: uuid.UUID) -> dict:
        """The dashboard card: asks Swift about the project's account (so it fails when Swift is down);
        the figures themselves are the database's, exact where Swift's account totals lag."""
        account = self.driver.account_for(uuid.UUID(str(project_id)).hex)
        with self._operation(None, "summary"):
            self._swift(self.driver.account_stats, account)
        used = self.usage(project_id)
        return {"buckets": used["buckets"], "bytes": used["bucket_bytes"]}

    def health(self) -> dict:
        with self._operation(None, "health"):
            return self._swift(self.driver.healthcheck)

    def sync(self, limit: int = 500) -> int:
        """Refresh the least recently synced buckets' figures from Swift (the periodic job).

        Returns how many were refreshed; stops at the first sign that Swift is unreachable."""
        # An upload whose server died never ended its reservation: forget it after a while.
        self.db.execute("DELETE FROM storage_uploads WHERE started_at < now() - make_interval(secs => %s)",
                        (float(self.config.get("storage.stale_upload_seconds")),))
        rows = self.db.fetchall(f"SELECT {_BUCKET_COLUMNS} FROM buckets ORDER BY synced_at LIMIT %s", (limit,))
        with self._operation(None, "sync"):
            return self._sync_rows(rows)

    def _sync_rows(self, rows: list[dict]) -> int:
        done = 0
        for row in rows:
            try:
                with self.db.connection() as conn:
                    # Under the project's quota lock, and only when no upload is in flight in that bucket:
                    # an upload's own refresh ends its reservation in the same transaction.
                    self.quotas.lock(conn, row["project_id"])
                    if conn.execute("SELECT 1 FROM storage_uploads WHERE bucket_id = %s LIMIT 1",
                                    (row["id"],)).fetchone():
                        continue
                    stats = self._swift(self.driver.container_stats, row["account"], row["name"])
                    conn.execute("UPDATE buckets SET object_count = %s, bytes_used = %s, synced_at = now()"
                                 " WHERE id = %s", (stats.object_count, stats.bytes_used, row["id"]))
                    done += 1
            except NotFound:
                continue
            except ServiceUnavailable:
                break
        return done
