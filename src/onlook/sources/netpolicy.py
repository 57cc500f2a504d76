"""Which network targets API clients may make a server reach: resolved, checked, then pinned.

A client of ``onlook serve`` names URLs the server then connects to: a
stream's source and its webhooks. Left alone, that makes the server a proxy
into the network it sits in (server-side request forgery): a source
``http://127.0.0.1:PORT/admin`` or a webhook to ``http://169.254.169.254/``
reaches what only the server can reach. :class:`NetPolicy` is what the server
applies to every such URL (``onlook watch`` is run by the operator and uses
none):

* **Addresses.** The host is resolved first and every address it resolves to
  must be public: loopback, private, link-local, multicast, unspecified,
  reserved and other non-global addresses (also inside IPv4-mapped, 6to4,
  Teredo and NAT64 addresses) are refused unless the operator allows them,
  by network (``10.0.0.0/8``) or by host name (``cam.lan``, ``.lan`` for a
  whole domain).
* **Pinning.** The connection then goes to the address that was checked, so a
  DNS answer that changes between check and connect (DNS rebinding) cannot
  lead it elsewhere: the URL is rewritten to that address, keeping what the
  protocol needs (HTTP's ``Host`` header, TLS's server name for webhooks).
  Where FFmpeg cannot keep the TLS server name (``https://`` sources), the
  URL keeps the name, and the certificate is verified against it instead,
  which an internal server cannot pass for the client's host name. A host
  allowed by name is the operator's: it is connected to as given.
* **What FFmpeg would do on its own.** HTTP redirects are not followed (a
  redirect is a new, unchecked target); from a host the operator did not
  allow, only single-stream formats are read (an HLS or DASH playlist, an SDP
  file or a concat list would make FFmpeg open further URLs that were never
  checked).
* **URL options.** ``tcp://`` and ``udp://`` URLs carry FFmpeg options in their
  query; only those onlook itself sets are accepted. A source that would
  listen for connections (``tcp://0.0.0.0:9000?listen=1``, and every
  ``udp://`` source, which binds a local port and takes datagrams from anyone)
  needs ``allow_listen``.

What cannot be pinned: an RTSP server may redirect the session (FFmpeg
follows it), and ``rtsps://``/``rtmps://`` connect to the checked address
without a TLS server name (FFmpeg sends none to an address; a server that
needs one must be allowed by name).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import SplitResult, parse_qsl, urlsplit, urlunsplit

from onlook.errors import ConfigError, SourceUnreachable, TargetNotAllowed, UnsupportedSource

__all__ = ["NetPolicy", "Trust", "address_kind", "SOURCE_REFUSED", "WEBHOOK_REFUSED"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SOURCE_REFUSED = ("cannot use this source: it is unreachable, not a video stream, or at an address this server "
                  "does not connect to (the server log says which)")
"""What API clients are told about any network source that was refused or failed, whatever the reason:
one text for "not allowed", "connection refused", "timed out" and "404", so the API is no port scanner."""

WEBHOOK_REFUSED = ("cannot use this webhook: its host does not resolve, or is at an address this server does not "
                   "connect to (the server log says which)")
"""The same for a webhook refused when a stream is added."""

# URL query options FFmpeg reads itself, per scheme, that a client may give: only those onlook sets
# (``live_options``) - anything else (localaddr, localport, reuse, timeout...) changes what FFmpeg does.
_QUERY_OPTIONS = {"tcp": frozenset(), "udp": frozenset({"overrun_nonfatal", "fifo_size"})}
# RTSP URL options FFmpeg strips from the query (the rest goes to the camera): onlook reads RTSP over TCP.
_RTSP_OPTIONS = frozenset({"udp", "multicast", "http", "https", "filter_src"})
_LISTEN_KEYS = frozenset({"listen", "rtmp_listen", "listen_timeout"})

# Demuxers that read one stream from the connection they are given. Playlists (hls, dash), SDP, concat
# and image sequences open further URLs that no check has seen, so a host the operator did not allow
# gets only these.
SINGLE_STREAM_FORMATS = ("mpegts,flv,live_flv,matroska,webm,mov,mp4,avi,mpeg,mpegvideo,ogg,asf,ivf,nut,"
                         "h264,hevc,mjpeg,mpjpeg,jpeg_pipe,png_pipe,rtsp")

_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME_RE = re.compile(rf"^(\*\.|\.)?({_LABEL})(\.{_LABEL})*\.?$")
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")


class Trust(Enum):
    """Why a target may be reached, which decides how it is connected to."""

    NAME = "name"
    """The host name is on the operator's list: connected to as given, by name."""
    NETWORK = "network"
    """Every address it resolves to is public or in an allowed network, the first in an allowed one: pinned."""
    PUBLIC = "public"
    """Every address it resolves to is public: pinned, and FFmpeg reads only single-stream formats."""


def address_kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (``"loopback"``, ``"private"``...), or None when it is.

    Addresses that carry an IPv4 address inside (IPv4-mapped, 6to4, Teredo,
    NAT64) are judged by the address inside too.

    Example:
        >>> address_kind(ipaddress.ip_address("127.0.0.1")), address_kind(ipaddress.ip_address("8.8.8.8"))
        ('loopback', None)
        >>> address_kind(ipaddress.ip_address("::ffff:10.0.0.1"))
        'private'
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if ip in _NAT64:
            inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for v4 in inner:
            if v4 is not None and (kind := address_kind(v4)) is not None:
                return kind
        if ip.ipv4_mapped is not None:
            return None
    for kind, test in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if test:
            return kind
    return None if ip.is_global else "non-public"


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _ca_file() -> str | None:
    try:
        import certifi  # httpx's dependency: a CA bundle that does not depend on how FFmpeg was built

        return certifi.where()
    except ImportError:  # pragma: no cover - httpx always brings certifi
        import ssl

        paths = ssl.get_default_verify_paths()
        return paths.cafile or paths.openssl_cafile


@dataclass(frozen=True)
class NetPolicy:
    """What API clients' URLs may reach (see the module's docstring).

    Args:
        networks: Networks whose addresses are allowed although not public (``127.0.0.1/32``).
        names: Host names allowed whatever they resolve to; ``.lan`` (or ``*.lan``) allows
            every name under ``lan``.
        allow_listen: Accept sources that listen for connections (``tcp ?listen=1``, ``udp://``).
        resolver: Host name -> addresses (default: the system's resolver); a seam for tests.

    Example:
        >>> p = NetPolicy.parse(["10.0.0.0/8", "cam.lan"])
        >>> p.source_target("rtsp://user:pw@10.1.2.3/stream?channel=1", {})[0]
        'rtsp://user:pw@10.1.2.3/stream?channel=1'
        >>> NetPolicy().check_host("127.0.0.1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        onlook.errors.TargetNotAllowed: 127.0.0.1 is a loopback address; ...
    """

    networks: tuple[Network, ...] = ()
    names: tuple[str, ...] = ()
    allow_listen: bool = False
    resolver: Callable[[str], Sequence[str]] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, entries: Iterable[str], *, allow_listen: bool = False,
              resolver: Callable[[str], Sequence[str]] | None = None) -> NetPolicy:
        """A policy from the operator's list: CIDRs or addresses, and host names (commas split entries).

        Raises:
            ConfigError: an entry is neither.
        """
        networks: list[Network] = []
        names: list[str] = []
        for raw in entries:
            for entry in (e.strip() for e in str(raw).split(",")):
                if not entry:
                    continue
                try:
                    networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                    continue
                except ValueError:
                    pass
                name = entry.lower()
                if not _NAME_RE.match(name):
                    raise ConfigError(f"--allow-hosts {entry!r} is neither an address, a network (10.0.0.0/8) "
                                      "nor a host name")
                names.append(name.rstrip(".").removeprefix("*"))
        return cls(tuple(networks), tuple(dict.fromkeys(names)), allow_listen, resolver)

    @classmethod
    def from_settings(cls, settings: object) -> NetPolicy:
        """The policy of :class:`~onlook.config.Settings` (``allow_hosts``, ``allow_listen``)."""
        return cls.parse(getattr(settings, "allow_hosts", None) or (),
                         allow_listen=bool(getattr(settings, "allow_listen", False)))

    # --- checks ------------------------------------------------------------------------------------

    def name_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == n or (n.startswith(".") and host.endswith(n)) for n in self.names)

    def _network_allowed(self, ip: IPAddress) -> bool:
        alt = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        return any(ip in net or (alt is not None and alt in net) for net in self.networks)

    def check_host(self, host: str) -> tuple[str | None, Trust]:
        """Resolve ``host`` and check every address it resolves to.

        Returns:
            ``(address, trust)``: the address to connect to (None for a host allowed by
            name, connected to as given) and why it may be reached.

        Raises:
            TargetNotAllowed: an address is not public and not allowed.
            SourceUnreachable: the name does not resolve.
        """
        if not host:
            raise TargetNotAllowed("the URL names no host")
        if self.name_allowed(host):
            return None, Trust.NAME
        literal = _ip(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                found = (self.resolver or _resolve)(host)
            except (OSError, UnicodeError) as e:
                raise SourceUnreachable(f"cannot resolve {host!r}: {getattr(e, 'strerror', None) or e}") from None
            addresses = [a for a in (_ip(str(x)) for x in found) if a is not None]
            if not addresses:
                raise SourceUnreachable(f"cannot resolve {host!r}: no address")
        for ip in addresses:
            kind = address_kind(ip)
            if kind is not None and not self._network_allowed(ip):
                what = f"{ip} is" if literal is not None else f"{host} resolves to {ip},"
                raise TargetNotAllowed(f"{what} a {kind} address; this server connects to such addresses only "
                                       f"when --allow-hosts names them (e.g. --allow-hosts {ip})")
        first = addresses[0]
        trust = Trust.NETWORK if self._network_allowed(first) else Trust.PUBLIC
        if isinstance(first, ipaddress.IPv6Address) and first.ipv4_mapped is not None:
            first = first.ipv4_mapped  # connect over IPv4, as the address means
        return str(first), trust

    def source_mode(self, url: str) -> str:
        """Check a network source's URL options; ``"listen"`` or ``"connect"``.

        Raises:
            TargetNotAllowed: it would listen for connections and the policy does not allow that.
            UnsupportedSource: it carries FFmpeg options onlook does not set, or characters no URL has.
        """
        if _BAD_CHARS.search(url):
            raise UnsupportedSource("a source URL may not contain spaces or control characters", source=url)
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            raise UnsupportedSource("the source URL's port is not a number", source=url) from None
        scheme = parts.scheme.lower()
        listen = False
        if scheme in _QUERY_OPTIONS:
            for key, value in parse_qsl(parts.query, keep_blank_values=True):
                if key == "listen" and scheme == "tcp":
                    listen = listen or value not in ("0", "")
                elif key not in _QUERY_OPTIONS[scheme]:
                    raise UnsupportedSource(f"URL option '{key}' is not accepted in {scheme}:// sources: onlook "
                                            "sets the FFmpeg options it needs itself", source=url)
            listen = listen or scheme == "udp"  # udp:// binds a local port and takes datagrams from anyone
        elif scheme in ("rtsp", "rtsps"):
            for token in parts.query.split("&"):
                if token in _RTSP_OPTIONS:
                    raise UnsupportedSource(f"URL option '{token}' is not accepted in {scheme}:// sources: "
                                            "onlook reads RTSP over TCP", source=url)
                listen = listen or token.split("=", 1)[0] in _LISTEN_KEYS
        elif scheme in ("rtmp", "rtmps"):
            listen = any(k in _LISTEN_KEYS for k, _ in parse_qsl(parts.query, keep_blank_values=True))
        if listen and not self.allow_listen:
            raise TargetNotAllowed(f"'{url}' would listen for connections on this server; it accepts listening "
                                   "sources only when started with --allow-listen (ONLOOK_ALLOW_LISTEN=1)")
        return "listen" if listen else "connect"

    # --- targets -----------------------------------------------------------------------------------

    def source_target(self, url: str, options: dict[str, str]) -> tuple[str, dict[str, str]]:
        """The URL and FFmpeg options to open a network source with, checked and pinned now.

        Call it for every connection attempt: each resolves again and is checked again.

        Raises:
            TargetNotAllowed, UnsupportedSource: as :meth:`check_host` and :meth:`source_mode`.
            SourceUnreachable: the host name does not resolve.
        """
        if self.source_mode(url) == "listen":
            return url, dict(options)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        ip, trust = self.check_host(parts.hostname or "")
        opts = dict(options)
        if trust is Trust.NAME:
            return url, opts
        if scheme in ("http", "https"):
            opts["max_redirects"] = "0"  # a redirect is a new target no check has seen
        if trust is Trust.PUBLIC:
            opts["format_whitelist"] = SINGLE_STREAM_FORMATS
        if scheme == "https" and trust is Trust.PUBLIC:
            # FFmpeg sends no TLS server name to an address, which most HTTPS servers need, so the URL
            # keeps its name; the certificate, verified against that name, is what an internal server
            # reached by a changed DNS answer cannot present.
            ca = _ca_file()
            opts.update(tls_verify="1", **({"ca_file": ca} if ca else {}))
            return url, opts
        assert ip is not None
        if scheme == "http":
            opts["headers"] = f"Host: {_host_port(parts)}\r\n" + opts.get("headers", "")
        return _with_host(parts, ip), opts

    def webhook_target(self, url: str) -> tuple[str, dict[str, str], dict[str, str]]:
        """The URL, headers and httpx request extensions to POST a webhook with, checked and pinned now.

        The URL names the checked address; ``Host`` and, for HTTPS, the TLS server
        name (httpx's ``sni_hostname``, which the certificate is verified against)
        keep the host name.

        Raises:
            TargetNotAllowed: an address is not public and not allowed.
            SourceUnreachable: the host name does not resolve.
        """
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            raise TargetNotAllowed("the webhook URL's port is not a number") from None
        ip, trust = self.check_host(parts.hostname or "")
        if trust is Trust.NAME or ip is None:
            return url, {}, {}
        ext = {"sni_hostname": parts.hostname or ""} if parts.scheme.lower() == "https" else {}
        return _with_host(parts, ip), {"Host": _host_port(parts)}, ext


def _host_port(parts: SplitResult) -> str:
    """``host[:port]`` of a split URL, as a ``Host`` header says it."""
    return parts.netloc.rpartition("@")[2]


def _with_host(parts: SplitResult, ip: str) -> str:
    """The split URL with its host replaced by ``ip``; user info, port, path and query kept."""
    userinfo, at, _ = parts.netloc.rpartition("@")
    host = f"[{ip}]" if ":" in ip else ip
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit((parts.scheme, f"{userinfo}{at}{host}{port}", parts.path, parts.query, parts.fragment))
