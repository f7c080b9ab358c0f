"""The rules a new password must meet (staff and authorised persons), and its hash (argon2id).

At least 12 characters, not the current one, not containing the username, and strong by zxcvbn's
estimate (score 3 of 4: it knows common passwords, dictionary words, keyboard patterns, dates,
repetition such as ``aaaaaaaaaaaa`` and sequences such as ``abcdefghijkl``). Each refusal has its
own code, so the page says exactly what to change.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..domain.errors import M, ValidationError

__all__ = ["MIN_LENGTH", "MIN_SCORE", "check_new", "configure", "hash_password", "verify_password", "dummy_work"]

MIN_LENGTH = 12
MIN_SCORE = 3

_hasher = PasswordHasher()  # argon2id; the parameters come from the settings (configure)
_DUMMY_PASSWORD = "a password nobody has, to spend the same time on unknown accounts"
_DUMMY = _hasher.hash(_DUMMY_PASSWORD)


def configure(*, time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Hash new passwords with these argon2id parameters (``Settings.argon2_*``; the service
    context calls this when it is created). Stored hashes carry their own parameters and verify
    whatever these are; the dummy hash used for unknown accounts follows, so they cost the same."""
    global _hasher, _DUMMY
    wanted = (time_cost, memory_kib, parallelism)
    if (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism) == wanted:
        return
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    _DUMMY = _hasher.hash(_DUMMY_PASSWORD)


TOO_SHORT = M(
    "password.too_short", "the new password must have at least {min} characters", "新密码至少需要 {min} 个字符"
)
TOO_LONG = M("password.too_long", "the new password may have at most 256 characters", "新密码最多 256 个字符")
SAME = M("password.same_as_current", "the new password must differ from the current one", "新密码不能与当前密码相同")
HAS_USERNAME = M("password.contains_username", "the new password must not contain the username", "新密码不能包含用户名")
WEAK = M(
    "password.too_weak",
    "the new password is too easy to guess ({why}): use a longer passphrase of unrelated words",
    "新密码太容易被猜到（{why}）：请使用由几个不相关的词组成的更长的口令",
)

_WHY = {
    "repeat": M("password.pattern.repeat", "repeated characters", "重复的字符"),
    "sequence": M("password.pattern.sequence", "a sequence such as abcd or 1234", "abcd、1234 一类的连续序列"),
    "dictionary": M("password.pattern.dictionary", "a common password or word", "常见密码或常用词"),
    "spatial": M("password.pattern.spatial", "a keyboard pattern", "键盘上相邻的按键"),
    "date": M("password.pattern.date", "a date", "日期"),
    "regex": M("password.pattern.regex", "a predictable pattern", "可预测的模式"),
}


class WeakPassword(ValidationError):
    """A new password that breaks a rule (the message names which)."""


def check_new(new: str, *, current: str | None = None, username: str | None = None) -> None:
    """Raise :class:`WeakPassword` unless ``new`` meets every rule."""
    new = new or ""
    if len(new) < MIN_LENGTH:
        raise WeakPassword(TOO_SHORT, min=MIN_LENGTH)
    if len(new) > 256:
        raise WeakPassword(TOO_LONG)
    if current is not None and new == current:
        raise WeakPassword(SAME)
    if username and username.lower() in new.lower():
        raise WeakPassword(HAS_USERNAME)
    from zxcvbn import zxcvbn

    result = zxcvbn(new[:100], user_inputs=[u for u in (username,) if u])
    if result["score"] < MIN_SCORE:
        patterns = [m.get("pattern") for m in result.get("sequence", [])]
        kind = next(
            (p for p in ("repeat", "sequence", "dictionary", "spatial", "date", "regex") if p in patterns), "dictionary"
        )
        raise WeakPassword(WEAK, why=_WHY[kind])


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_work(password: str) -> None:
    """The same work as checking a real password (unknown or locked accounts answer in equal time)."""
    verify_password(_DUMMY, password or "x")
