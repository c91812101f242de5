// Package queues runs named, durable work queues on the node's JetStream:
// one stream per queue (work-queue retention, so an acknowledged message is
// gone), one durable pull consumer that leases messages to workers, and a
// second stream per queue for its dead letters.
//
// A message is enqueued, claimed under a lease (the queue's ackWaitMs),
// then acknowledged, released (nack, with an optional delay) or its lease
// extended. A claim returns each message with a receipt: an opaque token
// that names the delivery, and the only way to settle it. A message claimed
// more than maxDeliveries times moves to the dead letters on the next claim
// that meets it, with the reason and its attempt count; dead letters are
// listed, redriven into the queue (optionally with an edited body) or purged.
//
// A queue's configuration lives in its stream's metadata, so it survives a
// restart with the stream itself, and the Manager never owns the NATS
// connection it is given.
package queues
