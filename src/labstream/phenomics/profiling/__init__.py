"""Profiling and the map: cells -> well profiles -> normalised, aligned perturbation profiles -> map, hits.

In the order of the science: `plate` corrects a complete plate's cells for illumination and builds its
well profiles (`aggregate`, then `normalize` against negative controls); across plates `select` keeps
informative features, `align` / `align_choice` align batches (TVN, sphering; chosen on controls only),
`profiles` forms consensus profiles, `map` scores phenotypic activity and known-relationship recall, and
`hits` turns that into a hit list and a follow-up layout. `figures` draws QC heatmaps and the map.
"""

from __future__ import annotations

from labstream.phenomics.profiling.aggregate import aggregate_wells
from labstream.phenomics.profiling.align import replicate_sphering, tvn
from labstream.phenomics.profiling.align_choice import choose_alignment
from labstream.phenomics.profiling.figures import qc_heatmaps, similarity_map
from labstream.phenomics.profiling.hits import follow_up_layout, hit_list
from labstream.phenomics.profiling.map import (
    activity_records,
    average_precision,
    known_relationship_recall,
    phenotypic_activity,
)
from labstream.phenomics.profiling.normalize import mad_robustize
from labstream.phenomics.profiling.plate import MapResult, build_map, correct_cells, plate_well_profiles
from labstream.phenomics.profiling.profiles import consensus, cosine_matrix, feature_names
from labstream.phenomics.profiling.select import drop_outliers, select_features

__all__ = [
    "MapResult",
    "activity_records",
    "aggregate_wells",
    "average_precision",
    "build_map",
    "choose_alignment",
    "consensus",
    "correct_cells",
    "cosine_matrix",
    "drop_outliers",
    "feature_names",
    "follow_up_layout",
    "hit_list",
    "known_relationship_recall",
    "mad_robustize",
    "phenotypic_activity",
    "plate_well_profiles",
    "qc_heatmaps",
    "replicate_sphering",
    "select_features",
    "similarity_map",
    "tvn",
]
