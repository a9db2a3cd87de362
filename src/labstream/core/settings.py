"""Settings: every backend is a URL, embedded defaults under one home folder.

Environment variables `LABSTREAM_*` override (e.g. `LABSTREAM_STREAM_URL=kafka://127.0.0.1:9092`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LABSTREAM_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path(".labstream").resolve())
    stream_url: str = ""
    objects_url: str = ""
    lake_url: str = ""
    catalog_url: str = ""
    executor_url: str = "local"
    region: str = "local"
    compute_class: str = "standard"  # the price book's class the executor's machines are billed as
    price_book: str = ""  # a shipped price book's name (labstream.ops.pricebook) or a TOML path
    budgets: str = ""  # TOML file of per-project budgets (labstream.ops.budget); none when empty
    governed: bool = False  # watch and serve through governance: encrypted raw objects, pseudonyms, residency
    project: str = "default"  # the project a watched folder's files belong to
    master_key: SecretStr | None = None

    def model_post_init(self, __context: object) -> None:
        home = Path(self.home).resolve()
        object.__setattr__(self, "home", home)
        if not self.stream_url:
            object.__setattr__(self, "stream_url", f"sqlite:///{home / 'stream.db'}")
        if not self.objects_url:
            object.__setattr__(self, "objects_url", f"file://{home / 'objects'}")
        if not self.lake_url:
            object.__setattr__(self, "lake_url", str(home / "lake"))
        if not self.catalog_url:
            object.__setattr__(self, "catalog_url", f"sqlite:///{home / 'catalog.db'}")

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


def redact_url(url: str) -> str:
    """A backend URL without its password, for printing (postgresql+psycopg://user:***@host/db)."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.partition("://")[2]:
        return url
    scheme, _, cred = head.partition("://")
    return f"{scheme}://{cred.partition(':')[0]}:***@{tail}"
