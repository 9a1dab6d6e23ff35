"""The OAuth variant of the app manifest (several workspaces): the redirect URL Slack sends an installer back
to, on the server's URL, and org-wide installs allowed, in HTTP and in Socket Mode; everything else as
manifest.yml has it. Without a URL there is nowhere to send the installer, so it is refused."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.web.manifest import ManifestError, read_manifest, render_manifest
from tests.cli_run import run_cli


def rendered(**kwargs: Any) -> dict[str, Any]:
    return yaml.safe_load(render_manifest(read_manifest(), **kwargs))


def test_the_file_as_it_is_installs_in_one_workspace():
    plain = yaml.safe_load(read_manifest())
    assert plain["settings"]["org_deploy_enabled"] is False
    assert "redirect_urls" not in plain["oauth_config"]
    http = rendered(socket_mode=False, url="https://ladder.corp.example")
    assert http["settings"]["org_deploy_enabled"] is False and "redirect_urls" not in http["oauth_config"]


@pytest.mark.parametrize("socket_mode", [False, True])
def test_oauth_adds_the_redirect_url_and_org_wide_installs(socket_mode):
    plain = yaml.safe_load(read_manifest())
    manifest = rendered(socket_mode=socket_mode, url="https://ladder.corp.example/", oauth=True)
    assert manifest["oauth_config"]["redirect_urls"] == ["https://ladder.corp.example/slack/oauth_redirect"]
    assert manifest["oauth_config"]["scopes"] == plain["oauth_config"]["scopes"]
    assert manifest["settings"]["org_deploy_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is socket_mode
    # the events a workspace leaving sends are subscribed to, and those of an org admin taking workspaces out
    # of an org-wide install and back (Slack delivers them only when subscribed)
    leaving = {"app_uninstalled", "tokens_revoked", "team_access_revoked", "team_access_granted"}
    assert leaving <= set(manifest["settings"]["event_subscriptions"]["bot_events"])
    text = render_manifest(read_manifest(), socket_mode=socket_mode, url="https://ladder.corp.example", oauth=True)
    assert "SLACK_CLIENT_ID" in text.split("_metadata:")[0]  # the header says what to set


def test_oauth_without_a_url_is_refused():
    with pytest.raises(ManifestError, match="--oauth needs --url"):
        render_manifest(read_manifest(), socket_mode=True, url=None, oauth=True)
    with pytest.raises(ManifestError, match="https"):
        render_manifest(read_manifest(), socket_mode=False, url="http://ladder.corp.example", oauth=True)


def test_ladderbot_manifest_oauth_prints_it(monkeypatch, capsys):
    ran = run_cli(monkeypatch, capsys, "manifest", "--url", "https://ladder.corp.example", "--oauth")
    assert ran.code == 0
    manifest = yaml.safe_load(ran.stdout)
    assert manifest["oauth_config"]["redirect_urls"] == ["https://ladder.corp.example/slack/oauth_redirect"]
    assert manifest["settings"]["org_deploy_enabled"] is True
    refused = run_cli(monkeypatch, capsys, "manifest", "--socket", "--oauth")
    assert refused.code != 0 and "--oauth needs --url" in refused.stderr
