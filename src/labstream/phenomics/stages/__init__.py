"""The phenomics chain on the platform: runtime stages, their lake tables, and a folder run through them.

`cell_painting` declares the route, site and plate stages and `pipeline()`; `map_stage` re-aligns the
completed plates and refreshes the map; `tables` declares the lake tables they write (`units`: the
unit of each cells column); `platform_run` profiles a folder through ingest, stream, stages and lake
on embedded defaults.
"""

from __future__ import annotations

from labstream.phenomics.stages.cell_painting import (
    CHANNELS_TOPIC,
    FEEDBACK_TOPIC,
    INPUT_TOPIC,
    PLATES_TOPIC,
    SITES_TOPIC,
    pipeline,
)
from labstream.phenomics.stages.platform_run import profile_via_platform
from labstream.phenomics.stages.units import unit_name, with_units

__all__ = [
    "CHANNELS_TOPIC",
    "FEEDBACK_TOPIC",
    "INPUT_TOPIC",
    "PLATES_TOPIC",
    "SITES_TOPIC",
    "pipeline",
    "profile_via_platform",
    "unit_name",
    "with_units",
]
