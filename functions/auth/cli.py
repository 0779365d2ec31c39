"""`python -m functions.auth.cli deactivate|reactivate EMAIL`: an operator's account switches.

deactivate  shuts the account out at once, in every function: its live access tokens answer 401
            ACCOUNT_DISABLED from the next request on, its refresh tokens REFRESH_TOKEN_REVOKED, and it cannot
            sign in. Use this rather than an UPDATE of users.is_active: the database trigger ends the sessions
            either way, but only this updates the session cache every function checks, so an UPDATE is seen only
            once the user's cached state expires (SESSION_CACHE_SECONDS, 60 s by default).
reactivate  lets the account sign in again; no token from before the deactivation works again.

Reads DATABASE_URL and REDIS_URL as the functions do. Exits 1 if there is no such account.
"""

from __future__ import annotations

import argparse
import sys

from tasktracker.bootstrap.auth import auth_use_cases
from tasktracker.config import settings as environment_settings
from tasktracker.domain.errors import NotFoundError
from tasktracker.platform.logs import configure_logging
from tasktracker.platform.security import FlaskJwtAccessTokenIssuer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functions.auth.cli", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=("deactivate", "reactivate"))
    parser.add_argument("email")
    args = parser.parse_args(argv)
    settings = environment_settings()
    configure_logging(settings.log_level)
    accounts = auth_use_cases(settings, FlaskJwtAccessTokenIssuer(settings.access_token_ttl_seconds))
    change = accounts.deactivate if args.command == "deactivate" else accounts.reactivate
    try:
        user = change(args.email)
    except NotFoundError:
        print(f"No account with the email {args.email!r}", file=sys.stderr)
        return 1
    print(f"{user.email} is {'active' if user.is_active else 'deactivated'} (session epoch {user.session_epoch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
