"""Events of the helpdesk context."""
from __future__ import annotations

import msgspec

from ..registry import event
