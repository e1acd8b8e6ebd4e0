"""The ``otasuke`` command for operators.

Sub-commands come from here (run, token, events) and from the services, which
register theirs under the ``otasuke.cli`` entry-point group (telemetry adds
``detect``). A Typer app becomes a command group; a function a single command.
"""
from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .settings import Settings

app = typer.Typer(no_args_is_help=True, help="Otasuke operator commands.", add_completion=False)
token_app = typer.Typer(no_args_is_help=True, help="Mint API tokens.")
events_app = typer.Typer(no_args_is_help=True, help="Inspect, replay and rebuild event streams.")
app.add_typer(token_app, name="token")
app.add_typer(events_app, name="events")
err = Console(stderr=True)


@app.command()
def run(
    service: Annotated[Optional[list[str]], typer.Option("--service", "-s", help="Only these services")] = None,
) -> None:
    """Start the whole stack locally (embedded NATS + PostgreSQL unless configured)."""
    from .supervisor import run as run_stack

    raise typer.Exit(run_stack(services=service or None))


@token_app.command("issue")
def token_issue(
    role: Annotated[str, typer.Option(help="operator | company_admin | device | insurer | service")],
    partner: Annotated[str, typer.Option(help="Partner id")],
    company: Annotated[Optional[str], typer.Option(help="Company id (company_admin, device)")] = None,
    subject: Annotated[str, typer.Option(help="Who the token is for")] = "cli",
    days: Annotated[float, typer.Option(help="Validity in days")] = 30,
) -> None:
    """Print a bearer token signed with the deployment's key."""
    from .auth import issue_token
    from .settings import ensure_signing_key

    s = Settings.from_env()
    key = s.signing_key or ensure_signing_key(s.data_dir)
    try:
        token = issue_token(key, subject=subject, role=role, partner_id=partner, company_id=company, ttl=timedelta(days=days))
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2)
    print(token)


def _nats_url() -> str:
    s = Settings.from_env()
    if s.nats_url:
        return s.nats_url
    port_file = s.data_dir / "nats.port"
    if port_file.exists():
        return f"nats://127.0.0.1:{port_file.read_text().strip()}"
    err.print("[red]No NATS server: set OTASUKE_NATS_URL or start the stack with `make run`.[/]")
    raise typer.Exit(2)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    if value.endswith(("h", "d", "m")) and value[:-1].isdigit():
        amount, unit = int(value[:-1]), value[-1]
        delta = {"h": timedelta(hours=amount), "d": timedelta(days=amount), "m": timedelta(minutes=amount)}[unit]
        return datetime.now(UTC) - delta
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@events_app.command("streams")
def events_streams() -> None:
    """List the streams with their message counts."""
    from rich.table import Table

    async def go():
        import nats

        nc = await nats.connect(_nats_url())
        js = nc.jetstream()
        table = Table("stream", "subjects", "messages", "bytes", "replicas")
        async for name in _stream_names(js):
            info = await js.stream_info(name)
            table.add_row(name, ", ".join(info.config.subjects or []), str(info.state.messages), str(info.state.bytes), str(info.config.num_replicas))
        await nc.close()
        Console().print(table)

    asyncio.run(go())


async def _stream_names(js):
    for info in await js.streams_info():
        yield info.config.name


@events_app.command("replay")
def events_replay(
    stream: Annotated[str, typer.Option(help="Stream name, e.g. DIAGNOSIS")],
    subject: Annotated[Optional[str], typer.Option(help="Subject filter, e.g. 'diagnosis.chubu.acme.>'")] = None,
    since: Annotated[Optional[str], typer.Option(help="ISO time or relative (24h, 7d)")] = None,
    until: Annotated[Optional[str], typer.Option(help="ISO time or relative")] = None,
    format: Annotated[str, typer.Option("--format", help="jsonl or parquet")] = "jsonl",
    out: Annotated[Optional[Path], typer.Option(help="Output file (stdout for jsonl if omitted)")] = None,
) -> None:
    """Write a stream's events (filtered) as JSON lines or Parquet."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from otasuke.events import replay as rp

    if format not in ("jsonl", "parquet"):
        err.print("[red]--format must be jsonl or parquet[/]")
        raise typer.Exit(2)
    if format == "parquet" and out is None:
        err.print("[red]--format parquet needs --out FILE[/]")
        raise typer.Exit(2)

    async def go() -> int:
        import nats

        nc = await nats.connect(_nats_url())
        js = nc.jetstream()
        try:
            total = await _transient_retry(lambda: rp.count(js, stream.upper(), subject))
        except Exception as exc:
            err.print(f"[red]cannot read stream {stream}: {exc}[/]")
            await nc.close()
            raise typer.Exit(2)
        if format == "parquet":
            writer = rp.ParquetWriter(out)
        else:
            writer = rp.JsonLinesWriter(open(out, "w", encoding="utf-8") if out else sys.stdout)
        with Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=False) as progress:
            task = progress.add_task("replay", total=total)
            n = await rp.replay(
                js, stream.upper(), writer, subject=subject, since=_parse_time(since), until=_parse_time(until),
                progress=lambda k: progress.update(task, completed=k),
            )
        await nc.close()
        return n

    n = asyncio.run(go())
    err.print(f"replayed {n} events from {stream.upper()}" + (f" to {out}" if out else ""))


@events_app.command("catalogue")
def events_catalogue(
    out: Annotated[Optional[Path], typer.Option(help="Write here instead of stdout (docs/events.md)")] = None,
) -> None:
    """Print the event catalogue (markdown) generated from the schemas."""
    from otasuke.events.catalogue import render_markdown

    text = render_markdown()
    if out:
        out.write_text(text)
    else:
        print(text)


@events_app.command("projections")
def events_projections() -> None:
    """List the projections each service runs."""
    for service, handler in _all_handlers():
        print(f"{handler.name}\t{service}\t{handler.stream}")


def _all_handlers():
    from .service import all_specs

    for name, spec in all_specs().items():
        for handler in spec.projections:
            yield name, handler


@events_app.command("rebuild")
def events_rebuild(
    projection: Annotated[str, typer.Argument(help="Projection name (see `otasuke events projections`)")],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the rebuild")] = 3600,
) -> None:
    """Drop a projection's read model and replay its stream into it.

    If a service is running the projection, it rebuilds in place while serving;
    otherwise this command rebuilds it itself.
    """
    from otasuke.events.projection import ConsumerRunner, Projection

    from .service import CONTROL_SUBJECT, create_pool

    found = [(svc, h) for svc, h in _all_handlers() if h.name == projection]
    if not found or not isinstance(found[0][1], Projection):
        err.print(f"[red]no projection named {projection!r}; see `otasuke events projections`[/]")
        raise typer.Exit(2)
    service, handler = found[0]

    async def go() -> int:
        import nats
        from nats.js.errors import NotFoundError
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        nc = await nats.connect(_nats_url())
        js = nc.jetstream()
        stream_total = (await _transient_retry(lambda: js.stream_info(handler.stream))).state.last_seq
        runner = None
        try:
            reply = await nc.request(CONTROL_SUBJECT, projection.encode(), timeout=30)
            err.print(f"rebuild started by the running {service} service")
        except Exception:
            s = Settings.from_env()
            if not s.database_url:
                err.print("[red]No running service owns this projection and OTASUKE_DATABASE_URL is not set.[/]")
                raise typer.Exit(2)
            pool = await create_pool(s.database_url, service)
            runner = ConsumerRunner(nc, handler, pool)
            await runner.start()
            await _transient_retry(runner.rebuild)
            err.print("no running service owns it: rebuilding here")
        with Progress(TextColumn(projection), BarColumn(), MofNCompleteColumn(), console=err) as progress:
            task = progress.add_task("rebuild", total=stream_total)
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                try:
                    info = await js.consumer_info(handler.stream, handler.durable)
                except (NotFoundError, *TRANSIENT):  # being recreated, or a leader election under way
                    await asyncio.sleep(0.2)
                    continue
                done = info.ack_floor.stream_seq if info.ack_floor else 0
                progress.update(task, completed=min(done, stream_total))
                if (info.num_pending or 0) == 0 and (info.num_ack_pending or 0) == 0 and info.delivered.stream_seq >= 0:
                    break
                if asyncio.get_running_loop().time() > deadline:
                    err.print("[red]timed out[/]")
                    raise typer.Exit(1)
                await asyncio.sleep(0.3)
        if runner is not None:
            handled = runner.handled
            await runner.stop()
            await runner.pool.close()
        else:
            handled = None
        await nc.close()
        return handled if handled is not None else stream_total

    n = asyncio.run(go())
    err.print(f"rebuilt {projection}: {n} events applied")


def _transient_errors() -> tuple[type[Exception], ...]:
    import nats.errors
    from nats.js.errors import ServiceUnavailableError

    return (nats.errors.TimeoutError, ServiceUnavailableError)


TRANSIENT = _transient_errors()


async def _transient_retry(call, attempts: int = 20, delay: float = 0.5):
    """Retry a JetStream API call through a leader election (timeouts, 503s) for ~10 s."""
    for attempt in range(attempts):
        try:
            return await call()
        except TRANSIENT:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(delay)


def _load_plugins() -> None:
    for ep in entry_points(group="otasuke.cli"):
        obj = ep.load()
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=ep.name)
        else:
            app.command(name=ep.name)(obj)


def main() -> None:
    _load_plugins()
    app()
