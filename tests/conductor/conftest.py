"""The Python SDK's test stack (sdk/python/tests), reused: a real `planexec up` per session."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk" / "python"))

from tests.conftest import stack  # noqa: E402,F401 - the fixture, re-exported
