"""The skeleton every service process shares.

A service declares a :class:`ServiceSpec` (its routes, projections, reactors
and start-up hooks); :func:`create_app` turns it into a Litestar app that on
start-up connects to NATS and PostgreSQL, creates the streams, starts the
consumers, and serves:

* ``GET /healthz`` - the process is up;
* ``GET /readyz``  - NATS and PostgreSQL answer and every projection is caught up;
* ``GET /schema``  - OpenAPI generated from the msgspec types.

Each service keeps its read models in its own PostgreSQL schema (its name),
so services never share tables and a read model can be dropped on its own.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec
import nats
from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_422_UNPROCESSABLE_ENTITY, HTTP_503_SERVICE_UNAVAILABLE

from otasuke.events import ConcurrencyConflict, DomainError, EventStore, ensure_streams, tracing
from otasuke.events.projection import ConsumerRunner, Projection, Reactor

from .auth import jwt_auth
from .settings import Settings

log = logging.getLogger(__name__)

CONTROL_SUBJECT = "otasuke.control.rebuild"


@dataclass
class Runtime:
    """Connections and consumers of one service process (``app.state.runtime``)."""

    service: str
    settings: Settings
    nc: Any
    pool: asyncpg.Pool
    store: EventStore
    runners: dict[str, ConsumerRunner] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def js(self):
        return self.store.js

    def runner(self, name: str) -> ConsumerRunner:
        return self.runners[name]

    async def connect(self) -> asyncpg.Connection:
        """A database session of its own, outside the pool, on the service's schema.

        For what must live exactly as long as one session (an advisory lock
        held for leadership) without occupying a pool slot. The caller closes it.
        """
        return await asyncpg.connect(self.settings.database_url, server_settings=_schema_settings(self.service))

    async def wait_for(self, projection: str, seq: int, timeout: float = 10.0) -> None:
        """Read-your-writes: wait until ``projection`` has handled stream sequence ``seq``."""
        await self.runners[projection].wait_for(seq, timeout)


Hook = Callable[[Runtime], Awaitable[None]]


@dataclass
class Sidecar:
    """An extra process ``otasuke run`` starts next to a service (the Rasa server, its action server)."""

    name: str
    argv: list[str]
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None


@dataclass
class ServiceSpec:
    name: str
    title: str
    route_handlers: Sequence[Any] = ()
    projections: Sequence[Projection] = ()
    """Read models; constructible without a runtime so the CLI can rebuild them."""
    reactors: Callable[[Runtime], Sequence[Reactor]] = lambda rt: ()
    """Consumers that act on events (given the runtime to act with)."""
    on_startup: Sequence[Hook] = ()
    on_shutdown: Sequence[Hook] = ()
    public_paths: Sequence[str] = ()
    """Path regexes that need no bearer token (web pages, tracking links, webhooks)."""
    litestar_kwargs: dict[str, Any] = field(default_factory=dict)
    sidecars: Callable[[Settings], list[Sidecar]] | None = None


async def connect_nats(url: str, name: str):
    async def on_error(exc):
        log.warning("nats: %s", exc)

    return await nats.connect(
        url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5, error_cb=on_error, connect_timeout=5
    )


def _schema_settings(schema: str) -> dict[str, str]:
    return {"search_path": f'"{schema}",public'}


async def create_pool(database_url: str, schema: str, **kwargs) -> asyncpg.Pool:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await conn.close()
    return await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=kwargs.pop("max_size", 10),
        server_settings=_schema_settings(schema),
        **kwargs,
    )


async def start_runtime(spec: ServiceSpec, settings: Settings) -> Runtime:
    if not settings.nats_url or not settings.database_url:
        raise RuntimeError(
            f"{spec.name}: OTASUKE_NATS_URL and OTASUKE_DATABASE_URL must be set (`otasuke run` sets them)"
        )
    tracing.configure(spec.name, settings.trace_exporter, settings.otlp_endpoint, settings.trace_sample_ratio)
    nc = await connect_nats(settings.nats_url, spec.name)
    pool = await create_pool(settings.database_url, spec.name)
    store = EventStore(nc)
    await ensure_streams(store.js, settings.stream_replicas)
    rt = Runtime(spec.name, settings, nc, pool, store)
    for hook in spec.on_startup:
        await hook(rt)
    for handler in [*spec.projections, *spec.reactors(rt)]:
        runner = ConsumerRunner(nc, handler, pool, connect=rt.connect)
        rt.runners[handler.name] = runner
        await runner.start()
    await _serve_control(rt)
    return rt


async def stop_runtime(spec: ServiceSpec, rt: Runtime) -> None:
    for runner in rt.runners.values():
        await runner.stop()
    for hook in spec.on_shutdown:
        try:
            await hook(rt)
        except Exception:
            log.exception("%s: shutdown hook failed", spec.name)
    try:
        await rt.nc.drain()
    except Exception:
        pass
    await rt.pool.close()


async def _serve_control(rt: Runtime) -> None:
    """Answer ``otasuke events rebuild`` for the projections this process runs."""

    async def on_rebuild(msg):
        name = msg.data.decode()
        runner = rt.runners.get(name)
        if runner is None or not runner.active:
            return  # another process (or none) owns it; stay silent
        asyncio.create_task(_rebuild_and_reply(runner, msg))

    await rt.nc.subscribe(CONTROL_SUBJECT, cb=on_rebuild)


async def _rebuild_and_reply(runner: ConsumerRunner, msg) -> None:
    try:
        await runner.rebuild()
        await msg.respond(msgspec.json.encode({"ok": True, "service": runner.handler.name}))
    except Exception as exc:
        await msg.respond(msgspec.json.encode({"ok": False, "error": str(exc)}))


@get("/healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(state: State) -> Response[dict[str, Any]]:
    rt: Runtime | None = getattr(state, "runtime", None)
    report: dict[str, Any] = {"nats": False, "postgres": False, "projections": {}}
    if rt is not None:
        report["nats"] = bool(rt.nc.is_connected)
        try:
            async with rt.pool.acquire(timeout=2) as conn:
                report["postgres"] = await conn.fetchval("SELECT 1") == 1
        except Exception as exc:
            report["postgres_error"] = str(exc)
        for name, runner in rt.runners.items():
            try:
                lag = await runner.lag() if report["nats"] else -1
            except Exception:
                lag = -1
            report["projections"][name] = {"active": runner.active, "lag": lag, "position": runner.position}
    caught_up = all(p["lag"] == 0 or not p["active"] for p in report["projections"].values())
    report["ready"] = bool(report["nats"] and report["postgres"] and caught_up)
    return Response(report, status_code=200 if report["ready"] else HTTP_503_SERVICE_UNAVAILABLE)


def _domain_error(_: Request, exc: DomainError) -> Response:
    return Response({"detail": str(exc)}, status_code=HTTP_422_UNPROCESSABLE_ENTITY)


def _conflict(_: Request, exc: ConcurrencyConflict) -> Response:
    return Response({"detail": str(exc)}, status_code=HTTP_409_CONFLICT)


def _provide_runtime(state: State) -> Runtime:
    return state.runtime


def create_app(spec: ServiceSpec, settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    key = settings.require_signing_key()

    async def startup(app: Litestar) -> None:
        app.state.runtime = await start_runtime(spec, settings)

    async def shutdown(app: Litestar) -> None:
        rt = getattr(app.state, "runtime", None)
        if rt is not None:
            await stop_runtime(spec, rt)

    auth = jwt_auth(key, exclude=["^/healthz$", "^/readyz$", "^/schema", *spec.public_paths])
    kwargs = dict(spec.litestar_kwargs)
    plugins = list(kwargs.pop("plugins", []))
    try:
        from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

        plugins.append(OpenTelemetryPlugin(OpenTelemetryConfig()))
    except ImportError:  # instrumentation not installed: spans still come from the event layer
        pass
    exception_handlers = {DomainError: _domain_error, ConcurrencyConflict: _conflict, **kwargs.pop("exception_handlers", {})}
    return Litestar(
        route_handlers=[healthz, readyz, *spec.route_handlers],
        on_startup=[startup],
        on_shutdown=[shutdown],
        on_app_init=[auth.on_app_init],
        dependencies={"runtime": Provide(_provide_runtime, sync_to_thread=False), **kwargs.pop("dependencies", {})},
        openapi_config=OpenAPIConfig(title=f"Otasuke {spec.title}", version="0.1.0", path="/schema"),
        exception_handlers=exception_handlers,
        plugins=plugins,
        state=State({"settings": settings, "service": spec.name}),
        **kwargs,
    )


def load_spec(service: str) -> ServiceSpec:
    from importlib.metadata import entry_points

    for ep in entry_points(group="otasuke.services"):
        if ep.name == service:
            return ep.load()
    raise LookupError(f"no service {service!r}: known are {[ep.name for ep in entry_points(group='otasuke.services')]}")


def all_specs() -> dict[str, ServiceSpec]:
    from importlib.metadata import entry_points

    return {ep.name: ep.load() for ep in entry_points(group="otasuke.services")}


def serve(service: str) -> None:
    """Run one service with uvicorn (what ``python -m otasuke.<service>`` calls)."""
    import uvicorn

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(), format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
    app = create_app(load_spec(service), settings)
    uvicorn.run(app, host=settings.host, port=settings.port(service), log_level=settings.log_level, access_log=False)
