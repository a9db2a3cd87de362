"""How a folder of microscope images is read: the four read settings of phenomics, declared once.

`ReadOptions` is what the readers take (`reading.sites`). The phenomics pipeline's settings extend it
(the TOML keys `layout`, `name_pattern`, `channels`, `projection`), and `labstream phenomics profile`
makes its options from its fields (`read_option`): one default and one help text for all three.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from labstream.core.errors import ConfigError

if TYPE_CHECKING:
    from labstream.layouts import Layout

__all__ = ["PROJECTIONS", "ReadOptions"]

PROJECTIONS = ("max", "mean", "sum")


class ReadOptions(BaseModel):
    """How to read a folder. An unknown projection or a bad channel map is a ConfigError when made;
    `layouts()` is one for an unknown layout or a bad name pattern."""

    model_config = ConfigDict(frozen=True)

    layout: str | None = Field(
        default=None,
        description="image layout to read (phenix, imagexpress, cellvoyager, ome-tiff, site-tiff, rxrx-png, "
        "pattern); default: detected from each file's name",
    )
    name_pattern: str | None = Field(
        default=None,
        description="a user-declared layout: regular expression with (?P<plate>), (?P<well>), (?P<channel>) "
        "and optional (?P<site>), (?P<plane>) fields, as CellProfiler's metadata extraction",
    )
    channels: dict[str, str] | str | None = Field(
        default=None,
        description='channel map as the files name their channels: "DNA=w1,ER=w2,RNA=w3,AGP=w4,Mito=w5" '
        '(in TOML also {DNA = "w1", ...}); default: the stain names in the metadata, else channel 1..5 '
        "in that order",
    )
    projection: str = Field(
        default="max", description="how the z planes of a field combine: max, mean or sum"
    )

    @model_validator(mode="after")
    def _readable(self) -> ReadOptions:
        self.check(layouts=False)
        return self

    def check(self, *, layouts: bool = True) -> None:
        """ConfigError naming the first bad setting (with `layouts`: the layout and name pattern too)."""
        from labstream.phenomics.reading.channels import channel_setting

        if self.projection not in PROJECTIONS:
            raise ConfigError(
                f"projection {self.projection!r} is unknown; use one of {', '.join(PROJECTIONS)}"
            )
        channel_setting(self.channels)  # a bad map fails before any file is read
        if layouts:
            self.layouts()

    def layouts(self) -> tuple[Layout, ...]:
        from labstream.layouts import image_layouts

        return image_layouts(self.layout, self.name_pattern)
