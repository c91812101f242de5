// Package agent is the model layer of the AI-agent example (examples/agents):
// the pieces an agent needs that have nothing to do with durability, so they
// can be built and tested on their own.
//
//   - [Model] is the one interface the agent talks to: [Model.Complete] answers
//     a [ChatRequest], streaming each piece of text through a delta callback.
//     Two implementations: [Local], deterministic and offline (the default, so
//     the example and its tests need no network or key), and [OpenAI], a
//     client for any OpenAI-compatible chat-completions endpoint, configured
//     from the environment by [OpenAIFromEnv].
//   - The two requests the agent sends are built by [PlanRequest] (answer: a
//     JSON object of tool calls, read back with [ParsePlan]) and
//     [SummaryRequest] (answer: prose over the [ToolResult]s). [Local]
//     recognises exactly these two shapes, by their system prompts
//     [PlanPrompt] and [SummaryPrompt]; a hosted model reads the same text as
//     instructions.
//   - The tools the plan may call ([Calc], [WordCount], [Lookup], dispatched
//     by [RunTool] from a [ToolCall]) are deterministic and local.
//   - Errors are classified for a caller that retries: [*HTTPError] (429 and
//     5xx retryable, with the server's Retry-After), [ErrTimeout],
//     [ErrIncompleteStream] and transport errors are retryable;
//     [ErrMalformedStream], other HTTP statuses and [ErrToolInput] are not.
//     [Retryable] and [RetryDelay] answer both questions. The OpenAI client
//     never retries by itself: the workflow step that calls it does, so every
//     attempt is journaled.
//
// [Workflow] strings these together as the durable workflow "agent" (plan,
// call the tools in parallel, wait for a human approval signal, summarize
// while streaming tokens); see README.md and docs/design/workflows.md §7.
package agent
