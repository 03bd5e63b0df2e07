/**
 * A failure whose message is safe to show to the client: it becomes the bencoded
 * `failure reason` over HTTP and the message of a UDP error packet. Any other error
 * is internal and reaches the client only as a generic message.
 *
 * @example
 * ```ts
 * throw new ClientError("unapproved torrent");
 * ```
 */
export class ClientError extends Error {
  override name = "ClientError";
}

/** True when `err` carries a message meant for the client. */
export function isClientError(err: unknown): err is ClientError {
  return err instanceof ClientError;
}
