"""The phenomics public API: `__all__` of the package and of each sub-package, pinned (httpx-style),
and every name resolves. A change here is a change of the public API: say so in the commit."""

import importlib

import pytest

import labstream.phenomics as ph

PINNED = {
    "reading": [
        "STAIN_ALIASES",
        "Planes",
        "ReadOptions",
        "SiteFiles",
        "Source",
        "channel_setting",
        "identify",
        "plate_channels",
        "read_source",
        "resolve_channels",
        "stain_of",
        "discover",
        "discover_zarr",
        "load_site",
        "packed_key",
        "parse_name",
        "read_channel",
        "read_packed_field",
        "read_platemap",
        "read_relationships",
        "read_zarr_site",
        "rxrx_listed_sites",
        "stack_site",
        "write_zarr_field",
        "write_zarr_plate",
        "write_zarr_plate_metadata",
    ],
    "image": [
        "IlluminationAccumulator",
        "QCThresholds",
        "Segmentation",
        "SiteQC",
        "block_mean",
        "correct",
        "focus_score",
        "get_segmenter",
        "register_segmenter",
        "saturation",
        "segment",
        "site_qc",
        "value_at",
    ],
    "features": [
        "cell_feature_block",
        "cell_feature_names",
        "cell_features",
        "feature_columns",
        "illumination_scaled",
        "reference_feature_block",
    ],
    "profiling": [
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
    ],
    "stages": [
        "CHANNELS_TOPIC",
        "FEEDBACK_TOPIC",
        "INPUT_TOPIC",
        "PLATES_TOPIC",
        "SITES_TOPIC",
        "pipeline",
        "profile_via_platform",
        "unit_name",
        "with_units",
    ],
}


def test_phenomics_exports() -> None:
    assert "profile_directory" in ph.__all__ and "pipeline" in ph.__all__
    for name in ph.__all__:
        assert getattr(ph, name) is not None, name


@pytest.mark.parametrize("sub", sorted(PINNED))
def test_subpackage_exports_are_pinned(sub: str) -> None:
    module = importlib.import_module(f"labstream.phenomics.{sub}")
    assert module.__doc__, sub  # each step says what it does
    assert module.__all__ == PINNED[sub]
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{sub}.{name}"
