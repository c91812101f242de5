// Package watermillq adapts rivet-flow queues (package queues) to
// Watermill's message.Publisher and message.Subscriber, so that a Go service
// consumes a queue with Watermill's router and its middleware (Retry,
// PoisonQueueWithFilter, Throttle, CorrelationID, ...).
//
// Both sides work through a *queues.Manager, never through the NATS
// connection directly, so dead-lettering at maxDeliveries, receipts,
// attempts and backoff behave exactly as over HTTP; neither side ever closes
// the connection (Close only stops the adapter).
//
// # Topics and bodies
//
// A topic is a queue name; the queue must exist (queues.Manager.Put).
// A queue body is a JSON value and, by default, it is the message's payload
// unchanged: Publish fails with queues.ErrInvalid for a payload that is not
// JSON. The message UUID becomes the enqueue's dedup ID (PublisherConfig.DedupID
// changes or disables that). Queues carry no headers, so by default Watermill
// metadata is not carried across the queue; with Envelope set on both sides
// the body is instead
//
//	{"rivetflow_envelope":1,"uuid":"…","metadata":{…},"payload":<JSON>}
//
// (or "payloadBase64" for a payload that is not JSON), which keeps metadata
// such as the correlation ID end to end at the price of a body that other
// (HTTP) consumers must unwrap. A subscriber with Envelope set accepts plain
// bodies too.
//
// # Subscribing
//
// Subscribe claims in batches (SubscriberConfig.ClaimBatch) and keeps up to
// MaxInFlight messages in flight at once: the router runs a handler per
// message concurrently, so, unlike Watermill's usual "ack before the next
// message", a slow message does not hold back the others. Each in-flight
// message's lease is renewed with Extend every ackWait/3 (HeartbeatInterval)
// from its claim until its handler settles it, so a handler may run longer
// than the queue's ackWaitMs without being redelivered meanwhile.
// msg.Ack() acknowledges the delivery (the message leaves the queue);
// msg.Nack() — which the router does for a handler error — releases it for
// redelivery after the queue's backoffMs (or NackDelay): a handler error
// never loses a message. Metadata carries the delivery's attempt
// (MetadataAttempt, also Attempt(msg)), the queue's message ID
// (MetadataMessageID) and the queue (MetadataQueue). Without an envelope the
// message UUID is "<queue>/<message ID>", stable across redeliveries.
//
// Close (or the cancellation of Subscribe's context) stops claiming, nacks
// every message not yet settled so that it is redelivered at once, waits
// for the adapter's goroutines and closes the output channels. A handler
// still running then finds its message's context cancelled; its later
// Ack or Nack has no effect.
//
// # Retry, poison and dead letters
//
// Two layers can retry a failing message:
//
//   - in process, middleware.Retry runs the handler again within the same
//     delivery (its lease is renewed meanwhile); when it gives up, the error
//     reaches the router, which nacks;
//   - the queue redelivers a nacked message (attempt+1, after backoffMs)
//     until maxDeliveries, and the next claim moves it to the queue's dead
//     letters (listed, redriven and purged through queues.Manager or HTTP).
//
// So with Retry{MaxRetries: r} and maxDeliveries d a message that always
// fails runs (r+1)·d times and ends in the dead letters.
//
// Watermill's plain middleware.PoisonQueue turns every handler error into a
// publish to the poison topic and a nil error, so the original is acked:
// queue redelivery, maxDeliveries and the dead letters never happen. Use
// middleware.PoisonQueueWithFilter with IsPermanent instead: an error
// wrapped with Permanent goes to the poison topic at once (the original is
// acked), every other error is nacked and retried by the queue as above.
// The poison topic may itself be a queue, published to with this package's
// Publisher.
package watermillq
