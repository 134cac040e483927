// Small shared helpers.
import { status } from "@grpc/grpc-js";

import { CancelledError } from "./errors.js";

type Builtin = Date | Function | Uint8Array | string | number | boolean | undefined;

/**
 * What methods accept for a request message: any subset of its fields,
 * nested messages included; unset fields take their proto3 defaults.
 */
export type Input<T> = T extends Builtin
  ? T
  : T extends Array<infer U>
    ? Array<Input<U>>
    : T extends ReadonlyArray<infer U>
      ? ReadonlyArray<Input<U>>
      : T extends {}
        ? { [K in keyof T]?: Input<T[K]> }
        : Partial<T>;

/** Resolves after ms, or rejects with CancelledError when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const abort = (): void => {
      clearTimeout(timer);
      reject(
        new CancelledError({ code: status.CANCELLED, message: "call cancelled by the caller", cause: signal?.reason }),
      );
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    if (signal) {
      if (signal.aborted) abort();
      else signal.addEventListener("abort", abort, { once: true });
    }
  });
}
