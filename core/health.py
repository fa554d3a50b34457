"""Health: can this instance reach its database, its storage and its queue right now?

`/healthz` (app.py) and `python -m core check` show the same answer. Each part is checked on
its own, so a failure names the part that failed with the reason, and a load balancer or an
operator knows where to look.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from db.session import session_scope

if TYPE_CHECKING:
    from core.services import Services

# a key under no user's prefix: checking that it exists reaches the storage without touching data
PROBE_KEY = "healthz/probe"


def _database(services: Services) -> dict[str, Any]:
    with session_scope(services.factory) as session:
        session.execute(text("SELECT 1"))
    return {"backend": services.factory.kw["bind"].dialect.name}


def _storage(services: Services) -> dict[str, Any]:
    services.store.exists(PROBE_KEY)
    return {"backend": services.settings.storage_backend}


def _queue(services: Services) -> dict[str, Any]:
    return services.tasks.executor.check()


CHECKS = {"database": _database, "storage": _storage, "queue": _queue}


def check_health(services: Services) -> dict[str, Any]:
    """`{"status": "ok" | "failing", "failing": [names], "checks": {name: {ok, ms, ...}}}`."""
    checks: dict[str, dict[str, Any]] = {}
    for name, check in CHECKS.items():
        began = time.perf_counter()
        try:
            checks[name] = {"ok": True, **check(services)}
        except Exception as error:  # any failure of that part is the answer, not a crash
            message = getattr(error, "message", None) or str(error) or type(error).__name__
            checks[name] = {"ok": False, "error": message[:500]}
        checks[name]["ms"] = round((time.perf_counter() - began) * 1000, 1)
    failing = [name for name, result in checks.items() if not result["ok"]]
    return {"status": "failing" if failing else "ok", "failing": failing, "checks": checks}
