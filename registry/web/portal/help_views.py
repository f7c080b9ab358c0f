"""Help for enterprises in the portal: how to make a holder key and its certificate request (the
OpenSSL 3 commands, with this enterprise's USCC and name filled in) and a script that makes one key
and one request per seal. The enterprise has neither the README nor the registry's command line."""

from __future__ import annotations

import shlex

from flask import Response, g, render_template
from flask.typing import ResponseReturnValue

from .blueprint import STATIC, bp, enterprise_required

KEY_SCRIPT = "make-seal-keys.sh"


@bp.get("/help/keys")
@enterprise_required
def help_keys() -> ResponseReturnValue:
    uscc, name = g.principal.uscc, g.principal.enterprise_name
    return render_template(
        "portal/help_keys.html",
        uscc=uscc,
        name=name,
        script=KEY_SCRIPT,
        subj=shlex.quote(f"/C=CN/CN={name}/organizationIdentifier={uscc}"),
        name_q=shlex.quote(name),
    )


@bp.get(f"/help/{KEY_SCRIPT}")
@enterprise_required
def help_key_script() -> Response:
    body = (STATIC / KEY_SCRIPT).read_bytes()
    return Response(
        body,
        mimetype="text/x-shellscript",
        headers={
            "Content-Disposition": f'attachment; filename="{KEY_SCRIPT}"',
            "Cache-Control": "private, max-age=300",
        },
    )
