"""The engine: primitives and nodes, reverse mode, forward mode, functional transforms."""
