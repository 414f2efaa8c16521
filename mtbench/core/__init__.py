"""The core every command stands on: records and their JSONL files, the bench layout, the one OpenAI-compatible
client with its rate limit, the one fan-out runner, conversation templates. It imports no command."""
