"""NetPolicy: which addresses a server's clients may make it reach, and how a URL is pinned to the checked one."""

from __future__ import annotations

import ipaddress

import pytest

from onlook.errors import ConfigError, SourceUnreachable, TargetNotAllowed, UnsupportedSource
from onlook.sources import open_source
from onlook.sources.netpolicy import SINGLE_STREAM_FORMATS, NetPolicy, Trust, address_kind


def _names(table: dict[str, list[str]]):
    def resolve(host: str) -> list[str]:
        if host not in table:
            raise OSError(-2, "Name or service not known")
        return table[host]

    return resolve


DNS = _names({"cam.example": ["93.184.216.34"], "mixed.example": ["93.184.216.34", "10.0.0.5"],
              "lan.example": ["10.0.0.5"], "v6.example": ["2001:db8::1", "2606:2800:220:1::1"],
              "mapped.example": ["::ffff:127.0.0.1"]})


@pytest.mark.parametrize(("address", "kind"), [
    ("8.8.8.8", None), ("2606:4700:4700::1111", None), ("::ffff:8.8.8.8", None),
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd00::1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("100.64.0.1", "non-public"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"), ("2002:7f00:1::", "loopback"),
    ("64:ff9b::a9fe:a9fe", "link-local"), ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),
])
def test_address_kinds(address, kind):
    assert address_kind(ipaddress.ip_address(address)) == kind


def test_parse_networks_and_names():
    p = NetPolicy.parse(["10.0.0.0/8, 127.0.0.1", "cam.lan", "*.corp.example", ".home", "[::1]"])
    assert [str(n) for n in p.networks] == ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]
    assert p.names == ("cam.lan", ".corp.example", ".home")
    assert p.name_allowed("CAM.LAN.") and p.name_allowed("a.b.corp.example") and p.name_allowed("tv.home")
    assert not p.name_allowed("corp.example") and not p.name_allowed("cam.lan.evil.example")
    for bad in ["not a host", "http://x", "10.0.0.0/33x", "-x-"]:
        with pytest.raises(ConfigError, match="--allow-hosts"):
            NetPolicy.parse([bad])


@pytest.mark.parametrize(("policy", "host", "expected"), [
    (NetPolicy(resolver=DNS), "cam.example", ("93.184.216.34", Trust.PUBLIC)),
    (NetPolicy(resolver=DNS), "8.8.8.8", ("8.8.8.8", Trust.PUBLIC)),
    (NetPolicy.parse(["10.0.0.0/8"], resolver=DNS), "lan.example", ("10.0.0.5", Trust.NETWORK)),
    (NetPolicy.parse(["10.0.0.0/8"], resolver=DNS), "mixed.example", ("93.184.216.34", Trust.PUBLIC)),
    (NetPolicy.parse(["lan.example"], resolver=DNS), "lan.example", (None, Trust.NAME)),
    (NetPolicy.parse(["127.0.0.1"], resolver=DNS), "mapped.example", ("127.0.0.1", Trust.NETWORK)),
    (NetPolicy(resolver=DNS), "mixed.example", TargetNotAllowed),  # one internal address is one too many
    (NetPolicy(resolver=DNS), "v6.example", TargetNotAllowed),  # 2001:db8:: is documentation space
    (NetPolicy(resolver=DNS), "mapped.example", TargetNotAllowed),
    (NetPolicy(resolver=DNS), "127.0.0.1", TargetNotAllowed),
    (NetPolicy.parse(["127.0.0.2"], resolver=DNS), "127.0.0.1", TargetNotAllowed),
    (NetPolicy(resolver=DNS), "nowhere.example", SourceUnreachable),
    (NetPolicy(resolver=DNS), "", TargetNotAllowed),
])
def test_check_host(policy, host, expected):
    if isinstance(expected, type):
        with pytest.raises(expected):
            policy.check_host(host)
    else:
        assert policy.check_host(host) == expected


def test_refusals_say_why_and_how_to_allow():
    with pytest.raises(TargetNotAllowed) as e:
        NetPolicy(resolver=DNS).check_host("lan.example")
    assert str(e.value) == ("lan.example resolves to 10.0.0.5, a private address; this server connects to such "
                            "addresses only when --allow-hosts names them (e.g. --allow-hosts 10.0.0.5)")
    assert isinstance(e.value, PermissionError) and isinstance(e.value, ConnectionError)


@pytest.mark.parametrize(("url", "allow_listen", "expected"), [
    ("rtsp://cam.example/live?channel=1&subtype=0", False, "connect"),  # the rest of RTSP's query is the camera's
    ("rtsp://cam.example/live?tcp", False, "connect"),
    ("http://cam.example/feed?listen=1", False, "connect"),  # HTTP's query goes to the server, not to FFmpeg
    ("udp://0.0.0.0:5000?overrun_nonfatal=1&fifo_size=50000", True, "listen"),
    ("tcp://0.0.0.0:9000?listen=1", True, "listen"),
    ("tcp://cam.example:9000?listen=0", False, "connect"),
    ("tcp://0.0.0.0:9000?listen=1", False, TargetNotAllowed),
    ("tcp://0.0.0.0:9000?listen=2", False, TargetNotAllowed),
    ("udp://239.0.0.1:5000", False, TargetNotAllowed),
    ("rtmp://0.0.0.0/live?listen=1", False, TargetNotAllowed),
    ("tcp://cam.example:9000?timeout=5", True, UnsupportedSource),
    ("tcp://cam.example:9000?listen=1&listen_timeout=9", True, UnsupportedSource),
    ("udp://0.0.0.0:5000?localaddr=10.0.0.1", True, UnsupportedSource),
    ("rtsp://cam.example/live?udp", False, UnsupportedSource),
    ("rtsp://cam.example/live?multicast", False, UnsupportedSource),
    ("rtmp://cam.example/live playpath=x", False, UnsupportedSource),
    ("http://cam.example/a\r\nX-Injected: 1", False, UnsupportedSource),
    ("http://cam.example:http/", False, UnsupportedSource),
])
def test_source_mode(url, allow_listen, expected):
    policy = NetPolicy(allow_listen=allow_listen, resolver=DNS)
    if isinstance(expected, type):
        with pytest.raises(expected):
            policy.source_mode(url)
    else:
        assert policy.source_mode(url) == expected


def test_source_targets_are_pinned_keeping_what_the_protocol_needs():
    p = NetPolicy.parse(["10.0.0.0/8", "trusted.example"], resolver=_names({
        "cam.example": ["93.184.216.34"], "lan.example": ["10.0.0.5"], "v6.example": ["2606:2800:220:1::1"]}))
    url, opts = p.source_target("http://user:pw@cam.example:8080/live.ts?token=a#x", {"probesize": "1000"})
    assert url == "http://user:pw@93.184.216.34:8080/live.ts?token=a#x"
    assert opts == {"probesize": "1000", "max_redirects": "0", "format_whitelist": SINGLE_STREAM_FORMATS,
                    "headers": "Host: cam.example:8080\r\n"}
    assert p.source_target("rtsp://admin:x@lan.example/h264?channel=1", {"rtsp_transport": "tcp"}) == (
        "rtsp://admin:x@10.0.0.5/h264?channel=1", {"rtsp_transport": "tcp"})  # allowed network: any format
    assert p.source_target("rtmp://v6.example:1935/live/cam", {})[0] == "rtmp://[2606:2800:220:1::1]:1935/live/cam"
    assert p.source_target("tcp://cam.example:9000", {})[0] == "tcp://93.184.216.34:9000"
    # HTTPS keeps its name (FFmpeg sends no TLS server name to an address) and verifies the certificate.
    url, opts = p.source_target("https://cam.example/live.m3u8", {})
    assert url == "https://cam.example/live.m3u8"
    assert opts["tls_verify"] == "1" and opts["ca_file"] and opts["max_redirects"] == "0"
    assert "hls" not in opts["format_whitelist"].split(",")
    # A host allowed by name is the operator's: opened as given.
    assert p.source_target("https://trusted.example/x.m3u8", {"a": "b"}) == ("https://trusted.example/x.m3u8",
                                                                              {"a": "b"})
    # A listening source, where allowed, binds the address it names: nothing to resolve or pin.
    assert NetPolicy(allow_listen=True).source_target("udp://0.0.0.0:5000", {"fifo_size": "1"}) == (
        "udp://0.0.0.0:5000", {"fifo_size": "1"})


def test_webhook_targets_are_pinned_with_host_and_tls_name():
    p = NetPolicy.parse(["hooks.lan"], resolver=_names({"hooks.example": ["93.184.216.34"]}))
    assert p.webhook_target("https://hooks.example:8443/in?k=1") == (
        "https://93.184.216.34:8443/in?k=1", {"Host": "hooks.example:8443"}, {"sni_hostname": "hooks.example"})
    assert p.webhook_target("http://hooks.example/in") == ("http://93.184.216.34/in", {"Host": "hooks.example"}, {})
    assert p.webhook_target("http://hooks.lan/in") == ("http://hooks.lan/in", {}, {})
    with pytest.raises(TargetNotAllowed):
        p.webhook_target("http://169.254.169.254/latest/meta-data/")


def test_open_source_with_a_policy_refuses_before_connecting():
    policy = NetPolicy()
    with pytest.raises(TargetNotAllowed, match="--allow-listen"):
        open_source("tcp://127.0.0.1:9?listen=1", net_policy=policy, queue_size=0)
    with pytest.raises(TargetNotAllowed, match="loopback") as e:
        open_source("tcp://127.0.0.1:9", net_policy=policy, queue_size=0, reconnect_attempts=0)
    assert "gave up" not in str(e.value)  # refused on the only attempt, like a refused connection
