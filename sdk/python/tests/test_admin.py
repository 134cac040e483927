"""AdminService through herald.Client: settings, tokens, server info."""

from __future__ import annotations

from datetime import timedelta

import pytest

import herald
from herald import errors

from conftest import Heraldd, http_policy, push_event


def test_server_info(admin: herald.Client) -> None:
    info = admin.get_server_info()
    assert info.version and info.store_kind == "sqlite"
    assert info.caller.name == "bootstrap-admin"
    assert info.caller.role == herald.Role.ROLE_SYSTEM_ADMIN
    assert info.start_time.seconds > 0


def test_settings(own_server: Heraldd) -> None:
    with herald.Client(own_server.address, token=own_server.admin_token) as client:
        settings = client.get_settings()
        assert settings.notification_enable and settings.webhook_job_max_retry == 3
        assert settings.webhook_job_http_client_timeout.ToTimedelta() == timedelta(seconds=3)
        updated = client.update_settings(settings={"webhook_job_max_retry": 5},
                                         update_mask=["webhook_job_max_retry"])
        assert updated.webhook_job_max_retry == 5 and updated.notification_enable
        off = client.update_settings(settings=herald.Settings(notification_enable=False),
                                     update_mask="notification_enable")
        assert not off.notification_enable
        assert client.get_settings().webhook_job_max_retry == 5
        # Notifications off: events are acknowledged and dropped.
        client.create_policy(policy=http_policy(1, "dropped"))
        assert client.publish_event(event=push_event(1)).dropped
        with pytest.raises(errors.InvalidArgument) as info:
            client.update_settings(settings={"webhook_job_max_retry": 1000})
        assert info.value.field_violations


def test_tokens(server: Heraldd, admin: herald.Client) -> None:
    created = [admin.create_token(token=herald.Token(name=f"tok-page-{i}",
                                                     role=herald.Role.ROLE_PUBLISHER,
                                                     project_ids=[7]))
               for i in range(4)]
    assert all(c.secret for c in created)
    names = [t.name for t in admin.list_tokens(page_size=2)]
    assert [n for n in names if n.startswith("tok-page-")] == [f"tok-page-{i}" for i in range(4)]
    assert names[0] == "bootstrap-admin"  # oldest first
    admin.revoke_token(id=created[0].token.id)
    live = {t.name for t in admin.list_tokens()}
    assert "tok-page-0" not in live
    revoked = [t for t in admin.list_tokens(show_revoked=True) if t.name == "tok-page-0"]
    assert revoked and revoked[0].revoked
    with herald.Client(server.address, token=created[1].secret) as publisher:
        me = publisher.get_server_info().caller
        assert me.name == "tok-page-1" and list(me.project_ids) == [7]
    with pytest.raises(errors.InvalidArgument):
        admin.create_token(token={"name": "no-role"})
