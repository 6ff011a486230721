"""Key pairs: OpenSSH public keys a mini PC's default user accepts, per project.

An imported key is checked by decoding its base64 blob and reading the key type
embedded in it (ssh-ed25519, ssh-rsa of at least 2048 bits, ecdsa-sha2-nistp*);
a generated ed25519 pair returns its private key once and never stores it.
Fingerprints are ``SHA256:<base64>`` as ``ssh-keygen -l`` prints them.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import uuid

import psycopg.errors

from minicloud.db.pool import Database
from minicloud.errors import Conflict, NotFoundError, ValidationFailed
from minicloud.services.pagination import MAX_LIMIT, Keyset

COLUMNS = "id, project_id, name, public_key, fingerprint, created_at"
_ORDER = Keyset((("name", "text", "name"), ("id", "uuid", "id")))
ECDSA_CURVES = {"ecdsa-sha2-nistp256": "nistp256", "ecdsa-sha2-nistp384": "nistp384",
                "ecdsa-sha2-nistp521": "nistp521"}
ED25519 = "ssh-ed25519"
RSA = "ssh-rsa"
MIN_RSA_BITS = 2048


class InvalidKey(ValueError):
    """The text is not an acceptable OpenSSH public key (the message is a catalog key)."""


def _strings(blob: bytes):
    """The length-prefixed strings of an SSH wire-format blob, in order."""
    pos = 0
    while pos < len(blob):
        if pos + 4 > len(blob):
            raise InvalidKey("keypair.invalid_key")
        (length,) = struct.unpack(">I", blob[pos:pos + 4])
        pos += 4
        if pos + length > len(blob):
            raise InvalidKey("keypair.invalid_key")
        yield blob[pos:pos + length]
        pos += length


def parse_public_key(text: str) -> tuple[str, bytes, str]:
    """(type, blob, normalised "type base64 [comment]") of an OpenSSH public key line; raises InvalidKey."""
    parts = text.strip().split(None, 2)
    if len(parts) < 2 or "\n" in text.strip():
        raise InvalidKey("keypair.invalid_key")
    kind, encoded = parts[0], parts[1]
    if kind not in (ED25519, RSA, *ECDSA_CURVES):
        raise InvalidKey("keypair.unsupported_type")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey("keypair.invalid_key") from None
    fields = list(_strings(blob))
    if not fields or fields[0] != kind.encode():
        raise InvalidKey("keypair.invalid_key")
    if kind == ED25519:
        if len(fields) != 2 or len(fields[1]) != 32:
            raise InvalidKey("keypair.invalid_key")
    elif kind == RSA:
        if len(fields) != 3:
            raise InvalidKey("keypair.invalid_key")
        modulus = int.from_bytes(fields[2], "big")
        if modulus.bit_length() < MIN_RSA_BITS:
            raise InvalidKey("keypair.rsa_too_short")
    else:
        if len(fields) != 3 or fields[1] != ECDSA_CURVES[kind].encode() or not fields[2].startswith(b"\x04"):
            raise InvalidKey("keypair.invalid_key")
    normalised = f"{kind} {encoded}" + (f" {parts[2].strip()}" if len(parts) > 2 and parts[2].strip() else "")
    return kind, blob, normalised


def fingerprint(blob: bytes) -> str:
    """``SHA256:…`` exactly as ``ssh-keygen -lf`` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def generate_ed25519(comment: str) -> tuple[str, str]:
    """A new ed25519 pair: (OpenSSH private key, public key line)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return private, f"{public} {comment}".strip()


class KeyPairs:
    def __init__(self, db: Database):
        self.db = db

    def list(self, project_id: uuid.UUID, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        """A page of the project's key pairs (public keys only), by name."""
        return _ORDER.fetch(self.db, f"SELECT {COLUMNS} FROM keypairs", ["project_id = %(project)s"],
                            {"project": project_id}, limit, cursor)

    def get(self, project_id: uuid.UUID, keypair_id: uuid.UUID, conn=None) -> dict:
        sql, params = f"SELECT {COLUMNS} FROM keypairs WHERE id = %s AND project_id = %s", (keypair_id, project_id)
        row = conn.execute(sql, params).fetchone() if conn is not None else self.db.fetchone(sql, params)
        if row is None:
            raise NotFoundError("keypair.not_found")
        return row

    def create(self, project_id: uuid.UUID, name: str, public_key: str | None) -> dict:
        """Import ``public_key``, or generate a pair when it is None (the answer then carries ``private_key``)."""
        private = None
        if public_key is None:
            private, public_key = generate_ed25519(name)
        try:
            _, blob, public_key = parse_public_key(public_key)
        except InvalidKey as exc:
            raise ValidationFailed({"public_key": str(exc)}, key=str(exc)) from None
        try:
            row = self.db.fetchone(
                f"INSERT INTO keypairs (project_id, name, public_key, fingerprint) VALUES (%s, %s, %s, %s)"
                f" RETURNING {COLUMNS}", (project_id, name, public_key, fingerprint(blob)))
        except psycopg.errors.UniqueViolation:
            raise Conflict("keypair.name_taken", code="name_taken", name=name) from None
        if private is not None:
            row["private_key"] = private
        return row

    def delete(self, project_id: uuid.UUID, keypair_id: uuid.UUID) -> None:
        if not self.db.execute("DELETE FROM keypairs WHERE id = %s AND project_id = %s", (keypair_id, project_id)):
            raise NotFoundError("keypair.not_found")
