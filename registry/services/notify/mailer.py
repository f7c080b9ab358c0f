"""Sending e-mail through the configured SMTP server (``REGISTRY_SMTP_*``) with :mod:`smtplib`.

One connection per notification run, opened at the first message, re-opened once if the server
dropped it while idle. Failures are sorted into three kinds, because the job treats them
differently:

* :class:`ServerUnavailable`: the server cannot be reached or refuses us (connection, TLS,
  authentication): nothing else is tried in this run; every message is retried by the next one;
* :class:`Rejected`: the server refused every recipient of this message permanently (5xx,
  RFC 5321 §4.2.1): retrying cannot help, the message is recorded as undeliverable;
* :class:`TemporaryFailure`: anything else about this message (4xx, a refused sender or data,
  a dropped connection): retried by the next run.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import getaddresses
from types import TracebackType

from ...config import Settings


class MailError(Exception):
    """A message was not accepted by the server."""


class ServerUnavailable(MailError):
    """The server could not be reached or refused the session: stop trying for this run."""


class Rejected(MailError):
    """Every recipient was refused permanently (5xx)."""


class TemporaryFailure(MailError):
    """This message was not accepted this time; try again later."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).replace("\r", " ").replace("\n", " ").strip()
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


class SmtpMailer:
    """Send :class:`EmailMessage` objects through one SMTP session (``with SmtpMailer(s) as m:``)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("no SMTP host configured (REGISTRY_SMTP_HOST)")
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    @property
    def description(self) -> str:
        s = self.settings
        return f"{s.smtp_host}:{s.smtp_port} ({s.smtp_security})"

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.smtp_security == "tls":  # implicit TLS (SMTPS, RFC 8314 §3.3)
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            smtp.ehlo_or_helo_if_needed()
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise ServerUnavailable(f"SMTP server {self.description}: {_one_line(exc)}") from None
        return smtp

    def _session(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                code, _msg = self._smtp.noop()
                if code == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp.close()
            self._smtp = None
        self._smtp = self._connect()
        return self._smtp

    def send(self, msg: EmailMessage) -> dict[str, str]:
        """Send ``msg`` to its To and Cc addresses (envelope sender: its From address). Returns the
        recipients the server refused while accepting others, with the reason."""
        recipients = [addr for _name, addr in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", [])) if addr]
        from_addr = next((addr for _n, addr in getaddresses(msg.get_all("From", [])) if addr), "")
        smtp = self._session()
        try:
            refused = smtp.send_message(msg, from_addr=from_addr, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _m in exc.recipients.values()]
            summary = "; ".join(
                f"{addr}: {code} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
                for addr, (code, m) in exc.recipients.items()
            )
            if codes and all(500 <= c < 600 for c in codes):
                raise Rejected(f"every recipient refused: {summary}"[:1000]) from None
            raise TemporaryFailure(f"recipients refused: {summary}"[:1000]) from None
        except smtplib.SMTPServerDisconnected as exc:
            self._smtp = None
            raise TemporaryFailure(_one_line(exc)) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(_one_line(exc)) from None
        return {
            addr: f"{code} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
            for addr, (code, m) in refused.items()
        }
