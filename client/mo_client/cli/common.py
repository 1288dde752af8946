"""What every `mo` command shares: where the API and the credentials are, `--json` output, and
errors shown as one line with their code (never a traceback for what can be expected)."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from mo_client import errors
from mo_client.client import DEFAULT_API_URL, Client

# Exit codes (also in the README).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]
F = TypeVar("F", bound=Callable[..., Any])


def config_dir() -> Path:
    return Path(os.environ.get("MO_CONFIG_DIR") or typer.get_app_dir("mo"))


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


def load_credentials() -> dict[str, dict[str, str]]:
    """API URL -> {token, email}; a token only ever goes back to the API that issued it."""
    try:
        data = json.loads(credentials_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_credentials(api_url: str, entry: dict[str, str] | None) -> Path:
    """Store (or with None, forget) the credential for `api_url`; the file is mode 600."""
    data = load_credentials()
    if entry is None:
        data.pop(api_url, None)
    else:
        data[api_url] = entry
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(partial, 0o600)  # also when the file existed with looser bits
    os.replace(partial, path)
    return path


class State:
    """The global options, resolved once: --api-url > MO_API_URL > the default; the token from
    MO_TOKEN (an access token or an API key ak_...) > MO_API_KEY > what `mo login` stored."""

    def __init__(self, api_url: str | None):
        self.api_url = (api_url or os.environ.get("MO_API_URL") or DEFAULT_API_URL).rstrip("/")
        stored = load_credentials().get(self.api_url, {})
        self.token = os.environ.get("MO_TOKEN") or os.environ.get("MO_API_KEY") or stored.get("token")
        self._client: Client | None = None

    def client(self, *, auth: bool = True) -> Client:
        if auth and not self.token:
            raise errors.MoError(
                f"not logged in to {self.api_url}: run `mo login` or `mo signup`, or set MO_TOKEN"
            )
        if self._client is None:
            self._client = Client(self.api_url, self.token)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def state(ctx: typer.Context) -> State:
    return ctx.find_root().obj


def plain(value: Any) -> Any:
    """Models and paths as JSON-ready values."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(plain(value), indent=2) + "\n")
    sys.stdout.flush()


def dollars(micros: int) -> str:
    """Micro-dollars as people read them: "$0.19", "$0.05", "$0.0063" (as the console shows them)."""
    if not micros:
        return "$0"
    sign, value = "-" if micros < 0 else "", abs(micros) / 1_000_000
    if value < 0.0001:
        return f"{sign}<$0.0001"
    return f"{sign}${value:.{2 if value >= 0.1 or abs(micros) % 10_000 == 0 else 4}f}"


#: Whose account a provider call runs on, in words.
ACCOUNT_TEXT = {"platform": "included in your plan", "own": "your own key", "none": "offline"}


def fail(code: str, message: str, as_json: bool, exit_code: int, details: Any = None) -> typer.Exit:
    """Report an error (stderr as text, stdout as JSON) and return the Exit to raise."""
    if as_json:
        emit_json({"error": {"code": code, "message": message, "details": details}})
    else:
        err.print(f"[red]error[/red] [bold]{code}[/bold]: {message}")
        if isinstance(details, list):
            for item in details:
                if isinstance(item, dict) and "field" in item:
                    err.print(f"  {item['field']}: {item.get('message', '')}")
        if code == "credits_exhausted" and isinstance(details, dict):
            needed, available = details.get("needed"), details.get("available")
            if isinstance(needed, int) and isinstance(available, int):
                err.print(f"  this video needs {dollars(needed)} of credits; {dollars(available)} available")
    return typer.Exit(exit_code)


def handled(fn: F) -> F:
    """Expected errors become one line (or a JSON error) and an exit code, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except errors.ApiError as exc:
            hint = " (run `mo login`)" if exc.status == 401 else ""
            if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
                hint = f" (retry after {exc.retry_after:.0f}s)"
            raise fail(exc.code, exc.message + hint, as_json, EXIT_REFUSED, exc.details) from None
        except errors.ConnectionFailed as exc:
            raise fail("unreachable", str(exc), as_json, EXIT_UNREACHABLE) from None
        except errors.MoError as exc:
            raise fail(getattr(exc, "code", "error"), str(exc), as_json, EXIT_FAILED) from None
        except OSError as exc:
            raise fail("file_error", str(exc), as_json, EXIT_FAILED) from None

    return wrapper  # type: ignore[return-value]
