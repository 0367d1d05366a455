"""The public intent sets the router is measured on (kept in `shared/data/`, never downloaded).

- Banking77: 10,003 online-banking queries in 77 intents; each intent stands in for a team.
- CLINC150: 150 intents grouped into 10 domains; a query is routed to its domain, and the
  queries that belong to none (`oos`) are labelled `triage`, as a council's would be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from townhall.services.routing.data import (
    TRIAGE,
    Messages,
    RoutingDataError,
    load_messages,
    messages_from,
)


def default_data_dir(repo: Path) -> Path:
    """Where the shared data sets live beside a checkout: `<repo>/../shared/data`."""
    return repo.parent / "shared" / "data"


def load_banking77(data_dir: Path) -> Messages:
    return load_messages(data_dir / "banking77" / "train.csv", team_column="category")


@dataclass(frozen=True)
class Clinc150:
    train: Messages  # 15,000 in-scope queries plus the 100 `oos_train` queries labelled triage
    val: Messages  # 3,000 in-scope queries
    oos_val: Messages  # 100 out-of-scope queries, all labelled triage
    domains: dict[str, list[str]]

    def evaluation(self) -> Messages:
        """`val` + `oos_val`: what the router is measured on."""
        return Messages(
            self.val.texts + self.oos_val.texts,
            self.val.teams + self.oos_val.teams,
            self.val.digest,
            "clinc150 val+oos_val",
        )


def load_clinc150(data_dir: Path, *, with_oos_train: bool = True) -> Clinc150:
    folder = data_dir / "clinc150"
    try:
        splits = json.loads((folder / "train_val.json").read_text(encoding="utf-8"))
        domains = json.loads((folder / "domains.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RoutingDataError(f"{folder}: cannot read CLINC150 ({exc}).") from None
    domain_of = {intent: domain for domain, intents in domains.items() for intent in intents}

    def split(*names: str) -> Messages:
        pairs = [pair for name in names for pair in splits[name]]
        texts = [text for text, _ in pairs]
        teams = [domain_of.get(intent, TRIAGE) for _, intent in pairs]
        return messages_from(texts, teams, source="clinc150 " + "+".join(names))

    train = split("train", "oos_train") if with_oos_train else split("train")
    oos_val = [text for text, _ in splits["oos_val"]]
    return Clinc150(
        train=train,
        val=split("val"),
        oos_val=Messages(oos_val, [TRIAGE] * len(oos_val), "", "clinc150 oos_val"),
        domains=domains,
    )
