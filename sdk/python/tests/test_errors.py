"""Status codes and ErrorInfo reasons become typed exceptions."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

import herald
from herald import errors

from conftest import Heraldd, http_policy, make_token, push_event


def test_invalid_argument_has_field_violations(admin: herald.Client, project_id: int) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        admin.create_policy(policy={
            "project_id": project_id, "name": "",
            "event_types": ["PUSH_ARTIFACT", "NO_SUCH_EVENT"],
            "targets": [{"type": "TARGET_TYPE_HTTP", "address": "ftp://nope"}]})
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert err.reason == "INVALID_FIELD" and err.domain == "herald.dev"
    fields = {v.field for v in err.field_violations}
    assert "policy.name" in fields
    assert "policy.targets[0].address" in fields
    assert any(f.startswith("policy.event_types") for f in fields)
    assert all(v.description for v in err.field_violations)
    assert "policy.targets[0].address" in str(err)
    assert isinstance(err.__cause__, grpc.RpcError)


def test_not_found_carries_metadata(admin: herald.Client) -> None:
    with pytest.raises(errors.NotFound) as info:
        admin.get_policy(id=987654)
    assert info.value.reason == "NOT_FOUND"
    assert info.value.metadata.get("id") == "987654"
    assert info.value.metadata.get("resource")


def test_unauthenticated(server: Heraldd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERALD_TOKEN", raising=False)
    with herald.Client(server.address) as anonymous:
        with pytest.raises(errors.TokenMissing) as missing:
            anonymous.get_server_info()
    assert isinstance(missing.value, errors.Unauthenticated)
    assert missing.value.code == grpc.StatusCode.UNAUTHENTICATED
    with herald.Client(server.address, token="hld_not-a-real-token") as bad:
        with pytest.raises(errors.TokenInvalid) as invalid:
            bad.list_event_types()
    assert invalid.value.reason == "TOKEN_INVALID"
    # The token can come from HERALD_TOKEN.
    monkeypatch.setenv("HERALD_TOKEN", server.admin_token)
    with herald.Client(server.address) as from_env:
        assert from_env.get_server_info().caller.name == "bootstrap-admin"


def test_permission_denied_with_a_maintainer_token(server: Heraldd, admin: herald.Client,
                                                   project_id: int) -> None:
    policy = admin.create_policy(policy=http_policy(project_id, "maintained"))
    token = make_token(admin, "ROLE_MAINTAINER", [project_id])
    with herald.Client(server.address, token=token) as maintainer:
        # Maintainers read their projects' policies...
        assert maintainer.get_policy(id=policy.id).name == "maintained"
        assert [p.id for p in maintainer.list_policies(project_id=project_id)] == [policy.id]
        # ...but may not change them,
        with pytest.raises(errors.PermissionDenied) as role:
            maintainer.delete_policy(id=policy.id)
        assert isinstance(role.value, errors.RoleNotAllowed)
        assert role.value.reason == "ROLE_NOT_ALLOWED"
        # nor read other projects,
        with pytest.raises(errors.ProjectNotAllowed):
            list(maintainer.list_policies(project_id=project_id + 100000))
        # nor publish, nor manage tokens.
        with pytest.raises(errors.PermissionDenied):
            maintainer.publish_event(event=push_event(project_id))
        with pytest.raises(errors.PermissionDenied):
            list(maintainer.list_tokens())


def test_revoked_token_is_refused(server: Heraldd, admin: herald.Client) -> None:
    created = admin.create_token(token={"name": "short-lived", "role": "ROLE_PUBLISHER"})
    with herald.Client(server.address, token=created.secret) as publisher:
        assert publisher.get_server_info().caller.name == "short-lived"
        admin.revoke_token(id=created.token.id)
        admin.revoke_token(id=created.token.id)  # twice is fine
        with pytest.raises(errors.TokenInvalid):
            publisher.get_server_info()


def _any(msg: object) -> any_pb2.Any:
    a = any_pb2.Any()
    a.Pack(msg)  # type: ignore[arg-type]
    return a


def test_from_status_decodes_every_detail() -> None:
    status = status_pb2.Status(code=14, message="store down", details=[
        _any(error_details_pb2.ErrorInfo(reason="STORE_UNAVAILABLE", domain="herald.dev",
                                         metadata={"store": "sqlite"})),
        _any(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2))),
        _any(duration_pb2.Duration(seconds=1)),  # an unknown detail type: skipped
    ])
    err = errors.from_status(status)
    assert isinstance(err, errors.StoreUnavailable) and isinstance(err, errors.Unavailable)
    assert err.code == grpc.StatusCode.UNAVAILABLE
    assert err.metadata == {"store": "sqlite"} and err.retry_delay == 2.0
    assert len(err.details) == 2


def test_reasons_never_move_an_error_out_of_its_code() -> None:
    # A reason that belongs to another code keeps the code's class.
    err = errors.from_status(status_pb2.Status(code=5, details=[
        _any(error_details_pb2.ErrorInfo(reason="TOKEN_INVALID", domain="herald.dev"))]))
    assert type(err) is errors.NotFound and err.reason == "TOKEN_INVALID"
    # Reasons of other domains do not refine.
    other = errors.from_status(status_pb2.Status(code=16, details=[
        _any(error_details_pb2.ErrorInfo(reason="TOKEN_INVALID", domain="example.com"))]))
    assert type(other) is errors.Unauthenticated
    # Unknown codes and no details at all.
    assert type(errors.from_status(status_pb2.Status(code=99))) is errors.Unknown
    assert type(errors.from_status(status_pb2.Status(code=9))) is errors.FailedPrecondition


def test_client_side_errors_have_no_reason() -> None:
    with herald.Client("127.0.0.1:1", token="x", timeout=1, retry=herald.NO_RETRY) as client:
        with pytest.raises(errors.Unavailable) as info:
            client.get_server_info()
    assert info.value.reason == "" and info.value.status is None
