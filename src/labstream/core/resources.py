"""What a task asks of the compute: slots of cpu, gpu, memory and named accelerators."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResourceRequest:
    cpu: float = 1.0
    gpu: float = 0.0
    memory_mb: int = 0
    custom: dict[str, float] = field(default_factory=dict)  # e.g. {"TPU": 1}

    def as_dask(self) -> dict[str, float]:
        """Dask worker-resource names; cpu is left to Dask's thread slots unless asked for."""
        out: dict[str, float] = {}
        if self.gpu:
            out["GPU"] = self.gpu
        if self.memory_mb:
            out["MEMORY"] = float(self.memory_mb) * 1e6
        out.update(self.custom)
        return out


@dataclass
class ResourceUsage:
    """What a task actually used: the basis of cost attribution."""

    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    peak_rss_bytes: int = 0
    gpu_seconds: float = 0.0
    host: str = ""
    started_at: float = 0.0
    ended_at: float = 0.0
