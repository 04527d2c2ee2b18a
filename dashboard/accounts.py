"""What the dashboard keeps about who signs in, in the state store (tables in state/schema.py):

- the session generation: every session cookie carries the generation it was signed in under;
  `custody dashboard revoke-sessions` raises it, so every session ends at once, in every replica;
- sign-outs: a signed-out session's id until the cookie would have expired anyway, so the same
  cookie replayed is refused, after a restart too;
- read-only API tokens: `custody dashboard token create --name splunk` prints a token once and keeps
  only its SHA-256 (a token is 256 random bits: a slow hash would add nothing); revoked by name;
- the audit trail: sign-ins (and refusals), sign-outs, exports, evidence reports and token and
  session administration, each with the named user (or `token:<name>`, or `cli`).

These are the only rows the dashboard writes; everything else in the state store it only reads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from scanner.clock import now, now_iso
from scanner.errors import InputError
from state.schema import (
    dashboard_audit_table,
    dashboard_generation_table,
    dashboard_signouts_table,
    dashboard_tokens_table,
)
from state.store import StateStore

TOKEN_PREFIX = "custody_"
TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_DETAIL = 2000


@dataclass(frozen=True)
class Token:
    name: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """The sign-in rows of one state store."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    # ---- sessions ----------------------------------------------------------------------------------

    def generation(self) -> int:
        with self.state.reading() as conn:
            value = conn.scalar(select(dashboard_generation_table.c.generation).where(
                dashboard_generation_table.c.id == 1))
        return int(value or 0)

    def revoke_sessions(self, by: str = "cli") -> int:
        """End every session signed in so far; return the new generation."""
        g = dashboard_generation_table.c
        with self.state.writing() as conn:
            current = conn.scalar(select(g.generation).where(g.id == 1))
            if current is None:
                conn.execute(insert(dashboard_generation_table).values(id=1, generation=1, changed_at=now_iso()))
                new = 1
            else:
                new = int(current) + 1
                conn.execute(update(dashboard_generation_table).where(g.id == 1)
                             .values(generation=new, changed_at=now_iso()))
            self._audit(conn, by, "revoke_sessions", f"generation {new}")
        return new

    def session_valid(self, session_id: str, generation: object) -> bool:
        """Whether a session made under `generation` still holds: the generation is current, not signed out."""
        g, s = dashboard_generation_table.c, dashboard_signouts_table.c
        with self.state.reading() as conn:
            current = int(conn.scalar(select(g.generation).where(g.id == 1)) or 0)
            if generation != current:
                return False
            return conn.scalar(select(s.session_id).where(s.session_id == session_id)) is None

    def sign_out(self, session_id: str, user: str, max_age_seconds: int) -> None:
        """Remember a signed-out session until its cookie expires; forget the ones already expired."""
        s = dashboard_signouts_table.c
        expires = now_iso(now() + dt.timedelta(seconds=max_age_seconds))
        with self.state.writing() as conn:
            conn.execute(delete(dashboard_signouts_table).where(s.expires_at < now_iso()))
            if conn.scalar(select(s.session_id).where(s.session_id == session_id)) is None:
                conn.execute(insert(dashboard_signouts_table).values(session_id=session_id, expires_at=expires))
            self._audit(conn, user, "signout", None)

    # ---- API tokens --------------------------------------------------------------------------------

    def create_token(self, name: str) -> str:
        """A new read-only token named `name`, returned once; only its hash is stored."""
        if not TOKEN_NAME.match(name or ""):
            raise InputError(f"--name: '{name}' is not a token name (letters, digits, '.', '_', '-'; at most 64)")
        t = dashboard_tokens_table.c
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.state.writing() as conn:
            existing = conn.execute(select(t.revoked_at).where(t.name == name)).first()
            if existing is not None and existing.revoked_at is None:
                raise InputError(f"--name: a token named '{name}' exists; revoke it first "
                                 f"(custody dashboard token revoke --name {name})")
            if existing is not None:
                conn.execute(delete(dashboard_tokens_table).where(t.name == name))
            conn.execute(insert(dashboard_tokens_table).values(name=name, token_hash=token_hash(token),
                                                               created_at=now_iso()))
            self._audit(conn, "cli", "token_create", name)
        return token

    def revoke_token(self, name: str) -> None:
        t = dashboard_tokens_table.c
        with self.state.writing() as conn:
            found = conn.execute(
                update(dashboard_tokens_table).where(t.name == name, t.revoked_at.is_(None))
                .values(revoked_at=now_iso())
            ).rowcount
            if not found:
                raise InputError(f"--name: no valid token named '{name}' (custody dashboard token list shows them)")
            self._audit(conn, "cli", "token_revoke", name)

    def tokens(self) -> list[Token]:
        t = dashboard_tokens_table.c
        with self.state.reading() as conn:
            rows = conn.execute(select(t.name, t.created_at, t.last_used_at, t.revoked_at).order_by(t.name)).all()
        return [Token(*row) for row in rows]

    def token_name(self, token: str) -> str | None:
        """The name of a valid token, noting its use; None for an unknown or revoked one."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        t = dashboard_tokens_table.c
        digest = token_hash(token)
        with self.state.reading() as conn:
            found = conn.execute(select(t.name, t.last_used_at).where(t.token_hash == digest,
                                                                       t.revoked_at.is_(None))).first()
        if found is None:
            return None
        used = now_iso()
        if found.last_used_at != used:  # at most one write a second per token
            with self.state.writing() as conn:
                conn.execute(update(dashboard_tokens_table).where(t.name == found.name).values(last_used_at=used))
        return found.name

    # ---- the audit trail ---------------------------------------------------------------------------

    def audit(self, user: str, action: str, detail: str | None = None) -> None:
        with self.state.writing() as conn:
            self._audit(conn, user, action, detail)

    def trail(self, limit: int = 100) -> list[dict]:
        """The latest audit entries, newest first."""
        a = dashboard_audit_table.c
        with self.state.reading() as conn:
            rows = conn.execute(select(a.at, a.actor.label("user"), a.action, a.detail).order_by(a.id.desc())
                                .limit(limit))
            return [dict(row._mapping) for row in rows]

    @staticmethod
    def _audit(conn, user: str, action: str, detail: str | None) -> None:
        conn.execute(insert(dashboard_audit_table).values(
            at=now_iso(), actor=user[:256], action=action, detail=detail[:MAX_DETAIL] if detail else None))
