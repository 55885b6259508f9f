"""The records the public functions take and return, for the front ends' type hints.

Front ends name these types through `styxy.api` only; the modules that define them (the
store's lease records, the engine's results and proposals) stay below the one door.
"""

from __future__ import annotations

from styxy.engine.autoalloc import Confirm, ProblemOf
from styxy.engine.placement import Proposal
from styxy.engine.results import Allocation
from styxy.store.leases import Lease

__all__ = ["Allocation", "Confirm", "Lease", "ProblemOf", "Proposal"]
