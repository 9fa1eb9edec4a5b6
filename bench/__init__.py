"""signalwise benchmark suite: `python -m bench` from the repository root (see docs/performance.md)."""
