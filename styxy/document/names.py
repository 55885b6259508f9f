"""Service type names: the one rule lives in `styxy.names`, shared with the command line."""

from __future__ import annotations

from styxy.names import NAME_RULE, SERVICE_TYPE, check_service_type, is_service_type

__all__ = ["NAME_RULE", "SERVICE_TYPE", "check_service_type", "is_service_type"]
