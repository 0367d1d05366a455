"""The fairness audit policy: dated minimum ratios and group size, kept in YAML with a reference.

The shipped ``fairness_policy.yaml`` beside this module is the default; a deployment names its own
file in the ``fairness_policy_file`` setting. An audit is judged against the entry in force on its
audit date (see `townhall.core.parameters`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from townhall.core.parameters import DatedParameters, ParameterSet, load_parameters
from townhall.governance.fairness_report import Use

DEFAULT_POLICY_FILE = Path(__file__).with_name("fairness_policy.yaml")


class MinimumRatios(BaseModel):
    """The lowest acceptable ratio of the best-served group's judged error rate to a group's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    punitive: float = Field(gt=0, le=1)  # judged on false-positive-rate parity
    assistive: float = Field(gt=0, le=1)  # judged on false-negative-rate parity


class FairnessThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_group_size: int = Field(ge=1, strict=True)
    min_ratio: MinimumRatios

    def ratio_for(self, use: Use) -> float:
        return float(getattr(self.min_ratio, use))


FairnessPolicy = ParameterSet[FairnessThresholds]


def load_policy(path: Path | None = None) -> DatedParameters[FairnessThresholds]:
    """Every entry of the policy file at `path` (by default the shipped one)."""
    return load_parameters(path or DEFAULT_POLICY_FILE, FairnessThresholds)


def policy_in_force(on: date | None = None, path: Path | None = None) -> FairnessPolicy:
    """The entry of the policy file at `path` in force on `on` (by default today)."""
    return load_policy(path).in_force(on or date.today())
