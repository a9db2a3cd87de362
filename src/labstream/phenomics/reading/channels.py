"""Which channel holds which Cell Painting stain: one channel map per plate, for every layout.

Instruments number channels in acquisition order, which labs choose (DNA is not always first), and
name them after the dye (`Hoechst 33342`, `Alexa 488 Concanavalin A`). The map comes from, in order:

1. the `channels` setting, either stain -> label (`{DNA = "w1", ER = "w2", ...}`) or label -> stain
   (`{w1 = "DNA", ...}`), or the text form `DNA=w1,ER=w2,...` (what `--set channels=...` gives);
2. the stain names in the plate's metadata (HTD wave names, Harmony channel names, OME channel
   names, CellVoyager targets), read through STAIN_ALIASES;
3. the channel number: channel 1..5 is DNA, ER, RNA, AGP, Mito (labstream's simulator and the
   JUMP convention).

A map that names a stain twice, or a plate whose channels do not cover all five stains, is an error
naming the file (or the setting), never a guess: a swapped channel yields plausible but wrong
profiles, the worst kind of failure in a screen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from labstream.core.errors import ConfigError, InputError
from labstream.layouts import PlateMetadata
from labstream.layouts.metadata import label_key
from labstream.phenomics.model import CHANNELS

__all__ = ["STAIN_ALIASES", "channel_setting", "resolve_channels", "stain_of"]

# word prefixes (lower case) of dye names, per stain; a short alias must match a whole word
STAIN_ALIASES: dict[str, tuple[str, ...]] = {
    "DNA": ("hoechst", "dapi", "draq5", "dna"),
    "ER": ("concanavalin", "cona", "con-a", "er"),
    "RNA": ("syto", "rna"),
    "AGP": ("phalloidin", "wga", "agp", "actin"),
    "Mito": ("mitotracker", "mito"),
}
_SHORT = 3  # aliases up to this length must be a whole word ("er" is not "hoechst")


def stain_of(name: str) -> str | None:
    """The Cell Painting stain a channel name denotes (`MitoTracker Deep Red` -> `Mito`), or None."""
    words = [w for w in re.split(r"[^a-z0-9-]+", name.lower()) if w]
    found = {
        stain
        for stain, aliases in STAIN_ALIASES.items()
        for a in aliases
        for w in words
        if (w == a if len(a) <= _SHORT else w.startswith(a))
    }
    if len(found) == 1:
        return found.pop()
    return name if name in CHANNELS else None


def channel_setting(value: Mapping[str, str] | str | None) -> dict[str, str] | None:
    """The `channels` setting as {label key: stain}; ConfigError for a stain named twice or unknown."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        pairs = [p.split("=", 1) for p in re.split(r"[,;]\s*", value.strip()) if p]
        if any(len(p) != 2 for p in pairs):
            raise ConfigError(
                f"channels {value!r} is not a map; write channels=DNA=w1,ER=w2,RNA=w3,AGP=w4,Mito=w5"
            )
        items = [(k.strip(), v.strip()) for k, v in pairs]
    else:
        items = list(value.items())
    stains = {s.lower(): s for s in CHANNELS}
    stain_keys = all(k.lower() in stains for k, _ in items)
    out: dict[str, str] = {}
    for k, v in items:
        stain, label = (k, v) if stain_keys else (v, k)
        if stain.lower() not in stains:
            raise ConfigError(
                f"channels names {stain!r}, not a Cell Painting stain; use {', '.join(CHANNELS)}"
            )
        stain = stains[stain.lower()]
        if stain in out.values():
            raise ConfigError(
                f"channels names stain {stain} twice ({value!r}); give each stain exactly one channel"
            )
        if label_key(label) in out:
            raise ConfigError(f"channels gives channel {label!r} two stains; give each stain its own channel")
        out[label_key(label)] = stain
    return out


def resolve_channels(
    labels: Iterable[str],
    metadata: PlateMetadata | None,
    setting: dict[str, str] | None,
    source: str,
    *,
    complete: bool = True,
) -> dict[str, int]:
    """{label key: stain index} for a plate whose files carry `labels`; extra channels (brightfield)
    are left out. InputError (naming `source`, or the metadata file) when a stain is named twice or
    one of the five is not covered (unless not `complete`: the stream routing one file of a plate
    that has no map nor metadata, which sees one label at a time)."""
    present = {label_key(lab) for lab in labels}
    origin = source
    if setting is not None:
        by_label = dict(setting)
        how = "the channels setting"
    elif metadata is not None and metadata.stains:
        origin = metadata.stain_source or metadata.source
        how = f"the stain names in {origin}"
        by_label = {}
        for lab, name in metadata.stains.items():
            stain = stain_of(name)
            if stain is None:
                continue
            twice = [lb for lb, s in by_label.items() if s == stain]
            if twice:
                raise InputError(
                    origin,
                    f"channels {twice[0]} and {label_key(lab)} are both {stain} ({name!r})",
                    hint="set the channels map to say which one to use",
                )
            by_label[label_key(lab)] = stain
    else:
        how = "the channel names or numbers (1..5 = DNA, ER, RNA, AGP, Mito)"
        by_label = {}
        for lab in sorted(present):
            m = re.search(r"(\d+)$", lab)
            stain = stain_of(lab) or stain_of(lab.upper())
            if stain is None and m and 1 <= int(m.group(1)) <= len(CHANNELS):
                stain = CHANNELS[int(m.group(1)) - 1]
            if stain is not None:
                if stain in by_label.values():
                    raise InputError(
                        source, f"two channels of the plate are {stain}", hint="set the channels map"
                    )
                by_label[lab] = stain
    # a bare number in the map also names the channel of that number (`1` is `ch1`, `w1`, `C01`)
    numbered = {re.sub(r"^\D+", "", lab): lab for lab in present}
    mapped = {
        (lab if lab in present or lab == "*" else numbered.get(lab, lab)): CHANNELS.index(stain)
        for lab, stain in by_label.items()
    }
    covered = {CHANNELS[i] for lab, i in mapped.items() if lab in present or not present}
    missing = [s for s in CHANNELS if s not in covered]
    if missing and complete:
        raise InputError(
            origin,
            f"channels {sorted(present)} mapped by {how} do not cover stain(s) {', '.join(missing)}",
            hint='set channels = {DNA = "w1", ER = "w2", RNA = "w3", AGP = "w4", Mito = "w5"} as the '
            "files name them",
        )
    return {lab: i for lab, i in mapped.items() if lab in present or not present}
