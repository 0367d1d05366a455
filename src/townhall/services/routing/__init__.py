"""Message routing: send each citizen message to the team that handles it, or to people.

A router is trained on labelled historical messages (data.py), as a fast TF-IDF model or a
hybrid with MiniLM embeddings (model.py, hybrid.py); its probabilities are calibrated and it
abstains below a threshold chosen for a target precision, or when a message is out of scope
(calibration.py). evaluate.py measures it; persist.py saves it with a metadata sidecar;
service.py is what the CLI (cli.py) and the API call.
"""

from __future__ import annotations

from townhall.core.service import Service
from townhall.services.routing import cli

SERVICE = Service(
    name="routing",
    title="Message routing",
    description="Routes citizens' messages to teams, with abstention to a human triage queue.",
    cli=cli.app,
    decision_types=("routing.route",),
)
