"""The phenomics (Cell Painting) pipeline's contract: settings, layouts, stages, tables, faces.

labstream watch PLATES_DIR --pipeline phenomics [--config phenomics.toml]
"""

from __future__ import annotations

from pydantic import Field, FilePath, model_validator

from labstream.core.errors import ConfigError
from labstream.phenomics.read_settings import ReadOptions
from labstream.phenomics.stages import pipeline as phenomics_pipeline
from labstream.phenomics.stages.tables import ACTIVITY, CELLS, HITS, PROFILES, SITE_QC, WELLS
from labstream.runtime.contract import Faces, PipelineContract, PipelineSettings, Summary
from labstream.runtime.stage import Pipeline

__all__ = ["CONTRACT", "PhenomicsSettings"]


class PlateSettings(PipelineSettings):
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


class PhenomicsSettings(ReadOptions, PlateSettings):
    """The plate settings, then how the images are read (`ReadOptions`' fields, declared there)."""

    @model_validator(mode="after")
    def _readable(self) -> PhenomicsSettings:
        """A bad layout, pattern or channel map fails when the settings load, not on the first file."""
        try:
            self.check()
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
        read=settings,
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
