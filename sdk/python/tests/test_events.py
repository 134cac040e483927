"""EventService through herald.Client: publish one, publish a stream."""

from __future__ import annotations

from typing import Any, Dict, List, Union

import herald
from herald import errors
from herald.v1 import event_service_pb2

from conftest import http_policy, push_event


def test_publish_event(admin: herald.Client, project_id: int) -> None:
    admin.create_policy(policy=http_policy(project_id, "publish"))
    ack = admin.publish_event(event=push_event(project_id), request_id=f"pub-{project_id}")
    assert ack.event_id > 0 and ack.deliveries_created == 1 and not ack.duplicate
    again = admin.publish_event(event=push_event(project_id), request_id=f"pub-{project_id}")
    assert again.event_id == ack.event_id and again.duplicate
    # A message instead of a dict, and a request message instead of keywords.
    event = herald.Event(event_type="PULL_ARTIFACT", project_id=project_id,
                         repository=herald.Repository(namespace="library", name="busybox"),
                         resources=[herald.Resource(digest="sha256:" + "a" * 64)])
    pulled = admin.publish_event(event_service_pb2.PublishEventRequest(event=event))
    assert pulled.event_id > ack.event_id and pulled.deliveries_created == 0


def test_publish_events_stream(admin: herald.Client, project_id: int) -> None:
    admin.create_policy(policy=http_policy(project_id, "stream"))
    bad = dict(push_event(project_id))
    bad["resources"] = [{"tag": "no-digest"}]
    items: List[Union[event_service_pb2.PublishEventsRequest, herald.Event, Dict[str, Any]]] = [
             push_event(project_id, "a"),
             event_service_pb2.PublishEventsRequest(event=herald.Event(**push_event(project_id, "b")),
                                                    request_id=f"s-{project_id}"),
             bad,
             herald.Event(**push_event(project_id, "c"))]
    results = list(admin.publish_events(items))
    assert [r.sequence for r in results] == [1, 2, 3, 4]
    assert [r.ok for r in results] == [True, True, False, True]
    assert results[1].request_id == f"s-{project_id}"
    err = results[2].error
    assert isinstance(err, errors.InvalidArgument)
    assert any("resources[0].digest" in v.field for v in err.field_violations)
    ids = [r.ack.event_id for r in results if r.ack is not None]
    assert ids == sorted(ids) and len(ids) == 3
    assert all(r.ack.deliveries_created == 1 for r in results if r.ack is not None)


def test_publish_events_stream_error_is_typed(server: object, project_id: int) -> None:
    from conftest import Heraldd
    assert isinstance(server, Heraldd)
    with herald.Client(server.address, token="hld_wrong") as client:
        try:
            list(client.publish_events([push_event(project_id)]))
        except errors.Unauthenticated as e:
            assert e.reason == "TOKEN_INVALID"
        else:
            raise AssertionError("a bad token must end the stream")
