"""htsget 1.3: tickets for regions of the pipelines' BAM and VCF outputs, and the signed data blocks.

The ticket names one data URL; fetching it decrypts the object into a private scratch folder, cuts the
region with pysam (the same htslib code `samtools view` / `bcftools view` use) and streams a complete,
valid BAM or bgzipped VCF. Parameters that name no valid region give htsget-style errors.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path as FsPath
from typing import Any, Literal

import pysam
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from labstream.api.deps import ERRORS, Error, caller, ctx, note
from labstream.api.routes_ga4gh import ServiceInfo, _service_info, save_plaintext, visible_object
from labstream.governance.models import DataObject
from labstream.governance.objects import get_object


def IdP() -> Any:  # noqa: N802 - a fresh Path() per parameter
    return Path(..., min_length=1, max_length=64)


# what each endpoint serves: object kinds, and formats (the first is the default, as htsget says)
OBJECT_KINDS = {"reads": ("bam", "cram"), "variants": ("vcf",)}
FORMATS = {"reads": ("BAM", "CRAM"), "variants": ("VCF",)}
FILES = {"bam": (".bam", ".bai"), "cram": (".cram", ".crai"), "vcf": (".vcf.gz", ".tbi")}
MEDIA = {
    "BAM": "application/vnd.ga4gh.bam",
    "CRAM": "application/vnd.ga4gh.cram",
    "VCF": "application/vnd.ga4gh.vcf",
}


class HtsgetErrorBody(BaseModel):
    error: str
    message: str


class HtsgetError(BaseModel):
    htsget: HtsgetErrorBody


class HtsgetUrl(BaseModel):
    url: str
    headers: dict[str, str] | None = None
    class_: str | None = None


class HtsgetTicketBody(BaseModel):
    format: str
    urls: list[dict[str, Any]]


class HtsgetTicket(BaseModel):
    htsget: HtsgetTicketBody


router = APIRouter(
    responses={**ERRORS, 400: {"model": HtsgetError | Error}, 404: {"model": HtsgetError | Error}}
)


def _hterr(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"htsget": {"error": error, "message": message}}, status_code=status, media_type="application/json"
    )


@router.get("/reads/service-info", response_model=ServiceInfo)
def reads_service_info() -> dict[str, Any]:
    return _service_info("htsget", "1.3.0")


@router.get("/variants/service-info", response_model=ServiceInfo)
def variants_service_info() -> dict[str, Any]:
    return _service_info("htsget", "1.3.0")


def _check(
    kind: str, fmt: str | None, ref: str | None, start: int | None, end: int | None, klass: str | None
) -> tuple[str, JSONResponse | None]:
    fmt = fmt or FORMATS[kind][0]
    if fmt not in FORMATS[kind]:
        served = " or ".join(FORMATS[kind])
        return fmt, _hterr(400, "UnsupportedFormat", f"{kind} are served as {served}, not {fmt!r}")
    if klass not in (None, "header", "body"):
        return fmt, _hterr(400, "InvalidInput", f"unknown class {klass!r}")
    if (start is not None or end is not None) and not ref:
        return fmt, _hterr(400, "InvalidInput", "start and end need referenceName")
    if klass == "header" and (ref or start is not None or end is not None):
        return fmt, _hterr(400, "InvalidInput", "class=header takes no region")
    if start is not None and end is not None and start > end:
        return fmt, _hterr(400, "InvalidRange", f"start {start} is after end {end}")
    return fmt, None


def _ticket(
    request: Request,
    kind: str,
    object_id: str,
    fmt: str | None,
    ref: str | None,
    start: int | None,
    end: int | None,
    klass: str | None,
) -> Any:
    fmt, bad = _check(kind, fmt, ref, start, end, klass)
    if bad is not None:
        return bad
    try:
        obj = visible_object(request, object_id)
    except HTTPException:
        return _hterr(404, "NotFound", f"no {kind} object {object_id!r}")
    if obj.kind not in OBJECT_KINDS[kind]:
        return _hterr(404, "NotFound", f"object {object_id!r} is not {kind}")
    if ref and ref not in _references(request, obj, kind):
        return _hterr(404, "NotFound", f"reference {ref!r} is not in {kind} object {object_id!r}")
    params = {"kind": kind, "format": fmt, "referenceName": ref, "start": start, "end": end, "class": klass}
    url = ctx(request).signer.sign(
        f"/htsget/data/{obj.id}",
        {k: str(v) for k, v in params.items() if v is not None},
        caller(request).name,
    )
    entry: dict[str, Any] = {"url": str(request.base_url).rstrip("/") + url}
    if klass:
        entry["class"] = klass
    return {"htsget": {"format": fmt, "urls": [entry]}}


def _references(request: Request, obj: DataObject, kind: str) -> list[str]:
    """Reference names in the object's header, so an unknown one is NotFound at the ticket, not a 200
    ticket whose data URL then fails (clients such as samtools report the latter as an I/O error). The
    object is decrypted into scratch for this, streamed (bounded memory); the names are cached per
    object id (objects never change)."""
    if obj.id in _REFS:
        return _REFS[obj.id]
    tmp = FsPath(tempfile.mkdtemp(prefix="hts-", dir=ctx(request).scratch))
    try:
        src = tmp / f"src{FILES[obj.kind][0]}"
        save_plaintext(ctx(request).gov.store(obj.project), obj.uri, src)
        if kind == "reads":
            with pysam.AlignmentFile(str(src), "rb", check_sq=False) as f:
                names = list(f.references)
        else:
            with pysam.VariantFile(str(src)) as f:
                names = list(f.header.contigs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if len(_REFS) > 1024:
        _REFS.clear()
    _REFS[obj.id] = names
    return names


_REFS: dict[str, list[str]] = {}


def is_htsget_path(path: str) -> bool:
    """Ticket and data paths, whose errors must have the htsget shape even when FastAPI validates them."""
    return path.startswith(("/reads/", "/variants/", "/htsget/data/")) and not path.endswith("/service-info")


def validation_error(message: str) -> JSONResponse:
    return _hterr(400, "InvalidInput", message)


def StartQ() -> Any:  # noqa: N802 - a fresh Query() per parameter
    return Query(None, ge=0, le=2**31 - 1)


def RefQ() -> Any:  # noqa: N802
    return Query(None, alias="referenceName", min_length=1, max_length=255)


def ClassQ() -> Any:  # noqa: N802
    return Query(None, alias="class", max_length=16)


def FmtQ() -> Any:  # noqa: N802
    return Query(None, alias="format", max_length=16)


def _ticket_route(kind: str) -> None:
    """GET /{kind}/{object_id}: the htsget ticket for one object of that kind (reads or variants)."""

    def ticket(
        request: Request,
        object_id: str = IdP(),
        fmt: str | None = FmtQ(),
        ref: str | None = RefQ(),
        start: int | None = StartQ(),
        end: int | None = StartQ(),
        klass: str | None = ClassQ(),
    ) -> Any:
        return _ticket(request, kind, object_id, fmt, ref, start, end, klass)

    router.add_api_route(
        f"/{kind}/{{object_id}}", ticket, methods=["GET"], response_model=HtsgetTicket, name=kind
    )


for _kind in OBJECT_KINDS:
    _ticket_route(_kind)


@router.get(
    "/htsget/data/{object_id}",
    response_class=FileResponse,
    responses={200: {"content": {"application/vnd.ga4gh.bam": {}, "application/vnd.ga4gh.vcf": {}}}},
)
def htsget_data(
    request: Request,
    object_id: str = IdP(),
    kind: Literal["reads", "variants"] = Query(...),
    fmt: str | None = FmtQ(),
    ref: str | None = RefQ(),
    start: int | None = StartQ(),
    end: int | None = StartQ(),
    klass: str | None = ClassQ(),
    u: str = Query(..., max_length=128),
    exp: str = Query(..., max_length=20),
    sig: str = Query(..., max_length=64),
) -> Any:
    obj = get_object(ctx(request).gov, object_id)
    note(request, resource=f"object/{object_id}", region=f"{ref}:{start}-{end}" if ref else "")
    if obj is None or obj.kind not in OBJECT_KINDS[kind]:
        return _hterr(404, "NotFound", f"no {kind} object {object_id!r}")
    note(request, project=obj.project)
    fmt, bad = _check(kind, fmt, ref, start, end, klass)
    if bad is not None:
        return bad
    tmp = FsPath(tempfile.mkdtemp(prefix="hts-", dir=ctx(request).scratch))
    try:
        out = _cut(request, obj, tmp, fmt, ref, start, end, header_only=klass == "header")
    except KeyError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        return _hterr(404, "NotFound", f"reference {ref!r} is not in {object_id!r} ({err})")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(out, media_type=MEDIA[fmt], background=BackgroundTask(shutil.rmtree, tmp, True))


def _cut(
    request: Request,
    obj: DataObject,
    tmp: FsPath,
    fmt: str,
    ref: str | None,
    start: int | None,
    end: int | None,
    *,
    header_only: bool,
) -> FsPath:
    """The region of the object as `fmt`. A CRAM out is written with `embed_ref=2` (htslib embeds the
    reference it derives from the reads), so it decodes without the FASTA, like the CRAM the pipeline
    stored (genomics/cram.py); a CRAM object read here needs none either (its reference is embedded)."""
    store = ctx(request).gov.store(obj.project)
    ext, idx = FILES[obj.kind]
    reads = obj.kind in OBJECT_KINDS["reads"]
    src = tmp / f"src{ext}"
    save_plaintext(store, obj.uri, src)
    if obj.index_uri:
        idx_ext = ".csi" if obj.index_uri.removesuffix(".enc").endswith(".csi") else idx
        save_plaintext(store, obj.index_uri, tmp / f"src{ext}{idx_ext}")
    elif ref:
        pysam.index(str(src)) if reads else pysam.tabix_index(str(src), preset="vcf", force=True)
    if reads:
        out = tmp / ("out.cram" if fmt == "CRAM" else "out.bam")
        mode, opts = ("wc", ["embed_ref=2"]) if fmt == "CRAM" else ("wb", None)
        with (
            pysam.AlignmentFile(str(src)) as f,
            pysam.AlignmentFile(str(out), mode, template=f, format_options=opts) as o,
        ):
            if not header_only:
                if ref and ref not in f.references:
                    raise KeyError(ref)
                for r in f.fetch(ref, start, end) if ref else f.fetch(until_eof=True):
                    o.write(r)
    else:
        out = tmp / "out.vcf.gz"
        with pysam.VariantFile(str(src)) as f, pysam.VariantFile(str(out), "wz", header=f.header) as o:
            if not header_only:
                if ref and ref not in f.header.contigs:
                    raise KeyError(ref)
                for rec in f.fetch(ref, start, end) if ref else f.fetch():
                    o.write(rec)
    return out
