"""The forms and rules a deployment runs, loaded and checked once per process per folder."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from townhall.core.parameters import DatedParameters
from townhall.services.casework.rules import TriageRules, load_rules
from townhall.services.casework.schema import DEFINITIONS, FormLibrary, FormSpec, load_library
from townhall.settings import Settings

TRIAGE = "casework.triage"  # the decision type of every triage proposal
SERVICE_NAME = "casework"


@dataclass(frozen=True)
class Catalogue:
    library: FormLibrary
    rules: dict[str, DatedParameters[TriageRules]]

    def form(self, form_id: str) -> FormSpec:
        return self.library.get(form_id)

    def rules_for(self, form: FormSpec) -> DatedParameters[TriageRules]:
        return self.rules[form.id]

    def form_of_reference(self, reference: str) -> FormSpec | None:
        prefix = reference.split("-", 1)[0].upper()
        return self.library.by_prefix(prefix)


@lru_cache(maxsize=4)
def _load(folder: str) -> Catalogue:
    library = load_library(Path(folder))
    rules = {form.id: load_rules(form, library.folder) for form in library.forms.values()}
    return Catalogue(library, rules)


def catalogue(settings: Settings) -> Catalogue:
    """The deployment's forms and rules (the shipped ones unless settings name a folder)."""
    folder = settings.casework_definitions_dir or DEFINITIONS
    return _load(str(Path(folder).resolve()))
