"""Cell Painting phenomics: images -> per-cell features -> normalised, aligned profiles -> a map of biology.

Pure science functions (no platform needed) plus the stages that run them on the stream. Names are
imported lazily so `import labstream.phenomics` stays cheap:

    profile_directory(images, platemap, out, relationships)   # the whole chain on a folder
    process_site(key, files) / measure_site(SiteImage)          # one site: QC, segmentation, features
    pipeline(platemap=None, relationships=None)                 # the platform stages (labstream.runtime)
"""

from __future__ import annotations

from labstream.core.lazy import lazy_exports

_EXPORTS = {
    "CHANNELS": "model",
    "SiteImage": "model",
    "SiteKey": "model",
    "discover": "reading",
    "load_site": "reading",
    "read_platemap": "reading",
    "site_qc": "image",
    "segment": "image",
    "register_segmenter": "image",
    "cell_features": "features",
    "measure_site": "site",
    "process_site": "site",
    "aggregate_wells": "profiling",
    "mad_robustize": "profiling",
    "tvn": "profiling",
    "select_features": "profiling",
    "consensus": "profiling",
    "phenotypic_activity": "profiling",
    "known_relationship_recall": "profiling",
    "hit_list": "profiling",
    "follow_up_layout": "profiling",
    "build_map": "profiling",
    "profile_directory": "chain",
    "pipeline": "stages",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
