"""SSRF protection: private targets are refused at save time and at delivery (after DNS)."""

import pytest
from django.core.exceptions import ValidationError

from communications import delivery, netguard
from communications.models import Notification, WebhookEndpoint
from communications.services import emit
from tests.communications.factories import SECRET, WebhookEndpointFactory, make_subject

pytestmark = pytest.mark.django_db

PRIVATE = [
    "http://127.0.0.1/hook",
    "http://localhost:8080/hook",
    "http://api.localhost/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://2130706433/hook",  # 127.0.0.1 written as one number
    "http://0x7f.1/hook",
    "http://224.0.0.1/hook",
]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_and_loopback_targets_are_refused_at_save(url):
    endpoint = WebhookEndpoint(url=url, secret=SECRET, events=["incident.created"])
    with pytest.raises(ValidationError) as excinfo:
        endpoint.full_clean()
    assert "url" in excinfo.value.message_dict


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "https://user:pw@example.com/"])
def test_only_plain_http_urls_are_allowed(url):
    with pytest.raises(netguard.UnsafeURL):
        netguard.validate_target_url(url)


def test_public_addresses_pass(monkeypatch):
    monkeypatch.setattr(netguard, "resolve", lambda host, port, timeout=3.0: ["93.184.215.14"])
    assert netguard.safe_addresses("https://hooks.example.com/x") == ["93.184.215.14"]


def test_a_name_that_resolves_to_a_private_address_is_refused(monkeypatch):
    monkeypatch.setattr(netguard, "resolve", lambda host, port, timeout=3.0: ["93.184.215.14", "10.0.0.7"])
    with pytest.raises(netguard.UnsafeURL, match=r"10\.0\.0\.7"):
        netguard.safe_addresses("https://rebind.example.com/x")


def test_the_setting_allows_private_networks(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    netguard.validate_target_url("http://127.0.0.1:9000/hook")


def test_delivery_checks_again_after_dns_resolution(monkeypatch, no_default_rules):
    """Saved while the name looked public; at delivery it resolves to the metadata service."""
    WebhookEndpointFactory(url="https://innocent.example.com/hook", events=["incident.*"])
    row = emit("incident.created", make_subject(), {})[0]
    monkeypatch.setattr(netguard, "resolve", lambda host, port, timeout=3.0: ["169.254.169.254"])
    sent = []
    monkeypatch.setattr("httpx.Client.post", lambda *a, **kw: sent.append(a))
    delivery.deliver(row.pk)
    row = Notification.objects.get(pk=row.pk)
    assert row.status == "dead" and "SSRF" in row.last_error
    assert sent == []


def test_delivery_connects_to_the_checked_address(monkeypatch):
    """No second DNS lookup: the URL is pinned to the address that passed, Host and SNI kept."""
    from communications.channels import _pinned

    url, headers, extensions = _pinned("https://hooks.example.com:8443/a?b=1", ["93.184.215.14"])
    assert url == "https://93.184.215.14:8443/a?b=1"
    assert headers == {"Host": "hooks.example.com:8443"} and extensions == {"sni_hostname": "hooks.example.com"}
    url, headers, _ = _pinned("http://hooks.example.com/a", ["2606:2800:220:1::1"])
    assert url == "http://[2606:2800:220:1::1]/a" and headers == {"Host": "hooks.example.com"}
