"""onlook: watch live video, remember it within a budget, answer questions and raise alerts."""

from onlook.config import Settings
from onlook.errors import OnlookError
from onlook.types import Alert, Analysis, Answer, Event, Evidence, Frame, Gap, Observation, SearchHit

__version__ = "0.1.0"

__all__ = [
    "Alert",
    "Analysis",
    "Answer",
    "Event",
    "Evidence",
    "Frame",
    "Gap",
    "Observation",
    "OnlookError",
    "SearchHit",
    "Settings",
    "__version__",
]
