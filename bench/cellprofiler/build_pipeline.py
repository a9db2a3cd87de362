"""Write a Cell Painting CellProfiler pipeline (.cppipe) for the bench's simulated sites.

Runs inside the separate CellProfiler venv (`make bench-cellprofiler` makes it), never in labstream's:
    .venv-cellprofiler/bin/python bench/cellprofiler/build_pipeline.py OUT.cppipe --size 256
The pipeline is built through cellprofiler_core's module API and saved with CellProfiler's own writer,
so the file is exactly what CellProfiler would save; the recipe follows the published Cell Painting
analysis pipelines (Bray et al. 2016; the JUMP "analysis" pipeline): LoadData -> nuclei (DNA) ->
cells (propagation on RNA) -> cytoplasm -> size/shape, intensity, texture, granularity,
colocalization, radial distribution, neighbours -> ExportToSpreadsheet. No illumination correction
module: the simulated fields are measured as they are by both engines' per-site code.
"""

from __future__ import annotations

import argparse
import logging

CHANNELS = ("DNA", "ER", "RNA", "AGP", "Mito")
OBJECTS = ("Nuclei", "Cells", "Cytoplasm")


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names)  # CellProfiler's list settings hold one comma-separated string


def _threshold_otsu(module: object) -> None:
    t = module.threshold  # type: ignore[attr-defined]
    t.threshold_scope.value = "Global"
    t.global_operation.value = "Otsu"
    t.two_class_otsu.value = "Two classes"


def build(size: int) -> object:
    """The pipeline for `size`-pixel square sites (object sizes scale with the simulator's)."""
    import cellprofiler_core.preferences as prefs

    prefs.set_headless()
    from cellprofiler.modules import (
        exporttospreadsheet,
        identifyprimaryobjects,
        identifysecondaryobjects,
        identifytertiaryobjects,
        measurecolocalization,
        measuregranularity,
        measureobjectintensity,
        measureobjectintensitydistribution,
        measureobjectneighbors,
        measureobjectsizeshape,
        measuretexture,
    )
    from cellprofiler_core.modules.loaddata import LoadData
    from cellprofiler_core.pipeline import Pipeline

    scale = size / 256.0  # the simulator draws nuclei of radius ~6.5 px per 256 px of field
    mods: list[object] = []

    load = LoadData()
    load.csv_directory.value = "Default Input Folder|"
    load.csv_file_name.value = "load_data.csv"
    load.wants_images.value = True
    load.image_directory.value = "Default Input Folder|"
    load.rescale.value = True
    mods.append(load)

    nuc = identifyprimaryobjects.IdentifyPrimaryObjects()
    nuc.x_name.value, nuc.y_name.value = "DNA", "Nuclei"
    nuc.size_range.value = (max(3, round(6 * scale)), round(30 * scale))
    nuc.exclude_size.value = True
    nuc.exclude_border_objects.value = True
    nuc.use_advanced.value = True
    nuc.unclump_method.value = "Shape"
    nuc.watershed_method.value = "Shape"
    nuc.fill_holes.value = "After both thresholding and declumping"
    _threshold_otsu(nuc)
    mods.append(nuc)

    cells = identifysecondaryobjects.IdentifySecondaryObjects()
    cells.x_name.value, cells.y_name.value = "Nuclei", "Cells"
    cells.method.value = "Propagation"
    cells.image_name.value = "RNA"
    cells.regularization_factor.value = 0.05
    cells.fill_holes.value = True
    _threshold_otsu(cells)
    mods.append(cells)

    cyto = identifytertiaryobjects.IdentifyTertiaryObjects()
    cyto.secondary_objects_name.value, cyto.primary_objects_name.value = "Cells", "Nuclei"
    cyto.subregion_objects_name.value = "Cytoplasm"
    cyto.shrink_primary.value = True
    mods.append(cyto)

    shape = measureobjectsizeshape.MeasureObjectSizeShape()
    shape.objects_list.value = _names(OBJECTS)
    shape.calculate_zernikes.value = True
    shape.calculate_advanced.value = False
    mods.append(shape)

    inten = measureobjectintensity.MeasureObjectIntensity()
    inten.images_list.value, inten.objects_list.value = _names(CHANNELS), _names(OBJECTS)
    mods.append(inten)

    gran = measuregranularity.MeasureGranularity()
    gran.images_list.value = _names(CHANNELS)
    gran.wants_objects.value = True
    gran.objects_list.value = _names(OBJECTS)
    mods.append(gran)

    tex = measuretexture.MeasureTexture()
    tex.images_list.value, tex.objects_list.value = _names(CHANNELS), _names(OBJECTS)
    tex.images_or_objects.value = "Objects"
    tex.gray_levels.value = 256
    tex.scale_groups[0].scale.value = 3
    tex.add_scale()
    tex.scale_groups[1].scale.value = 5
    mods.append(tex)

    coloc = measurecolocalization.MeasureColocalization()
    coloc.images_list.value = _names(CHANNELS)
    coloc.images_or_objects.value = "Within objects"
    coloc.objects_list.value = _names(OBJECTS)
    coloc.do_all.value = True
    coloc.fast_costes.value = "Faster"
    mods.append(coloc)

    radial = measureobjectintensitydistribution.MeasureObjectIntensityDistribution()
    radial.images_list.value = _names(CHANNELS)
    radial.objects[0].object_name.value = "Cells"
    radial.objects[0].center_choice.value = "Centers of other objects"
    radial.objects[0].center_object_name.value = "Nuclei"
    radial.add_object()
    radial.objects[1].object_name.value = "Cytoplasm"
    radial.objects[1].center_choice.value = "Centers of other objects"
    radial.objects[1].center_object_name.value = "Nuclei"
    radial.add_object()
    radial.objects[2].object_name.value = "Nuclei"
    radial.bin_counts[0].bin_count.value = 4
    radial.bin_counts[0].wants_scaled.value = True
    radial.wants_zernikes.value = "Magnitudes only"
    mods.append(radial)

    for obj in ("Cells", "Nuclei"):
        nb = measureobjectneighbors.MeasureObjectNeighbors()
        nb.object_name.value = nb.neighbors_name.value = obj
        nb.distance_method.value = (
            "Expand until adjacent" if obj == "Cells" else "Within a specified distance"
        )
        nb.distance.value = max(1, round(5 * scale))
        mods.append(nb)

    export = exporttospreadsheet.ExportToSpreadsheet()
    export.directory.value = "Default Output Folder|"
    export.wants_prefix.value = False
    export.wants_everything.value = True
    export.wants_overwrite_without_warning.value = True
    export.add_metadata.value = True
    mods.append(export)

    pipe = Pipeline()
    for i, m in enumerate(mods, start=1):
        m.set_module_num(i)  # type: ignore[attr-defined]
        pipe.add_module(m)
    return pipe


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    logging.disable(logging.WARNING)  # "MySQL could not be loaded": ExportToDatabase is not used
    pipe = build(a.size)
    with open(a.out, "w") as fd:
        pipe.dump(fd)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
