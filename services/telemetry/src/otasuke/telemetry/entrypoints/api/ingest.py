"""HTTP ingest: devices ``POST`` JSON lines (optionally gzip) with their device token."""
from __future__ import annotations

import gzip
import zlib

from litestar import Controller, Request, Response, post
from litestar.exceptions import HTTPException, PermissionDeniedException

from otasuke.platform.auth import Role, principal_of, require_role
from otasuke.platform.service import Runtime

from ...application.ingest_backlog import RETRY_AFTER_S
from ...application.ingest_batch import DeviceContext, IngestResult
from ...domain.normalisers import BatchRejected, sources

MAX_BODY = 64 * 1024 * 1024


class IngestController(Controller):
    path = "/api/v1/ingest"
    tags = ["ingest"]
    request_max_body_size = MAX_BODY

    @post("/{source:str}", status_code=202)
    async def ingest(self, source: str, request: Request, runtime: Runtime) -> Response:
        principal = principal_of(request)
        require_role(principal, Role.DEVICE)
        if source not in sources():
            raise HTTPException(status_code=404, detail=f"unknown source {source!r}; use one of {', '.join(sources())}")
        ingestor = runtime.extras["ingestor"]
        if not await ingestor.company_known(principal.partner_id, principal.company_id):
            raise PermissionDeniedException("this device's company is not registered for monitoring")
        waiting = await runtime.extras["ingest_backlog"].too_far_behind()
        if waiting is not None:
            # Refused before reading the body: nothing of this batch is stored; what was accepted stays queued.
            return Response(
                {"detail": f"detection is behind ({waiting} batches waiting, limit "
                           f"{runtime.extras['ingest_backlog'].max_pending}); this batch was not stored: "
                           f"send it again in {RETRY_AFTER_S} seconds with the same X-Batch-Id",
                 "retry_after": RETRY_AFTER_S},
                status_code=429, headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        body = await request.body()
        if request.headers.get("content-encoding", "").lower() == "gzip" or body[:2] == b"\x1f\x8b":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as exc:
                raise HTTPException(status_code=400, detail=f"body is not valid gzip: {exc}") from exc
        ctx = DeviceContext(principal.partner_id, principal.company_id, principal.subject)
        try:
            result: IngestResult = await ingestor.ingest(ctx, source, body, request.headers.get("x-batch-id"))
        except BatchRejected as exc:
            return Response(
                {"detail": f"batch refused, nothing was stored: {exc}", "line": exc.line, "field": exc.field},
                status_code=422,
            )
        except ValueError as exc:  # a malformed batch id
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return Response(result, status_code=200 if result.duplicate else 202)
