"""onlook's HTTP server: many streams behind one API (``onlook serve``).

Modules, in layers: ``app`` (the FastAPI app, middleware, error replies),
``routes_*`` (thin routes), ``protocol`` (request/response models),
``serving`` (what each endpoint does), ``manager`` (streams, persistence,
message fan-out), ``webhooks`` and ``live`` (MJPEG frames).

Example:
    >>> from onlook.server import create_app
    >>> app = create_app(store_root="/var/lib/onlook", allow_files=["/srv/video"])  # doctest: +SKIP
"""

from onlook.server.app import create_app
from onlook.server.manager import StreamManager
from onlook.server.serving import StreamService

__all__ = ["create_app", "StreamManager", "StreamService"]
