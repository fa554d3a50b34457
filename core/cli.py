"""The command line: the same task service as the app, for scripts, administrators and CI.

python -m core tools
python -m core run --tool profile-my-data --file primary=data.csv --user demo --out out/
python -m core run --api http://localhost:8501 --token dq_... --tool T --file primary=data.csv --out out/
python -m core users add NAME --credits 100 [--admin]
python -m core credits grant NAME 50
python -m core worker
python -m core db upgrade
python -m core storage check            # S3/B2: write, read, presign, list, delete a probe; CORS rules
python -m core storage cors --origin https://app.example.com
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

from core import billing, users
from core.errors import DQError, ValidationError
from core.logs import configure_logging
from core.registry import get_tool, registry_as_dict
from core.settings import get_settings
from core.states import TERMINAL

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
POLL_SECONDS = 0.3  # a task run elsewhere (RQ workers): how often its progress is read
# a task run here: each read takes the interpreter from the run for a moment, and joining the
# run's thread returns at once when it ends, so a slower beat costs nothing at the end
LOCAL_POLL_SECONDS = 1.0


def _services(migrate: bool = True):  # type: ignore[no-untyped-def]
    from core.services import build_services

    return build_services(get_settings(), migrate=migrate)


def _key_value(text: str, what: str) -> tuple[str, str]:
    if "=" not in text:
        raise ValidationError(f"{what} must look like NAME=VALUE; got {text!r}.", code="INVALID_ARGUMENT")
    key, value = text.split("=", 1)
    return key.strip(), value


# ---- commands ------------------------------------------------------------------------------
def cmd_tools(_: argparse.Namespace) -> int:
    print(json.dumps(registry_as_dict(), indent=2, ensure_ascii=False))
    return EXIT_OK


def _run_here(services: Any, task_id: str) -> threading.Thread:
    """Run the queued task in this process, as a worker would: claimed by compare-and-set (so
    if an app's worker got there first, this one only watches) and run by the same runner. A
    second process would cost a second start-up and a second copy of every import."""
    from core.runner import run_task

    worker = services.worker()

    def run() -> None:
        if worker.claim(task_id):
            run_task(task_id, services.factory, services.store, services.settings)

    thread = threading.Thread(target=run, name=f"task-{task_id}", daemon=True)
    thread.start()
    return thread


def _wait(services: Any, user_id: int, task_id: str, timeout: float | None) -> dict[str, Any]:
    """Poll the task, printing progress to standard error, until it ends."""
    deadline = None if timeout is None else time.monotonic() + timeout
    # with EXECUTOR=rq the task went to the RQ workers; otherwise this command runs it itself
    runner = _run_here(services, task_id) if services.settings.executor == "process" else None
    last = None
    while True:
        task = services.tasks.get_task(user_id, task_id)
        line = (task["status"], task["progress"], task["current_agent"], task["progress_message"])
        if line != last:
            agent = f" {task['current_agent']}:" if task["current_agent"] else ""
            print(
                f"[{task['progress']:3d}%] {task['status']}{agent} {task['progress_message'] or ''}",
                file=sys.stderr,
                flush=True,
            )
            last = line
        if task["status"] in TERMINAL:
            if runner is not None:
                runner.join(timeout=30)  # the run's last steps after its final transition
            return task
        if deadline is not None and time.monotonic() > deadline:
            services.tasks.cancel_task(user_id, task_id)
            return services.tasks.get_task(user_id, task_id)
        if runner is not None and runner.is_alive():
            runner.join(LOCAL_POLL_SECONDS)  # back at once when the run ends
        else:
            time.sleep(POLL_SECONDS)


def _run_paths(args: argparse.Namespace) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for item in args.file:
        slot, raw = _key_value(item, "--file")
        path = Path(raw).expanduser()
        if not path.is_file():
            raise ValidationError(f"There is no file at {raw}.", code="FILE_NOT_FOUND")
        paths[slot] = path
    return paths


def cmd_run_api(args: argparse.Namespace) -> int:
    """`run --api URL`: the same run as a client of the REST Task API (uploads go to presigned URLs)."""
    from core.api_client import ApiClient, run_via_api

    client = ApiClient(args.api, args.token or os.environ.get("DQ_API_TOKEN", ""))
    paths = _run_paths(args)
    parameters = dict(_key_value(p, "--param") for p in args.param)
    agents = [a.strip() for a in args.agents.split(",") if a.strip()] if args.agents else None
    task = run_via_api(client, args.tool, paths, agents, parameters, Path(args.out), args.timeout)
    print(json.dumps(task, indent=2, ensure_ascii=False))
    return EXIT_OK if task["status"] == "completed" else EXIT_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    if args.api:
        return cmd_run_api(args)
    if not args.user:
        raise ValidationError(
            "Give --user NAME (or --api URL --token T to run through the API).", code="INVALID_ARGUMENT"
        )
    services = _services()
    user = users.find_user(services.factory, args.user)
    paths = _run_paths(args)
    parameters = dict(_key_value(p, "--param") for p in args.param)
    agents = [a.strip() for a in args.agents.split(",") if a.strip()] if args.agents else None
    files_metadata = {s: {"filename": p.name, "size_bytes": p.stat().st_size} for s, p in paths.items()}
    task = services.tasks.create_task(user.id, args.tool, agents, parameters, files_metadata)
    urls = services.tasks.issue_upload_urls(user.id, task["task_id"])
    _upload_files(services, urls, paths, args.tool, agents)
    try:
        services.tasks.start_processing(user.id, task["task_id"])
        task = _wait(services, user.id, task["task_id"], args.timeout)
    except DQError as error:
        print(f"error {error.code}: {error.message}", file=sys.stderr)
        task = services.tasks.get_task(user.id, task["task_id"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for filename, key in task["output_keys"].items():
        services.store.save_to(key, out / filename)  # a copy: the user may edit these
    print(json.dumps(task, indent=2, ensure_ascii=False))
    return EXIT_OK if task["status"] == "completed" else EXIT_FAILED


def _upload_files(
    services: Any, urls: dict[str, Any], paths: dict[str, Path], tool_id: str, agents: list[str] | None
) -> None:
    """Store the input files under their upload keys. A local copy is done by the kernel and
    leaves the interpreter free, so meanwhile the modules a run here will need are imported:
    the two overlap instead of adding up (about a quarter second each on a 200 MB file)."""

    def upload(slot: str, details: dict[str, Any]) -> None:
        with paths[slot].open("rb") as fh:
            services.store.write(
                details["key"], fh, details["headers"].get("Content-Type", "application/octet-stream")
            )

    with ThreadPoolExecutor(max(len(urls), 1), thread_name_prefix="upload") as pool:
        copies = [pool.submit(upload, slot, details) for slot, details in urls.items()]
        if services.settings.executor == "process":
            _import_run_modules(tool_id, agents)
        for copy in copies:
            copy.result()


def _import_run_modules(tool_id: str, agents: list[str] | None) -> None:
    """Import the runner and the run's agents ahead of the run (a cache warm-up: an agent that
    fails to import fails its run later, with the usual error)."""
    import core.runner  # noqa: F401 - imported for its side effect on the module cache

    tool = get_tool(tool_id)
    for spec in tool.agents:
        if spec.available and (agents is None or spec.id in agents) and spec.implementation:
            with contextlib.suppress(ImportError):
                importlib.import_module(spec.implementation.split(":")[0])


def _read_password(confirm: bool = True) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Repeat the password: ") != first:
        raise ValidationError("The two passwords differ.", code="PASSWORD_MISMATCH")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    services = _services()
    user = users.create_user(
        services.factory,
        args.name,
        _read_password(),
        credits=args.credits,
        email=args.email,
        is_admin=args.admin,
    )
    print(json.dumps(user.to_dict(), indent=2))
    return EXIT_OK


def cmd_users_list(_: argparse.Namespace) -> int:
    services = _services()
    print(json.dumps([u.to_dict() for u in users.list_users(services.factory)], indent=2))
    return EXIT_OK


def cmd_credits_grant(args: argparse.Namespace) -> int:
    services = _services()
    user = users.find_user(services.factory, args.name)
    balance = billing.grant(services.factory, user.id, args.amount, note=args.note)
    print(json.dumps({"user": user.username, "granted": args.amount, "balance": balance}))
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    configure_logging("INFO")  # a worker's task transitions are what its operator watches
    if get_settings().executor == "rq":
        from core.rq_jobs import run_rq_worker
        from core.services import get_services

        # the jobs use the process-wide services, so the worker builds them once, the same way
        run_rq_worker(get_services(), burst=args.exit_when_idle)
        return EXIT_OK
    services = _services()
    worker = services.worker()
    logging.getLogger(__name__).info("worker %s started", worker.worker_id)
    stop = threading.Event()
    # SIGTERM lets the task in hand finish its current step; a task cut short is re-queued by the reaper.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        worker.run(stop, exit_when_idle=args.exit_when_idle, parent_pid=args.parent_pid)
    return EXIT_OK


def cmd_storage_check(args: argparse.Namespace) -> int:
    from core.storage_check import check_storage

    report = check_storage(get_settings(), args.origin)
    for step in report.steps:
        print(f"{'ok  ' if step.ok else 'FAIL'} {step.name}: {step.detail}", file=sys.stderr)
    print(json.dumps(report.to_dict(), indent=2, default=str))
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_storage_cors(args: argparse.Namespace) -> int:
    from core.storage_check import set_cors

    result = set_cors(get_settings(), args.origin)
    print(result.message, file=sys.stderr)
    if result.applied:
        print(json.dumps(result.rules, indent=2))
        return EXIT_OK
    print(result.b2_command)
    return EXIT_FAILED


def cmd_check(_: argparse.Namespace) -> int:
    """Settings, then whether the database, storage and queue answer: what /healthz says."""
    from core.health import check_health

    health = check_health(_services(migrate=False))
    print(json.dumps(health, indent=2))
    return EXIT_OK if not health["failing"] else EXIT_FAILED


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from db.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url, args.revision)
    print(f"database is at revision {args.revision}")
    return EXIT_OK


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    from db.migrate import downgrade

    downgrade(get_settings().database_url, args.revision)
    print(f"database is at revision {args.revision}")
    return EXIT_OK


# ---- the parser ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Data-quality workbench: run tools on CSV/XLSX files and administer the workbench. "
        "Settings come from the environment (see the README), e.g. DATA_DIR and DATABASE_URL.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("tools", help="print the tools, their agents, file slots and parameters as JSON")
    p.set_defaults(func=cmd_tools)

    p = sub.add_parser(
        "run",
        help="run a tool on local files and save every download",
        description="Create a task, store the files, run it in this process as a worker would (with "
        "EXECUTOR=rq: wait for the RQ workers) while printing progress to standard error, print the "
        "final task as JSON and write every download into --out. "
        "Exit code 0 when the task completed, 1 when it failed.",
    )
    p.add_argument("--tool", required=True, help="tool id, e.g. profile-my-data (see `tools`)")
    p.add_argument(
        "--file",
        action="append",
        required=True,
        metavar="SLOT=PATH",
        help="a file for a slot, e.g. primary=data.csv; repeat for more slots",
    )
    p.add_argument("--agents", help="comma-separated agent ids (default: the tool's default agents)")
    p.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a tool parameter; repeat"
    )
    p.add_argument("--user", help="the user name the task runs as (and is billed to); not with --api")
    p.add_argument("--out", required=True, help="folder to write the downloads into")
    p.add_argument("--timeout", type=float, help="cancel the task after this many seconds")
    p.add_argument(
        "--api",
        metavar="URL",
        help="run through the REST Task API of the app at URL (e.g. http://localhost:8501) instead of "
        "this machine's database; files go to the presigned upload URLs",
    )
    p.add_argument(
        "--token", help="personal API token for --api (default: the DQ_API_TOKEN environment variable)"
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("users", help="manage user accounts")
    usub = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    a = usub.add_parser(
        "add",
        help="create an active, verified user; the password is read from standard "
        "input, or prompted for when interactive",
    )
    a.add_argument("name", help="user name (2-64 letters, digits, _ . @ -)")
    a.add_argument("--credits", type=int, default=0, help="starting credits (default 0)")
    a.add_argument("--email", help="e-mail address")
    a.add_argument("--admin", action="store_true", help="make the user an administrator")
    a.set_defaults(func=cmd_users_add)
    a = usub.add_parser("list", help="list users as JSON")
    a.set_defaults(func=cmd_users_list)

    p = sub.add_parser("credits", help="manage credits")
    csub = p.add_subparsers(dest="credits_command", required=True, metavar="ACTION")
    g = csub.add_parser("grant", help="add credits to a user's balance (negative to remove)")
    g.add_argument("name", help="user name")
    g.add_argument("amount", type=int, help="credits to add")
    g.add_argument("--note", default="granted from the command line", help="a note kept in the ledger")
    g.set_defaults(func=cmd_credits_grant)

    p = sub.add_parser("worker", help="run a worker that processes queued tasks until stopped")
    p.add_argument("--exit-when-idle", action="store_true", help="stop once no task is queued")
    p.add_argument("--parent-pid", type=int, help="stop when this process ends")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("storage", help="check the S3/B2 bucket and set its CORS rules")
    ssub = p.add_subparsers(dest="storage_command", required=True, metavar="ACTION")
    c = ssub.add_parser(
        "check",
        help="reach the bucket, write, read, presign PUT/GET (over HTTP), list and delete a probe object, "
        "and report the CORS rules; exit 0 when everything works",
    )
    c.add_argument("--origin", help="the browser origin uploads come from (default: PUBLIC_BASE_URL)")
    c.set_defaults(func=cmd_storage_check)
    c = ssub.add_parser(
        "cors",
        help="set the CORS rule browser-direct uploads need, or print the b2 command when the S3 call "
        "is refused",
    )
    c.add_argument(
        "--origin",
        action="append",
        default=[],
        help="the app's address, e.g. https://app.example.com (default PUBLIC_BASE_URL); repeat",
    )
    c.set_defaults(func=cmd_storage_cors)

    p = sub.add_parser(
        "check",
        help="check the settings and that the database, storage and queue answer (exit 1 if not)",
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("db", help="database schema")
    dsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    u = dsub.add_parser("upgrade", help="bring the schema up to date (the app also does this on start)")
    u.add_argument("--revision", default="head", help="target revision (default head)")
    u.set_defaults(func=cmd_db_upgrade)
    d = dsub.add_parser("downgrade", help="move the schema back to an older revision")
    d.add_argument("revision", help="target revision, e.g. base")
    d.set_defaults(func=cmd_db_downgrade)
    return parser


def exit_process(code: int) -> NoReturn:
    """End `python -m core` with `code`, skipping the interpreter's teardown once the command's
    work is done.

    Freeing every module and object of pandas, Arrow and SQLAlchemy one by one takes 0.2 to
    0.3 s, which every scripted `run` would wait for with nothing left to do: the outputs are
    written and closed, the task recorded. The log and the standard streams are flushed and the
    database connections closed first. While another (non-daemon) thread still works, the
    process ends the ordinary way, which waits for it; so it does under a debugger, profiler or
    coverage tool, which writes its results at exit.
    """
    busy = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if busy or sys.gettrace() is not None or sys.getprofile() is not None:
        sys.exit(code)
    from db.session import dispose_engines

    logging.shutdown()
    dispose_engines()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: Python's own exit would give 120
            code = code or 120
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DQError as error:
        print(f"error {error.code}: {error.message}", file=sys.stderr)
        return EXIT_ERROR
