"""One sign-in with a password and a second factor, for staff (/admin) and for enterprises'
authorised persons (/portal/login/person).

1. The password page: a correct password gives a fresh cookie (no session fixation; the language
   is kept) holding the account's id and the time as *pending* (for :data:`PENDING_SECONDS`), and
   leads to the code page, or to the enrolment page for an account without an authenticator yet.
2. The code page (enrolment shows the QR code and the key of the one pending secret, read from the
   database, never from a cookie; both accept a code): a good code starts the server-side session
   in another fresh cookie and leads where sign-in was asked from (a ``next`` under the side's
   prefix), or to the side's home page. A locked account drops the pending step.

Refusals are shown in the page's language from the error's message code (:func:`i18n.error_text`),
never by matching its English text. :class:`SignIn` holds what differs between the two sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import segno
from flask import redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from ..domain.errors import DomainError
from ..services.context import ServiceContext
from ..services.sign_in import AccountLocked
from . import i18n
from .context import service_context
from .forms import CodeForm
from .security import fresh_cookie, pending, safe_next

__all__ = ["SignIn", "PENDING_SECONDS", "grouped", "qr_data_uri"]

PENDING_SECONDS = 300  # between a correct password and the code


def grouped(secret: str) -> str:
    """A TOTP secret as people type it: groups of four."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_data_uri(text: str, scale: int) -> str:
    """``text`` as a QR code in a ``data:`` URI (PNG) for an <img>."""
    return str(segno.make(text, error="m").png_data_uri(scale=scale, border=2))


@dataclass(frozen=True)
class SignIn:
    """One side's sign-in: its cookie entries, its pages and its services."""

    pending_key: str  # the cookie entry of a correct password: {"id", "at"}
    next_key: str  # the cookie entry of where to go after sign-in
    session_key: str  # the cookie entry of the signed-in session's token
    prefix: str  # where ``next`` may lead
    login_endpoint: str
    enrol_endpoint: str
    code_endpoint: str
    home_endpoint: str
    login_template: str
    code_template: str  # rendered with enrol=True (qr, secret) or enrol=False
    start_enrolment: Callable[[ServiceContext, int], tuple[str, str]]  # (secret, otpauth URI)
    complete_sign_in: Callable[[ServiceContext, int, str], tuple[object, str]]  # (who, session token)
    # the portal remembers ``next`` when its sign-in page is shown (as its e-licence page does), the
    # admin when the password is accepted
    next_on_get: bool
    # the status of a refused code: the admin answers 401 whatever the refusal, the portal the error's own
    code_error_status: int | None

    def password_page(self, form: FlaskForm, check: Callable[[], tuple[int, bool]]) -> ResponseReturnValue:
        """The first step: ``check()`` (the side's password check, reading ``form``) gives the
        account's id and whether it still has to enrol an authenticator."""
        if self.next_on_get and request.method == "GET":
            self._remember_next()
        error, status = None, 200
        if form.validate_on_submit():
            try:
                account, needs_enrolment = check()
            except DomainError as exc:
                error, status = i18n.error_text(exc), exc.http_status
            else:
                fresh_cookie(*((self.next_key,) if self.next_on_get else ()))
                session[self.pending_key] = {"id": account, "at": service_context().clock.now().isoformat()}
                if not self.next_on_get:
                    self._remember_next()
                return redirect(url_for(self.enrol_endpoint if needs_enrolment else self.code_endpoint))
        elif request.method == "POST":
            status = 400
        return render_template(self.login_template, form=form, error=error), status

    def _remember_next(self) -> None:
        if target := safe_next(request.args.get("next"), self.prefix):
            session[self.next_key] = target

    def pending_account(self) -> int | None:
        """The account whose password was accepted a moment ago (see :func:`security.pending`)."""
        return pending(self.pending_key, PENDING_SECONDS)

    def code_page(self, *, enrol: bool) -> ResponseReturnValue:
        """The second step: enrol an authenticator (first sign-in) or give a code; both accept a code."""
        account = self.pending_account()
        if account is None:
            return redirect(url_for(self.login_endpoint))
        form = CodeForm()
        done, error, status = self._code_step(account, form)
        if done is not None:
            return done
        if not enrol:
            return render_template(self.code_template, form=form, error=error, enrol=False), status
        try:  # the one pending secret (the same after a reload), from the database, never from a cookie
            secret, uri = self.start_enrolment(service_context(), account)
        except DomainError as exc:
            if exc.http_status == 409:  # enrolled already
                return redirect(url_for(self.code_endpoint))
            session.pop(self.pending_key, None)
            return redirect(url_for(self.login_endpoint))
        return render_template(
            self.code_template, form=form, qr=qr_data_uri(uri, 5), secret=grouped(secret), error=error, enrol=True
        ), status

    def _code_step(self, account: int, form: CodeForm) -> tuple[Response | None, str | None, int]:
        """A submitted code: (the redirect after sign-in, None, 302), or (None, the error, its status)."""
        if not form.validate_on_submit():
            return None, None, 400 if request.method == "POST" else 200
        try:
            _who, token = self.complete_sign_in(service_context(), account, form.code.data or "")
        except DomainError as exc:
            if isinstance(exc, AccountLocked):
                session.pop(self.pending_key, None)
            return None, i18n.error_text(exc), self.code_error_status or exc.http_status
        target = safe_next(session.get(self.next_key), self.prefix)
        self.start_session(token)
        return redirect(target or url_for(self.home_endpoint)), None, 302

    def start_session(self, token: str) -> None:
        """The signed-in cookie: a new one (no fixation; the session itself is on the server),
        keeping the language."""
        fresh_cookie()
        session.permanent = True
        session[self.session_key] = token
