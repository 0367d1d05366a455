"""Every table's metadata in one place, for Alembic and the test suite.

Importing a module registers its tables; services add their ``models`` modules here.
"""

from __future__ import annotations

from townhall.core import audit, auth, decisions, jobs, registry  # noqa: F401 - imported for tables
from townhall.core.db import Base
from townhall.governance import characteristics  # noqa: F401 - imported for its table
from townhall.services.assistant import models as _assistant  # noqa: F401 - its tables
from townhall.services.casework import models as _casework  # noqa: F401 - its tables

metadata = Base.metadata
