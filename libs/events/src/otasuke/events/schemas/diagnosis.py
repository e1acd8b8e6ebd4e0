"""Events of the diagnosis context."""
from __future__ import annotations

import msgspec

from ..registry import event
