"""The cohort variant lake over REST, scoped by project like every other route, and a GA4GH Beacon v2
`g_variants` endpoint with allele frequencies.

Every answer covers only the samples of the projects the caller may read (narrowed by `?project=`): a
project's sub-cohort, with AC/AN/AF exact over exactly those samples. Beacon v2 coordinates are 0-based
(`start` inclusive, `end` exclusive); the REST routes take 1-based regions like the CLI.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from labstream.api.deps import ERRORS, LimitQ, OffsetQ, Page, ProjectQ, ctx, jsonable, note, scope_projects

router = APIRouter(prefix="/api/v1", responses=ERRORS)
beacon = APIRouter(prefix="/beacon/v2", responses=ERRORS)

BEACON_ID = "org.labstream.beacon"
API_VERSION = "v2.0.0"
_REGION = r"^[A-Za-z0-9_.]{1,64}(:[0-9]{1,10}(-[0-9]{1,10})?)?$"
_BASES = r"^[ACGTN]{1,1000}$"


def cohort_store(request: Request) -> Any:
    """The app's cohort over its lake (one per app: warm summaries), or None when the lake holds none
    (a read never creates the cohort's tables)."""
    state = request.app.state
    store = getattr(state, "cohort_store", None)
    if store is None:
        from labstream.cohort import CohortStore
        from labstream.cohort.schema import CALLS

        lake = ctx(request).lake
        if lake is None or CALLS.name not in lake.tables():
            return None
        store = state.cohort_store = CohortStore(lake)
    return store


def _stats(request: Request, projects: list[str], region: str | None, samples: list[str] | None) -> Any:
    from labstream.cohort import allele_stats

    store = cohort_store(request)
    if store is None or not projects:
        return None
    return allele_stats(store, region, samples, projects=projects)


@router.get("/cohort/stats", response_model=Page)
def cohort_stats(
    request: Request,
    project: str | None = ProjectQ(),
    region: str | None = Query(None, pattern=_REGION, description="contig, contig:pos or contig:start-end"),
    samples: str | None = Query(None, max_length=20_000, description="comma-separated sub-cohort"),
    offset: int = OffsetQ(),
    limit: int = LimitQ(),
) -> Page:
    """AC, AN, AF, het/hom-alt counts and call rate per site (start 0-based) over the samples of the
    caller's projects (or `project`), optionally a sub-cohort of them."""
    projects = scope_projects(request, "read", project)
    note(request, resource=f"cohort/{region or '*'}")
    chosen = [s for s in samples.split(",") if s] if samples else None
    t = _stats(request, projects, region, chosen)
    rows = [] if t is None else t.slice(offset, limit).to_pylist()
    more = t is not None and offset + limit < t.num_rows
    return Page(
        items=jsonable(rows), offset=offset, limit=limit, next_offset=offset + limit if more else None
    )


class CarrierOut(BaseModel):
    sample: str
    ref: str
    alt: str
    ac: int
    an: int
    dp: int | None = None
    gq: int | None = None


@router.get("/cohort/carriers", response_model=list[CarrierOut])
def cohort_carriers(
    request: Request,
    contig: str = Query(..., pattern=r"^[A-Za-z0-9_.]{1,64}$"),
    pos: int = Query(..., ge=1, le=4_000_000_000, description="1-based"),
    ref: str | None = Query(None, pattern=_BASES),
    alt: str | None = Query(None, pattern=_BASES),
    project: str | None = ProjectQ(),
) -> list[CarrierOut]:
    """The samples of the caller's projects carrying an alternate allele at `contig`:`pos`."""
    from labstream.cohort import carriers

    projects = scope_projects(request, "read", project)
    note(request, resource=f"cohort/{contig}:{pos}")
    store = cohort_store(request)
    if store is None or not projects:
        return []
    return [CarrierOut(**r) for r in carriers(store, contig, pos, ref, alt, projects=projects).to_pylist()]


# -- GA4GH Beacon v2 ------------------------------------------------------------------------------------


class SchemaRef(BaseModel):
    entityType: str  # noqa: N815 - Beacon v2 names
    schema_: str = Field(..., alias="schema")


class BeaconMeta(BaseModel):
    beaconId: str  # noqa: N815
    apiVersion: str  # noqa: N815
    returnedGranularity: str  # noqa: N815
    receivedRequestSummary: dict[str, Any]  # noqa: N815
    returnedSchemas: list[SchemaRef]  # noqa: N815


class ResponseSummary(BaseModel):
    exists: bool
    numTotalResults: int | None = None  # noqa: N815


class ResultSet(BaseModel):
    id: str
    setType: str  # noqa: N815
    exists: bool
    resultsCount: int  # noqa: N815
    results: list[dict[str, Any]] = Field(default_factory=list)


class ResultSets(BaseModel):
    resultSets: list[ResultSet]  # noqa: N815


class BeaconResponse(BaseModel):
    meta: BeaconMeta
    responseSummary: ResponseSummary  # noqa: N815
    response: ResultSets


class BeaconInfo(BaseModel):
    meta: dict[str, Any]
    response: dict[str, Any]


class RequestParameters(BaseModel):
    referenceName: str = Field(..., pattern=r"^[A-Za-z0-9_.]{1,64}$")  # noqa: N815
    start: list[int] = Field(..., min_length=1, max_length=2)
    end: list[int] | None = Field(None, min_length=1, max_length=2)
    referenceBases: str | None = Field(None, pattern=_BASES)  # noqa: N815
    alternateBases: str | None = Field(None, pattern=_BASES)  # noqa: N815
    assemblyId: str | None = Field(None, max_length=64)  # noqa: N815


class Pagination(BaseModel):
    skip: int = Field(0, ge=0, le=1_000_000_000)
    limit: int = Field(10, ge=1, le=1000)


class BeaconQuery(BaseModel):
    requestParameters: RequestParameters  # noqa: N815
    requestedGranularity: str = Field("record", pattern=r"^(boolean|count|record)$")  # noqa: N815
    pagination: Pagination = Field(default_factory=Pagination)


class BeaconRequest(BaseModel):
    meta: dict[str, Any] = Field(default_factory=dict)
    query: BeaconQuery


@beacon.get("/info", response_model=BeaconInfo)
def beacon_info() -> BeaconInfo:
    """The Beacon's identity (Beacon v2 `/info`)."""
    meta = {"beaconId": BEACON_ID, "apiVersion": API_VERSION, "returnedSchemas": []}
    return BeaconInfo(
        meta=meta,
        response={
            "id": BEACON_ID,
            "name": "labstream cohort Beacon",
            "apiVersion": API_VERSION,
            "environment": "prod",
            "organization": {"id": "labstream", "name": "labstream"},
        },
    )


def _variant(r: dict[str, Any], projects: list[str]) -> dict[str, Any]:
    """One cohort site as a Beacon v2 genomicVariation record (VRS-like location, 0-based interbase)."""
    start, ref, alt = int(r["start"]), r["ref"], r["alt"]
    kind = "SNP" if len(ref) == 1 and len(alt) == 1 else "INDEL"
    return {
        "variantInternalId": f"{r['contig']}:{start + 1}:{ref}:{alt}",
        "variation": {
            "location": {
                "type": "SequenceLocation",
                "sequence_id": r["contig"],
                "interval": {
                    "type": "SequenceInterval",
                    "start": {"type": "Number", "value": start},
                    "end": {"type": "Number", "value": start + len(ref)},
                },
            },
            "referenceBases": ref,
            "alternateBases": alt,
            "variantType": kind,
        },
        "frequencyInPopulations": [
            {
                "source": "labstream cohort",
                "sourceReference": f"projects: {', '.join(projects)}",
                "frequencies": [
                    {
                        "population": "cohort",
                        "alleleFrequency": float(r["af"]) if r["af"] is not None else 0.0,
                        "alleleCount": int(r["ac"]),
                        "alleleNumber": int(r["an"]),
                        "alleleCountHomozygous": int(r["n_homalt"]),
                        "alleleCountHeterozygous": int(r["n_het"]),
                    }
                ],
            }
        ],
    }


def answer(request: Request, q: BeaconQuery, project: str | None) -> BeaconResponse:
    """Run one g_variants query over the caller's projects' sub-cohort."""
    from labstream.cohort import Region

    p = q.requestParameters
    projects = scope_projects(request, "read", project)
    start = p.start[0]
    end = p.end[-1] if p.end else start + 1
    if start < 0 or end <= start or end - start > 10_000_000:
        raise HTTPException(400, f"start {p.start} / end {p.end}: need 0 <= start < end, at most 10 Mb apart")
    note(request, resource=f"beacon/{p.referenceName}:{start}-{end}")
    t = _stats(request, projects, Region(p.referenceName, start, end), None)
    rows = [] if t is None else t.to_pylist()
    rows = [
        r
        for r in rows
        if r["ac"] > 0
        and (p.referenceBases is None or r["ref"] == p.referenceBases)
        and (p.alternateBases is None or r["alt"] == p.alternateBases)
    ]
    page = rows[q.pagination.skip : q.pagination.skip + q.pagination.limit]
    granularity = q.requestedGranularity
    results = [_variant(r, projects) for r in page] if granularity == "record" else []
    schema = SchemaRef(entityType="genomicVariant", schema="beacon-g_variant-v2.0.0")
    summary = {
        "apiVersion": API_VERSION,
        "requestedSchemas": [schema.model_dump(by_alias=True)],
        "pagination": q.pagination.model_dump(),
        "requestedGranularity": granularity,
        "requestParameters": p.model_dump(exclude_none=True),
    }
    return BeaconResponse(
        meta=BeaconMeta(
            beaconId=BEACON_ID,
            apiVersion=API_VERSION,
            returnedGranularity=granularity,
            receivedRequestSummary=summary,
            returnedSchemas=[schema],
        ),
        responseSummary=ResponseSummary(
            exists=bool(rows), numTotalResults=None if granularity == "boolean" else len(rows)
        ),
        response=ResultSets(
            resultSets=[
                ResultSet(
                    id="cohort:" + ",".join(projects),
                    setType="dataset",
                    exists=bool(rows),
                    resultsCount=len(rows),
                    results=results,
                )
            ]
        ),
    )


@beacon.get("/g_variants", response_model=BeaconResponse, response_model_by_alias=True)
def g_variants_get(
    request: Request,
    referenceName: str = Query(..., pattern=r"^[A-Za-z0-9_.]{1,64}$"),  # noqa: N803 - Beacon names
    start: list[int] = Query(..., min_length=1, max_length=2),
    end: list[int] | None = Query(None, min_length=1, max_length=2),
    referenceBases: str | None = Query(None, pattern=_BASES),  # noqa: N803
    alternateBases: str | None = Query(None, pattern=_BASES),  # noqa: N803
    assemblyId: str | None = Query(None, max_length=64),  # noqa: N803
    requestedGranularity: str = Query("record", pattern=r"^(boolean|count|record)$"),  # noqa: N803
    skip: int = Query(0, ge=0, le=1_000_000_000),
    limit: int = Query(10, ge=1, le=1000),
    project: str | None = ProjectQ(),
) -> BeaconResponse:
    """Beacon v2 sequence query (0-based `start`, exclusive `end`): the cohort's variants there with
    their allele frequency among the samples of the caller's projects."""
    q = BeaconQuery(
        requestParameters=RequestParameters(
            referenceName=referenceName, start=start, end=end, referenceBases=referenceBases,
            alternateBases=alternateBases, assemblyId=assemblyId,
        ),
        requestedGranularity=requestedGranularity,
        pagination=Pagination(skip=skip, limit=limit),
    )  # fmt: skip
    return answer(request, q, project)


@beacon.post("/g_variants", response_model=BeaconResponse, response_model_by_alias=True)
def g_variants_post(
    request: Request, body: BeaconRequest, project: str | None = ProjectQ()
) -> BeaconResponse:
    """The same query as a Beacon v2 request body (`query.requestParameters`, `pagination`)."""
    return answer(request, body.query, project)
