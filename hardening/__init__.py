"""harden: agentless audit and mitigation of reverse-shell exposure."""

__version__ = "0.1.0"
