"""The child processes of the harness: environments, gunicorn, Celery workers, and /proc readings.

One copy of what the runner, `bench.sla_sweep` and `bench.webhooks` all do with processes:
build the production-like environment every child gets, run a command to completion with a
time limit, start a long-lived child in a process group of its own (so stopping it reaches its
children, by that group's id) that gets SIGTERM if the benchmark dies, wait until it is ready,
and stop it: SIGTERM, then SIGKILL to its group. Everything here stays on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.db import BenchError, database_url

ROOT = Path(__file__).resolve().parent.parent
BROKER_URL = "redis://127.0.0.1:6379/13"
REDIS_URL = "redis://127.0.0.1:6379/12"
ADMIN_USERNAME = "bench-admin"  # the administrator every tool seeds and authenticates as
MIGRATE_TIMEOUT = 600
BOOT_TIMEOUT = 60
WORKER_BOOT_TIMEOUT = 90
# Settings the bench decides; the caller's environment must not leak them into a child.
STRIPPED_ENV = {"ITSM_TESTING", "DEBUG", "EXTRA_MIDDLEWARE", "DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS"}
DEFAULT_SETTINGS = "itsm.settings"
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- environments --------------------------------------------------------------------------------
def server_env(db_name: str, secret_key: str | None = None, settings: str = DEFAULT_SETTINGS) -> dict[str, str]:
    """A production-like environment for manage.py, the seed process and gunicorn."""
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        DEBUG="false",
        SECRET_KEY=secret_key or secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url(db_name),
        CELERY_BROKER_URL=BROKER_URL,
        REDIS_URL=REDIS_URL,
        # Throttling would cap the numbers at the configured rate, not at what the server can do.
        API_THROTTLE_RATE="100000000/min",
        ALERT_THROTTLE_RATE="100000000/min",
        EXTRA_MIDDLEWARE="bench.middleware.QueryCountMiddleware",
        PYTHONUNBUFFERED="1",
    )
    return env


def worker_env(db_name: str, secret_key: str, broker: str, **extra: str) -> dict[str, str]:
    """The server's environment for a tool that runs Celery workers on its own `broker`.

    No query counter, the local-memory cache (nothing of ours in a shared Redis database),
    emails to Django's dummy backend; `extra` adds the tool's own settings.
    """
    env = server_env(db_name, secret_key)
    env.pop("EXTRA_MIDDLEWARE", None)
    env.pop("REDIS_URL", None)
    env.update(CELERY_BROKER_URL=broker, EMAIL_URL="dummymail://", **extra)
    return env


def setup_django(env: dict[str, str]) -> None:
    """Configure Django in this process with the environment its children get."""
    for key in ("ITSM_TESTING", "DEBUG", "EXTRA_MIDDLEWARE", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"):
        os.environ.pop(key, None)
    os.environ.update(env)
    import django

    django.setup()


def child_env() -> dict[str, str]:
    """The caller's environment without the settings the bench decides (for the load generator)."""
    return {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}


# --- short-lived children ------------------------------------------------------------------------------
def run_checked(args: list[str], env: dict[str, str], timeout: float, what: str) -> str:
    """Run a child process in the project folder; its stdout, or BenchError with its output."""
    try:
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what} took longer than {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise BenchError(f"{what} failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return done.stdout


def manage(env: dict[str, str], timeout: float, *command: str) -> str:
    """`manage.py <command>` in a child with `env` (BenchError on failure); its stdout."""
    return run_checked([sys.executable, "manage.py", *command], env, timeout, command[0])


def git_commit() -> str | None:
    """The commit a run measured (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


@contextlib.contextmanager
def scratch_dir(prefix: str = "itsm-bench-") -> Iterator[Path]:
    """A scratch folder for logs; kept (and named on stderr) only if the block fails."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    except BaseException:
        print(f"bench: logs kept in {path}", file=sys.stderr)
        raise
    else:
        for child in sorted(path.rglob("*"), reverse=True):
            child.rmdir() if child.is_dir() else child.unlink()
        path.rmdir()


def terminate_on_sigterm() -> None:
    """Make SIGTERM end this process like Ctrl-C does: through the `finally`s that stop children."""

    def _terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)


def run_tool(
    run: Callable[[Any], dict[str, Any]],
    args: Any,
    say: Callable[[str], None],
    format_report: Callable[[dict[str, Any]], str],
    prefix: str,
) -> dict[str, Any] | None:
    """Run a Celery-driven tool (`bench.sla_sweep`, `bench.webhooks`): SIGTERM ends it like Ctrl-C,
    `args.drop` drops its database at the end, the report is printed and the JSON written
    (`args.json` or bench/results/<prefix><timestamp>.json). None when it could not run."""
    from bench.db import close_django_and_drop
    from bench.report import write_json

    terminate_on_sigterm()
    try:
        results = run(args)
    except BenchError as exc:
        say(str(exc))
        return None
    finally:
        if args.drop:
            close_django_and_drop(args.db)
    print(format_report(results))
    print(f"results: {write_json(results, args.json, prefix=prefix)}")
    return results


# --- /proc -------------------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def _all_stats() -> Iterator[tuple[int, list[str]]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(entry.name)) is not None:
            yield int(entry.name), fields


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (gunicorn's workers)."""
    return sorted(child for child, fields in _all_stats() if int(fields[1]) == pid)


def group_members(pgid: int) -> list[int]:
    """Pids of live (not zombie) processes in process group `pgid`."""
    return sorted(pid for pid, fields in _all_stats() if int(fields[2]) == pgid and fields[0] != "Z")


def cpu_seconds(pid: int, children: bool = False) -> float | None:
    """User + system CPU time of one process so far (with `children`: of those it reaped too)."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    last = 15 if children else 13  # utime, stime (, cutime, cstime)
    return sum(int(f) for f in fields[11:last]) / _TICKS


def children_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process (and what it reaped) plus its live children's."""
    total = cpu_seconds(pid, children=True) or 0.0
    return total + sum((int(f[11]) + int(f[12])) / _TICKS for child, f in _all_stats() if int(f[1]) == pid)


def peak_rss_kb(pid: int | str = "self") -> int | None:
    """VmHWM (peak resident set) of a process in KiB, None if it cannot be read."""
    from bench.load import peak_rss_kb as read

    return read(pid)


def die_with_parent() -> None:
    """In a child, before exec: get SIGTERM if this process dies (even by SIGKILL), so the child
    never outlives the benchmark. Linux only; elsewhere the `finally` has to do."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# --- long-lived children -----------------------------------------------------------------------------------
class Child:
    """A long-lived child in a session (process group) of its own, logging to a file."""

    what = "the child"

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The command line (subclasses say which)."""
        raise NotImplementedError

    def start(self) -> None:
        """Start it; it gets SIGTERM should this process die."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def alive(self) -> bool:
        """Whether it was started and still runs."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        """The end of its log, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def ready(self) -> bool:
        """Whether it serves yet (subclasses say how to tell)."""
        raise NotImplementedError

    def wait_ready(self, timeout: float = BOOT_TIMEOUT) -> None:
        """Poll `ready()` (BenchError if the child dies or is not ready within `timeout`)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.what} exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.2)
        raise BenchError(f"{self.what} was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (a graceful shutdown), then SIGKILL to its own group if it hangs or left children."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None or group_members(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # our own child's group, by its id
        if self.process.poll() is None:
            self.process.wait(timeout=10)


class Gunicorn(Child):
    """A gunicorn serving `itsm.wsgi` on 127.0.0.1:<free port>."""

    what = "gunicorn"

    def __init__(self, env: dict[str, str], workers: int, log_path: Path) -> None:
        super().__init__(env, log_path)
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The worker class (and threads) come from gunicorn.conf.py, as in production;
        GUNICORN_CMD_ARGS in the environment may override them for an experiment."""
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "itsm.wsgi:application",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={self.workers}",
            "--timeout=60",
            "--graceful-timeout=10",
            "--log-level=warning",
            "--error-logfile=-",
        ]

    def ready(self) -> bool:
        """/healthz answers 200."""
        import httpx

        try:
            with httpx.Client(base_url=self.base_url, trust_env=False, timeout=2) as client:
                return client.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def peak_rss(self) -> dict[str, int | None]:
        """VmHWM of the master and of each worker alive now."""
        if not self.alive():
            return {}
        rss = {f"gunicorn master ({self.process.pid})": peak_rss_kb(self.process.pid)}
        for n, pid in enumerate(child_pids(self.process.pid), start=1):
            rss[f"gunicorn worker {n} ({pid})"] = peak_rss_kb(pid)
        return rss


class CeleryWorker(Child):
    """One `celery -A itsm worker` (prefork or threads pool) named `<name>-<our pid>@host`."""

    what = "the worker"

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        concurrency: int,
        name: str,
        pool: str = "prefork",
        prefetch: int | None = None,
    ) -> None:
        super().__init__(env, log_path)
        self.concurrency, self.name, self.pool, self.prefetch = concurrency, name, pool, prefetch

    def command(self) -> list[str]:
        """INFO logging, as deployed; it also prints the " ready." line `ready()` looks for."""
        args = [sys.executable, "-m", "celery", "-A", "itsm", "worker", f"--concurrency={self.concurrency}"]
        args += ["-P", self.pool, "--without-gossip", "--without-mingle", "--without-heartbeat"]
        args += ["--loglevel=INFO", f"--hostname={self.name}-{os.getpid()}@%h"]
        if self.prefetch:
            args.append(f"--prefetch-multiplier={self.prefetch}")
        return args

    def ready(self) -> bool:
        """The worker logged that it is ready."""
        return " ready." in self.log_tail(20_000)

    def wait_ready(self, timeout: float = WORKER_BOOT_TIMEOUT) -> None:
        """As Child.wait_ready, with a worker's longer boot time."""
        super().wait_ready(timeout)

    def stop(self, timeout: float = 30) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL to what is left of its group."""
        super().stop(timeout)
