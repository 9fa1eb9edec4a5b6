"""Rules engine: load, validate, compile, chain, allocate, explain, render."""
