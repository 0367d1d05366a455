"""Staff accounts: users, teams, passwords (argon2id), API tokens and login throttling."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, ForeignKey, String, Table, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from townhall.core.db import Base, UTCDateTime, utcnow
from townhall.core.errors import Conflict, InvalidInput, NotFound, Throttled
from townhall.core.permissions import Role, role_has

TOKEN_PREFIX = "th_"  # noqa: S105 - a marker, not a secret
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD_LENGTH = 12

user_teams = Table(
    "user_teams",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    teams: Mapped[list[Team]] = relationship(secondary=user_teams, lazy="selectin")

    def can(self, permission: str) -> bool:
        return self.active and role_has(self.role, permission)

    @property
    def team_ids(self) -> set[int]:
        return {team.id for team in self.teams}


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # Tokens are 256 random bits, so a plain SHA-256 is enough; no slow hash is needed.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(lazy="joined")


class LoginFailure(Base):
    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


@lru_cache(maxsize=4)
def password_hasher(time_cost: int = 3, memory_kib: int = 65536) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def check_password_strength(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"Password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if username.lower() in password.lower():
        raise InvalidInput("Password must not contain the username.")


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise InvalidInput(
            "Username must be 2 to 63 characters: lower-case letters, digits, '.', '_' or '-'."
        )
    return name


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
    teams: list[Team] | None = None,
    hasher: PasswordHasher | None = None,
) -> User:
    name = normalise_username(username)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(Role)}.") from None
    if role is Role.PUBLIC:
        raise InvalidInput("The public role is for citizens, who do not sign in.")
    check_password_strength(password, name)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise Conflict(f"A user called {name!r} already exists.")
    user = User(
        username=name,
        display_name=display_name or name,
        role=role.value,
        password_hash=(hasher or password_hasher()).hash(password),
        teams=list(teams or []),
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str, hasher: PasswordHasher) -> None:
    check_password_strength(password, user.username)
    user.password_hash = hasher.hash(password)
    session.flush()


@dataclass(frozen=True)
class Throttle:
    max_failures: int
    window_seconds: int


def _recent_failures(session: Session, username: str, throttle: Throttle) -> int:
    since = utcnow() - dt.timedelta(seconds=throttle.window_seconds)
    query = select(func.count(LoginFailure.id)).where(
        LoginFailure.username == username, LoginFailure.at >= since
    )
    return int(session.scalar(query) or 0)


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    client: str,
    hasher: PasswordHasher,
    throttle: Throttle,
) -> User | None:
    """The active user with these credentials, or None.

    Raises Throttled once an account has had too many recent failures, before checking the
    password, so guessing cannot go on even with the right password in the list.
    """
    name = username.strip().lower()[:64]
    if _recent_failures(session, name, throttle) >= throttle.max_failures:
        raise Throttled(
            "Too many failed sign-in attempts. Wait "
            f"{max(1, throttle.window_seconds // 60)} minutes before trying again."
        )
    user = session.scalar(select(User).where(User.username == name))
    ok = False
    if user is not None and user.active:
        try:
            ok = hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        # Spend the same time as a real check so timing does not reveal which usernames exist.
        hasher.hash(password)
    if not ok or user is None:
        session.add(LoginFailure(username=name, client=client[:64]))
        session.flush()
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = utcnow()
    session.flush()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; the plain value is returned once and never stored."""
    label = name.strip()
    if not 1 <= len(label) <= 100:
        raise InvalidInput("Give the token a name of 1 to 100 characters.")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=label, token_hash=_digest(plain), prefix=plain[:10])
    session.add(token)
    session.flush()
    return token, plain


def user_for_token(session: Session, plain: str) -> User | None:
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    token.last_used_at = utcnow()
    return token.user


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != user.id and not user.can("users:manage")):
        raise NotFound("No such API token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
    return list(session.scalars(query))


def team_by_slug(session: Session, slug: str) -> Team:
    team = session.scalar(select(Team).where(Team.slug == slug))
    if team is None:
        raise NotFound(f"No team called {slug!r}.")
    return team
