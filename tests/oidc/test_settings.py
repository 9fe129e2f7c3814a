"""The sign-on settings: what they default to, and a clear line at start-up for each mistake (no database here)."""
from __future__ import annotations

import ipaddress

import pytest

from podium.config import AuthProxySettings, load_settings
from podium.errors import PodiumError

DISCOVERY = "https://login.uni.test/.well-known/openid-configuration"
OIDC = {"PODIUM_BASE_URL": "https://podium.uni.test", "PODIUM_OIDC_DISCOVERY_URL": DISCOVERY,
        "PODIUM_OIDC_CLIENT_ID": "podium", "PODIUM_OIDC_CLIENT_SECRET": "s3cret"}
VARIABLES = ("PODIUM_BASE_URL", "PODIUM_OIDC_DISCOVERY_URL", "PODIUM_OIDC_CLIENT_ID", "PODIUM_OIDC_CLIENT_SECRET",
             "PODIUM_OIDC_SCOPES", "PODIUM_OIDC_EMAIL_CLAIM", "PODIUM_OIDC_PROVIDER_NAME", "PODIUM_PASSWORD_SIGN_IN",
             "PODIUM_AUTH_HEADER", "PODIUM_AUTH_PROXY_ADDRESSES", "PODIUM_TRUST_PROXY", "PODIUM_CONTACT_EMAIL")


@pytest.fixture
def settings(monkeypatch, tmp_path):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def read(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return load_settings(data_dir=tmp_path, secret_key="k")

    return read


def test_nothing_set_means_passwords_only(settings):
    read = settings()
    assert read.oidc is None and read.auth_proxy is None and read.password_sign_in and read.contact_email is None


def test_openid_connect_with_its_defaults(settings):
    oidc = settings(**OIDC).oidc
    assert (oidc.discovery_url, oidc.client_id, oidc.client_secret) == (DISCOVERY, "podium", "s3cret")
    assert (oidc.scopes, oidc.email_claim, oidc.provider_name) == ("openid email profile", "email", "single sign-on")
    oidc = settings(**OIDC, PODIUM_OIDC_SCOPES="openid,email", PODIUM_OIDC_EMAIL_CLAIM="upn",
                    PODIUM_OIDC_PROVIDER_NAME="Uni Login").oidc
    assert (oidc.scopes, oidc.email_claim, oidc.provider_name) == ("openid email", "upn", "Uni Login")


@pytest.mark.parametrize("env, words", [
    ({**OIDC, "PODIUM_OIDC_DISCOVERY_URL": "http://login.uni.test/.well-known/openid-configuration"},
     "use https://"),
    ({**OIDC, "PODIUM_OIDC_DISCOVERY_URL": "login.uni.test"}, "an absolute https:// URL"),
    ({**OIDC, "PODIUM_OIDC_CLIENT_SECRET": ""}, "PODIUM_OIDC_CLIENT_SECRET is not"),
    ({**OIDC, "PODIUM_BASE_URL": ""}, "needs PODIUM_BASE_URL"),
    ({**OIDC, "PODIUM_OIDC_SCOPES": "email profile"}, "needs the scope openid"),
    ({"PODIUM_OIDC_CLIENT_ID": "podium"}, "PODIUM_OIDC_CLIENT_ID is set but PODIUM_OIDC_DISCOVERY_URL is not"),
    ({"PODIUM_PASSWORD_SIGN_IN": "off"}, "leaves no way to sign in"),
    ({"PODIUM_PASSWORD_SIGN_IN": "sometimes"}, "use on"),
    ({"PODIUM_AUTH_HEADER": "X-Forwarded-Email"}, "needs PODIUM_TRUST_PROXY"),
    ({"PODIUM_AUTH_HEADER": "X-Forwarded-Email", "PODIUM_TRUST_PROXY": "1", "PODIUM_AUTH_PROXY_ADDRESSES": "proxy"},
     "'proxy' is not an address"),
    ({"PODIUM_AUTH_HEADER": "Authorization", "PODIUM_TRUST_PROXY": "1"}, "name the header your proxy"),
    ({"PODIUM_CONTACT_EMAIL": "the office"}, "give one email address"),
])
def test_each_mistake_is_one_line_saying_what_to_set(settings, env, words):
    with pytest.raises(PodiumError) as refused:
        settings(**env)
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_passwords_off_with_a_way_in(settings):
    assert settings(**OIDC, PODIUM_PASSWORD_SIGN_IN="off").password_sign_in is False


def test_the_proxy_header_is_believed_from_the_proxies_addresses_only(settings):
    proxy = settings(PODIUM_AUTH_HEADER="X-Forwarded-Email", PODIUM_TRUST_PROXY="2").auth_proxy
    assert proxy.header == "X-Forwarded-Email"
    assert proxy.believes("127.0.0.1") and proxy.believes("::1")
    assert not proxy.believes("10.0.0.5") and not proxy.believes("") and not proxy.believes(None)
    # Two hops: the proxy that connects to Podium is the one named, not the client X-Forwarded-For names.
    proxy = settings(PODIUM_AUTH_PROXY_ADDRESSES="10.0.0.0/24, 192.0.2.7").auth_proxy
    assert proxy.believes("10.0.0.5") and proxy.believes("192.0.2.7")
    assert not proxy.believes("127.0.0.1") and not proxy.believes("192.0.2.8")
    assert AuthProxySettings("X", (ipaddress.ip_network("::1/128"),)).believes("::1")
