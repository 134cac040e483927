import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import {
  HeraldClient,
  PayloadFormat,
  TargetType,
  TaskStatus,
  WatchStart,
  type Task,
} from "@herald/client";
import { verifyAndParse, type WebhookEvent } from "@herald/client/webhooks";

// Where heraldd listens and a token allowed to create policies and publish
// (`make run` writes the system admin's to var/admin.token).
const address = process.env.HERALD_ADDRESS ?? "127.0.0.1:7070";
const token = process.env.HERALD_TOKEN ?? readFileSync("var/admin.token", "utf8").trim();

// 1. A webhook endpoint. herald signs every delivery with the target's
//    secret (Standard Webhooks); verify before trusting the body.
const secret = `whsec_${randomBytes(32).toString("base64")}`;
let onEvent: (e: WebhookEvent) => void = () => {};
const received = new Promise<WebhookEvent>((resolve) => (onEvent = resolve));
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    try {
      const { id, event } = verifyAndParse(Buffer.concat(chunks), req.headers, secret);
      console.log(`received webhook ${id}: ${event.type} (${event.format})`);
      res.writeHead(204).end();
      onEvent(event);
    } catch (err) {
      console.error(`refused a webhook: ${String(err)}`);
      res.writeHead(400).end();
    }
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

// 2. Connect (use `tls: { rootCerts }` instead of `insecure` for TLS).
const client = new HeraldClient({ address, token, insecure: true });
const info = await client.getServerInfo();
console.log(`connected to heraldd ${info.version} as ${info.caller?.name}`);

// 3. Create a policy: push events of project 1 go to the endpoint, as
//    CloudEvents, signed. The requestId makes the call safe to retry.
const name = `quickstart-${Date.now()}`;
const policy = await client.createPolicy({
  requestId: name,
  policy: {
    projectId: 1,
    name,
    eventTypes: ["PUSH_ARTIFACT"],
    targets: [
      {
        type: TargetType.TARGET_TYPE_HTTP,
        address: hookUrl,
        payloadFormat: PayloadFormat.PAYLOAD_FORMAT_CLOUDEVENTS,
        signingSecret: secret,
      },
    ],
  },
});
console.log(`created policy ${policy.id} (${policy.name})`);

// 4. Watch the policy's deliveries live: first the current state, then
//    every change. The watch resumes by itself after a disconnect.
async function delivered(policyId: number): Promise<Task> {
  const watch = client.watchTasks({ policyId, start: WatchStart.WATCH_START_SNAPSHOT });
  for await (const { task } of watch) {
    console.log(`task ${task!.id}: ${TaskStatus[task!.status]}`);
    if (task!.final) return task!;
  }
  throw new Error("watch ended");
}
const delivery = delivered(policy.id);

// 5. Publish an event, as a registry would. The acknowledgement means the
//    event and its deliveries are durable.
const ack = await client.publishEvent({
  requestId: `${name}-push-1`,
  event: {
    eventType: "PUSH_ARTIFACT",
    projectId: 1,
    operator: "quickstart",
    repository: { namespace: "library", name: "busybox", repoType: "public" },
    resources: [
      { digest: "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c", tag: "latest" },
    ],
  },
});
console.log(`published event ${ack.eventId}: ${ack.deliveriesCreated} delivery`);

// 6. The endpoint verified and parsed the webhook; the task is done.
const event = await received;
if (event.type === "PUSH_ARTIFACT") {
  console.log(`pushed ${event.data.repository.repo_full_name}:${event.data.resources[0]?.tag}`);
}
const task = await delivery;
console.log(`delivery ${TaskStatus[task.status]}`);
console.log(await client.getTaskLog(task.id));

client.close();
receiver.close();
