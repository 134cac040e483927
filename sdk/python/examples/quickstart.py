"""herald Python SDK quickstart: connect, create a policy, publish an event,
watch its delivery, and verify the signed webhook it delivers."""

import base64
import http.server
import os
import queue
import threading
import uuid

import herald
from herald import webhooks

ADDRESS = os.environ.get("HERALD_ADDRESS", "127.0.0.1:7070")
TOKEN = os.environ["HERALD_TOKEN"]  # e.g. export HERALD_TOKEN=$(cat var/admin.token)

# 1. A webhook endpoint, as your service runs it: verify the signature on the
#    raw body, then parse the body into a typed event.
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
received: "queue.Queue[webhooks.WebhookEvent]" = queue.Queue()


class Endpoint(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            webhooks.verify(body, self.headers, SECRET)  # forged or replayed: refused
        except webhooks.WebhookVerificationError as e:
            self.send_response(401)
            self.end_headers()
            print("refused a webhook:", e.reason)
            return
        received.put(webhooks.parse(body, self.headers["Content-Type"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


endpoint = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
threading.Thread(target=endpoint.serve_forever, daemon=True).start()
hook_url = f"http://127.0.0.1:{endpoint.server_port}/hook"

# 2. Connect.
with herald.Client(ADDRESS, token=TOKEN) as client:
    print("connected to heraldd", client.get_server_info().version)

    # 3. Create a policy: project 1's pushes go to the endpoint, signed.
    policy = client.create_policy(policy=herald.Policy(
        project_id=1,
        name=f"quickstart-{uuid.uuid4().hex[:8]}",
        event_types=["PUSH_ARTIFACT"],
        targets=[herald.Target(type=herald.TargetType.TARGET_TYPE_HTTP,
                               address=hook_url, signing_secret=SECRET)],
    ))
    print("created policy", policy.id, policy.name)

    # 4. Watch the policy's deliveries; the watch reconnects by itself.
    with client.watch_tasks(policy_id=policy.id, timeout=60) as watch:
        # 5. Publish an event, as a registry would. With a request_id the
        #    publish is idempotent, and retried if the server is unavailable.
        ack = client.publish_event(event=herald.Event(
            event_type="PUSH_ARTIFACT",
            project_id=1,
            operator="quickstart",
            repository=herald.Repository(namespace="library", name="busybox"),
            resources=[herald.Resource(
                digest="sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c",
                tag="latest")],
        ), request_id=str(uuid.uuid4()))
        print("published event", ack.event_id, "deliveries:", ack.deliveries_created)

        for update in watch:
            print("delivery", update.execution.execution_id,
                  herald.TaskStatus.Name(update.task.status))
            if update.task.final:
                break

    # 6. The endpoint got the webhook, verified it and parsed it.
    event = received.get(timeout=30)
    assert isinstance(event, webhooks.ArtifactEvent) and event.repository is not None
    print("verified webhook:", event.type, event.repository.repo_full_name,
          event.resources[0].tag, "by", event.operator)

    client.delete_policy(id=policy.id)

endpoint.shutdown()
