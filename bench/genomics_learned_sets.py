"""The learned-caller bench's training groups and validation sets (bench/genomics_learned.py): what each
recipe may train on, and the validation split the recipe and the re-representation threshold are chosen on.
Validation genomes (VALIDATION_GENOMES) are synthetic genomes never trained on and never evaluated on."""

from __future__ import annotations

from pathlib import Path

LAMBDA = "/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz"
COVERAGES = (12.0, 20.0, 30.0)
VALIDATION_GENOMES = (501, 502, 503, 504)  # synthetic genome seeds kept out of training
CLOSE_SPACING = 16  # synthetic_training_samples' closest slots (SYNTHETIC_MIX), for 4 more validation samples
INDEL_ERROR_LENGTH = 250_000  # the indel-error validation set's genomes (session 12; the others: 30 kb)
INDEL_ERROR_LOW_DEPTH = 10.0  # session 13: the same set's second depth


def training_groups(base: Path, train_seeds: int, synthetic_genomes: int, all_recipes: bool):  # type: ignore[no-untyped-def]
    """(group name, sample) for every training sample a recipe may draw on."""
    from labstream.instruments.training_sets import (
        dwgsim_training_samples,
        synthetic_training_samples,
        training_samples,
    )

    genomes = list(range(1, 1 + synthetic_genomes))
    lambda_seeds = list(range(101, 101 + train_seeds))
    groups = [("lambda", s) for s in training_samples([LAMBDA], lambda_seeds, base / "train")]
    groups += [("synthetic", s) for s in synthetic_training_samples(genomes, 2, base / "syn")]
    groups += [("dwgsim", s) for s in dwgsim_training_samples(genomes, base / "dw")]
    for mix in ("lowdepth", "imbalance"):
        groups += [(mix, s) for s in synthetic_training_samples(genomes, 1, base / mix, mix=mix)]
    if all_recipes:
        groups += [("dwgsim2", s) for s in dwgsim_training_samples(genomes, base / "dw2", second=True)]
        multi = synthetic_training_samples(genomes, 1, base / "ma", mix="multiallelic")
        groups += [("multiallelic", s) for s in multi]
    return groups


def validation_sets(base: Path, validation_genomes: int = len(VALIDATION_GENOMES)):  # type: ignore[no-untyped-def]
    """Named validation sets on the first `validation_genomes` validation genomes."""
    from labstream.instruments.synthetic_genome import write_synthetic_fasta
    from labstream.instruments.training_sets import (
        MULTIALLELIC_SHARE,
        READ_INDEL_ERROR_RATE,
        evaluation_set,
        simulated_sample,
    )

    sequencer_validation = [
        s
        for g in VALIDATION_GENOMES[:validation_genomes]
        for s in evaluation_set(
            "sequencer", str(write_synthetic_fasta(base / f"val{g}.fa", 30_000, g)), [20_000 + g],
            list(COVERAGES), base / f"val{g}",
        )
    ]  # fmt: skip
    genomes = VALIDATION_GENOMES[:validation_genomes]

    def sequencer_at(
        tag: str, seed_base: int, length: int | None = None, coverage: float = 20.0, **settings: float
    ) -> list:  # type: ignore[type-arg]
        """The sequencer at 20x (or `coverage`) on each validation genome (or on the genome of that seed at
        `length`), with `settings` (read seeds seed_base + genome)."""

        def genome(g: int) -> Path:
            return (
                base / f"val{g}.fa"
                if length is None
                else write_synthetic_fasta(base / f"val{g}long.fa", length, g)
            )

        return [simulated_sample("sequencer", genome(g), base / f"val{g}{tag}", seed=seed_base + g,
                                 coverage=coverage, threads=2, **settings) for g in genomes]  # type: ignore[arg-type]  # fmt: skip

    # + the same genomes at 20x with variants as close as training's closest (16-base slots: events
    # 9+ bases apart, so some fall in one 10-base cluster): without them validation cannot see what
    # the cluster re-representation does (with 30-base slots no two events are ever that close)
    sequencer_validation += sequencer_at("close", 21_000, spacing=CLOSE_SPACING)
    # + dwgsim reads of the same genomes (its own mutations, some close together), 12/20/30x
    dwgsim_validation = [
        simulated_sample("dwgsim", base / f"val{g}.fa", base / f"val{g}dw{int(c)}", seed=22_000 + g,
                         coverage=c, q_start=35.0, q_end=22.0)
        for g in genomes for c in COVERAGES
    ]  # fmt: skip
    # + session 11: a third of the sites 1/2 (MULTIALLELIC_SHARE), which no other validation set has (so the
    # validation score sees what learned_sites.py and the multiallelic training mix do), and 1-base indel
    # errors at 1e-4 per base (INDEL_ERROR_RATE; ART's and Mason's reads have them, no other set does)
    # Session 12: the indel-error set on longer genomes (INDEL_ERROR_LENGTH, same seeds): a single read's
    # indel error called as a het happens about once per Mb (Mason's C. elegans reads, session 11), which
    # 4 x 30 kb cannot show; 4 x 250 kb at 20x can
    # Session 13: and at 10x (INDEL_ERROR_LOW_DEPTH): Mason's single-read indel FPs sat at 6-9x local depth,
    # which uniform 20x reads never reach and 10x reads often do; every training sample now carries these
    # errors (training_sets.READ_INDEL_ERROR_RATE), so validation must see where they could still be called
    return {
        "validation_sequencer": sequencer_validation,
        "validation_dwgsim": dwgsim_validation,
        "validation_multiallelic": sequencer_at("multi", 23_000, multiallelic=MULTIALLELIC_SHARE),
        "validation_indel_errors": sequencer_at(
            "ie", 24_000, INDEL_ERROR_LENGTH, indel_error_rate=READ_INDEL_ERROR_RATE
        ),
        "validation_indel_errors_10x": sequencer_at(
            "ie10", 25_000, INDEL_ERROR_LENGTH, INDEL_ERROR_LOW_DEPTH, indel_error_rate=READ_INDEL_ERROR_RATE
        ),
    }


__all__ = ["CLOSE_SPACING", "COVERAGES", "LAMBDA", "VALIDATION_GENOMES", "training_groups", "validation_sets"]
