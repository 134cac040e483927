"""PolicyService through herald.Client: CRUD, pagination, idempotent create."""

from __future__ import annotations

import pytest

import herald
from herald import errors
from herald.v1 import policy_service_pb2

from conftest import http_policy


def test_create_get_update_delete(admin: herald.Client, project_id: int) -> None:
    created = admin.create_policy(policy=herald.Policy(
        project_id=project_id, name="crud", description="first",
        event_types=["PUSH_ARTIFACT", "SCANNING_COMPLETED"],
        targets=[herald.Target(type=herald.TargetType.TARGET_TYPE_HTTP,
                               address="https://CI.example.com/hook",
                               auth_header="Bearer abc",
                               payload_format=herald.PayloadFormat.PAYLOAD_FORMAT_CLOUDEVENTS)],
        filters=herald.Filters(repository_patterns=["library/**"])))
    assert created.id > 0
    assert created.enabled and created.creator == "bootstrap-admin"
    assert created.targets[0].address == "https://ci.example.com/hook"  # normalised
    assert created.targets[0].has_auth_header and not created.targets[0].auth_header

    got = admin.get_policy(id=created.id)
    assert got == created

    updated = admin.update_policy(policy={"id": created.id, "enabled": False,
                                          "description": "second"},
                                  update_mask=["enabled", "description"])
    assert not updated.enabled and updated.description == "second"
    assert updated.name == "crud"
    # A request message works as well as keyword arguments.
    again = admin.get_policy(policy_service_pb2.GetPolicyRequest(id=created.id))
    assert again.description == "second"

    admin.delete_policy(id=created.id)
    with pytest.raises(errors.NotFound) as info:
        admin.get_policy(id=created.id)
    assert info.value.reason == "NOT_FOUND"


def test_request_and_keywords_are_exclusive(admin: herald.Client) -> None:
    with pytest.raises(TypeError):
        admin.get_policy(policy_service_pb2.GetPolicyRequest(id=1), id=2)


def test_create_with_request_id_is_idempotent(admin: herald.Client, project_id: int) -> None:
    first = admin.create_policy(policy=http_policy(project_id, "idem"), request_id="idem-1")
    second = admin.create_policy(policy=http_policy(project_id, "idem"), request_id="idem-1")
    assert first.id == second.id
    with pytest.raises(errors.AlreadyExists) as info:
        admin.create_policy(policy=http_policy(project_id, "idem"))
    assert isinstance(info.value, errors.NameTaken)


def test_list_policies_iterates_across_pages(admin: herald.Client, project_id: int) -> None:
    ids = [admin.create_policy(policy=http_policy(project_id, f"page-{i}")).id for i in range(7)]
    pager = admin.list_policies(project_id=project_id, page_size=3)
    listed = [p.id for p in pager]
    assert listed == sorted(ids, reverse=True)  # newest first, every page
    assert pager.total_size == 7
    pages = list(admin.list_policies(project_id=project_id, page_size=3).pages())
    assert [len(p.policies) for p in pages] == [3, 3, 1]
    assert pages[-1].next_page_token == ""
    # Filters pass through.
    assert [p.name for p in admin.list_policies(project_id=project_id,
                                                name_contains="page-6")] == ["page-6"]
    assert list(admin.list_policies(project_id=project_id, enabled=False)) == []
    # Starting from a page token.
    rest = [p.id for p in admin.list_policies(project_id=project_id, page_size=3,
                                              page_token=pages[0].next_page_token)]
    assert rest == listed[3:]


def test_list_event_types(admin: herald.Client) -> None:
    resp = admin.list_event_types()
    types = [t.event_type for t in resp.event_types]
    assert "PUSH_ARTIFACT" in types and "TAG_RETENTION" in types
    ce = {t.event_type: t.cloudevents_type for t in resp.event_types}
    assert ce["PUSH_ARTIFACT"] == "harbor.artifact.pushed"
    assert herald.TargetType.TARGET_TYPE_SLACK in resp.target_types
