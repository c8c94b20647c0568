"""The runnable stages (frames, embed, index, track), the store, the demo and the CLI."""
