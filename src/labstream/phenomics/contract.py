"""The phenomics (Cell Painting) pipeline's contract: settings, layouts, stages, tables, faces.

labstream watch PLATES_DIR --pipeline phenomics [--config phenomics.toml]
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, FilePath, model_validator

from labstream.phenomics.stages import pipeline as phenomics_pipeline
from labstream.phenomics.stages.tables import ACTIVITY, CELLS, HITS, PROFILES, SITE_QC, WELLS
from labstream.runtime.contract import Faces, PipelineContract, PipelineSettings, Summary
from labstream.runtime.stage import Pipeline

__all__ = ["CONTRACT", "PhenomicsSettings"]


class PhenomicsSettings(PipelineSettings):
    """Where the plate metadata is and how long a plate may wait for a missing image."""

    platemap: FilePath | None = Field(
        None,
        description="platemap CSV (plate, well, perturbation, role[, sites]); default: platemap.csv "
        "beside the images or up to three folders above",
    )
    relationships: FilePath | None = Field(
        None, description="CSV of known gene relationships (gene_a, gene_b) for the recall metric"
    )
    sites_per_well: int = Field(1, ge=1, le=10_000, description="fields imaged per well (without `sites`)")
    site_timeout_s: float | None = Field(
        120.0, gt=0, description="seconds a site waits for its missing channels before it is quarantined"
    )
    plate_timeout_s: float | None = Field(
        3600.0, gt=0, description="seconds a plate waits for missing sites before it is profiled without them"
    )
    layout: str | None = Field(
        None,
        description="image layout to read (phenix, imagexpress, cellvoyager, ome-tiff, site-tiff, rxrx-png, "
        "pattern); default: detected from each file's name",
    )
    name_pattern: str | None = Field(
        None,
        description="a user-declared layout: regular expression with (?P<plate>), (?P<well>), (?P<channel>) "
        "and optional (?P<site>), (?P<plane>) fields, as CellProfiler's metadata extraction",
    )
    channels: dict[str, str] | str | None = Field(
        None,
        description='channel map: {DNA = "w1", ER = "w2", RNA = "w3", AGP = "w4", Mito = "w5"} as the files '
        "name their channels; default: the stain names in the metadata, else channel 1..5 in that order",
    )
    projection: Literal["max", "mean", "sum"] = Field("max", description="how z planes of a field combine")

    @model_validator(mode="after")
    def _readable(self) -> PhenomicsSettings:
        """A bad layout, pattern or channel map fails when the settings load, not on the first file."""
        from labstream.core.errors import ConfigError
        from labstream.phenomics.reading import ReadOptions

        try:
            ReadOptions(self.layout, self.name_pattern, self.channels, self.projection).layouts()
        except ConfigError as err:
            raise ValueError(str(err)) from None
        return self


def build(settings: PhenomicsSettings, input_topic: str) -> Pipeline:
    return phenomics_pipeline(
        platemap=str(settings.platemap) if settings.platemap else None,
        relationships=str(settings.relationships) if settings.relationships else None,
        sites_per_well=settings.sites_per_well,
        input_topic=input_topic,
        site_timeout_s=settings.site_timeout_s,
        plate_timeout_s=settings.plate_timeout_s,
        read={
            "layout": settings.layout,
            "name_pattern": settings.name_pattern,
            "channels": settings.channels,
            "projection": settings.projection,
        },
    )


CONTRACT = PipelineContract(
    name="phenomics",
    summary="Cell Painting sites -> QC, segmentation, per-cell features, well profiles, map, hit list",
    settings=PhenomicsSettings,
    layouts=("phenix", "cellvoyager", "imagexpress", "ome-tiff", "site-tiff", "rxrx-png", "ome-zarr"),
    tables=(CELLS, SITE_QC, WELLS, PROFILES, ACTIVITY, HITS),
    build=build,
    faces=Faces(
        summaries=(
            Summary(
                "cells per plate",
                "SELECT Metadata_Plate AS plate, count(DISTINCT Metadata_Well) AS wells, count(*) AS cells "
                "FROM cells GROUP BY 1 ORDER BY 1",
            ),
            Summary(
                "site QC",
                "SELECT Metadata_Plate AS plate, count(*) AS sites, "
                "count(*) FILTER (WHERE NOT qc_pass) AS failed FROM site_qc GROUP BY 1 ORDER BY 1",
            ),
        ),
        dashboard=("plates", "hits"),
    ),
)
