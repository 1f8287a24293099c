"""The example models that ship in resources/examples (File > New from example, `make run`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.model.spec import ModelSpec

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "examples"
DEFAULT_EXAMPLE = "digits_cnn"


@dataclass(frozen=True)
class Example:
    id: str
    title: str
    path: Path

    def load(self) -> ModelSpec:
        return ModelSpec.load(self.path)


def list_examples() -> list[Example]:
    """Every bundled example, default first, then by title."""
    found = [Example(p.stem, ModelSpec.load(p).name, p) for p in EXAMPLES_DIR.glob("*.json")]
    return sorted(found, key=lambda e: (e.id != DEFAULT_EXAMPLE, e.title))


def example_path(example_id: str = DEFAULT_EXAMPLE) -> Path:
    return EXAMPLES_DIR / f"{example_id}.json"
